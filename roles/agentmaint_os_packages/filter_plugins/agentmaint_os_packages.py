"""Filters of the agentmaint_os_packages role: what apt and dnf report, as the tasks need it.

Role-local (Ansible loads ``filter_plugins/`` of a role it runs), so the filter names carry
the role's prefix: once loaded they are visible to the whole play. The functions take and
return plain data (command output lines, the plan and record entries ``{name, before,
after}``), so ``tests/unit/test_role_filters_os_packages.py`` checks them without Ansible.

Versions are compared as the strings the package managers print, never ordered: apt's are
``[EPOCH:]UPSTREAM[-REVISION]`` (``~`` sorts before anything, ``:`` only after an epoch),
dnf's ``[EPOCH:]VERSION-RELEASE`` without the epoch when it is 0. Lists come out sorted by
package name ignoring case, as Jinja's ``sort`` did in the tasks these filters replace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# "Inst NAME [OLD] (NEW ...)" upgrades, "Inst NAME (NEW ...)" installs, "Remv NAME [OLD]"
# removes; "Conf" lines repeat an "Inst" and are not matched.
_APT_STEP = re.compile(r"^(?:Inst|Remv) (\S+)(?: \[([^\]]+)\])?(?: \((\S+))?")
# dpkg-query's "${binary:Package}\t${Version}\t${db:Status-Status}": "not-installed",
# "config-files" and the half-done states are not installed versions.
_DPKG_INSTALLED = re.compile(r"\tinstalled$")
# apt-cache madison's "NAME | VERSION | SOURCE" (padded with spaces).
_MADISON = re.compile(r"^\s*(\S+)\s*\|\s*(\S+)\s*\|.*$")
# dpkg's ":ARCH" after a package name, which madison leaves out.
_ARCH_SUFFIX = re.compile(r":[^:]+$")
# dnf check-update's "NAME.ARCH  VERSION  REPOSITORY".
_DNF_STEP = re.compile(r"^(\S+\.\S+)\s+(\S+)\s+\S+$")
# rpm's %{EPOCHNUM} is 0 for a package without epoch; dnf leaves that epoch out.
_EPOCH_ZERO = re.compile(r"^0:")
# apt-get indextargets fields, in the order of the role's --format.
_INDEXTARGET_FIELDS = 10

Step = dict[str, str | None]


def _by_name(value: str) -> str:
    return value.lower()


def _unique(values: Iterable[str]) -> list[str]:
    """``values`` without repeats, sorted ignoring case (ties in the order given)."""
    return sorted(dict.fromkeys(values), key=_by_name)


def _split_name_arch(name: str) -> tuple[str, str]:
    base, dot, arch = name.rpartition(".")
    if not dot or not base or not arch:
        raise ValueError(f"not a NAME.ARCH package name: {name!r}")
    return base, arch


def apt_security_sources(lines: Iterable[str], pattern: str) -> list[str]:
    """The ``sources.list`` lines of the apt sources whose name matches ``pattern``.

    ``lines`` are ``apt-get indextargets`` output in the role's format,
    ``TARGET_OF|IDENTIFIER|REPO_URI|RELEASE|COMPONENT|ARCHITECTURE|TRUSTED|SUITE|CODENAME|LABEL``.
    Only binary package indexes (``deb``, ``Packages``) count; a source matches when
    ``pattern`` (a Python regular expression, case ignored) is found in its release (the
    suite as the source names it), Release-file suite, codename or label. One line per
    ``REPO_URI RELEASE``, with the components and architectures apt fetched for it
    (``arch=`` only for real architectures) and ``trusted=yes`` when apt trusts every one
    of its indexes; lines sorted by source.
    """
    search = re.compile(pattern, re.IGNORECASE)
    sources: dict[str, list[list[str]]] = {}
    for line in lines:
        field = line.split("|")
        if len(field) != _INDEXTARGET_FIELDS or field[0] != "deb" or field[1] != "Packages":
            continue
        if not search.search(" ".join([field[3], field[7], field[8], field[9]])):
            continue
        sources.setdefault(f"{field[2]} {field[3]}", []).append(field)
    result: list[str] = []
    for source in sorted(sources, key=_by_name):
        targets = sources[source]
        archs = _unique(field[5] for field in targets if field[5] not in ("all", ""))
        options = [f"arch={','.join(archs)}"] if archs else []
        if all(field[6] == "yes" for field in targets):
            options.append("trusted=yes")
        components = _unique(field[4] for field in targets if field[4])
        words = ["deb", *([f"[{' '.join(options)}]"] if options else []), source, *components]
        result.append(" ".join(words))
    return result


def dpkg_versions(lines: Iterable[str]) -> dict[str, str]:
    r"""Package -> installed version, from ``dpkg-query --show`` lines.

    Each line is ``${binary:Package}\t${Version}\t${db:Status-Status}`` (the package is
    ``NAME:ARCH`` when dpkg needs the architecture to tell it apart). Packages in any state
    but ``installed`` (removed with their configuration kept, half-installed ...) are left
    out; a line that lists a package in another form is an error.
    """
    versions: dict[str, str] = {}
    for line in lines:
        if not _DPKG_INSTALLED.search(line):
            continue
        fields = _DPKG_INSTALLED.sub("", line).split()
        if len(fields) != 2:
            raise ValueError(f"not a 'package<TAB>version<TAB>installed' line: {line!r}")
        versions[fields[0]] = fields[1]
    return versions


def apt_plan(lines: Iterable[str]) -> list[Step]:
    """The packages ``apt-get --simulate`` would change: ``{name, before, after}``.

    ``before`` is None for a package the upgrade installs, ``after`` None for one it
    removes. Sorted by name.
    """
    plan: list[Step] = []
    for line in lines:
        step = _APT_STEP.search(line)
        if step:
            plan.append({"name": step[1], "before": step[2], "after": step[3]})
    return sorted(plan, key=lambda step: _by_name(str(step["name"])))


def apt_restore(
    undo: Iterable[Mapping[str, Any]], *, installed: Mapping[str, str]
) -> list[dict[str, str]]:
    """The recorded previous versions that are not installed now: ``{name, version, spec}``.

    ``undo`` is the upgrade's record (``{name, before, after}``); ``installed`` what
    ``dpkg_versions`` read now. A package the upgrade newly installed (no ``before``) stays.
    ``spec`` is ``NAME=VERSION``, as ``apt-get install`` takes it. In the order of ``undo``.
    """
    return [
        {"name": package["name"], "version": before, "spec": f"{package['name']}={before}"}
        for package in undo
        if (before := package.get("before")) and installed.get(package["name"]) != before
    ]


def apt_missing(restore: Iterable[Mapping[str, str]], madison: Iterable[str]) -> list[str]:
    """The ``spec`` of each version to reinstall that no repository offers.

    ``restore`` is ``apt_restore``'s result, ``madison`` the lines of ``apt-cache madison``
    for its packages: it names a package without the ``:ARCH`` that dpkg may add.
    """
    offered = {_MADISON.sub(r"\1=\2", line) for line in madison}
    return [
        package["spec"]
        for package in restore
        if f"{_ARCH_SUFFIX.sub('', package['name'])}={package['version']}" not in offered
    ]


def rpm_versions(lines: Iterable[str]) -> dict[str, str]:
    r"""``NAME.ARCH`` -> installed versions, from ``rpm --query --all`` lines.

    Each line is ``%{NAME}.%{ARCH}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}``; an epoch of 0 is
    dropped, as dnf prints versions. A package installed in several versions (installonly
    packages such as kernel) gets them all, separated by spaces, in the order of their sorted
    lines. rpm's keys (``gpg-pubkey``) are not packages and are left out; blank lines are
    ignored, and a line without a version is an error.
    """
    versions: dict[str, str] = {}
    packages = [line for line in lines if line.strip() and not line.startswith("gpg-pubkey.")]
    for line in sorted(packages, key=_by_name):
        field = line.split()
        if len(field) < 2:
            raise ValueError(f"not a 'NAME.ARCH<TAB>EPOCH:VERSION-RELEASE' line: {line!r}")
        version = _EPOCH_ZERO.sub("", field[1])
        versions[field[0]] = f"{versions[field[0]]} {version}" if field[0] in versions else version
    return versions


def dnf_plan(lines: Iterable[str], *, installed: Mapping[str, str]) -> list[Step]:
    """The packages ``dnf check-update`` lists as upgradable: ``{name, before, after}``.

    ``lines`` are its output (``NAME.ARCH  VERSION  REPOSITORY``; the ``Obsoleting
    Packages`` section after them repeats packages and is not read); ``installed`` is what
    ``rpm_versions`` read before the upgrade, for ``before`` (None when not installed).
    ``after`` has no epoch of 0. Sorted by name.
    """
    plan: list[Step] = []
    for line in lines:
        if line.startswith("Obsoleting"):
            break
        step = _DNF_STEP.search(line)
        if step:
            plan.append(
                {
                    "name": step[1],
                    "before": installed.get(step[1]),
                    "after": _EPOCH_ZERO.sub("", step[2]),
                }
            )
    return sorted(plan, key=lambda step: _by_name(str(step["name"])))


def dnf_restore(
    undo: Iterable[Mapping[str, Any]], *, installed: Mapping[str, str]
) -> list[dict[str, str]]:
    """The recorded previous versions that are not installed now: ``{name, version, spec}``.

    ``undo`` is the upgrade's record (``{name, before, after}``, name ``NAME.ARCH``, before
    one or more versions separated by spaces); ``installed`` what ``rpm_versions`` read now.
    An installonly package keeps its old versions, so only those gone are listed; a package
    the upgrade newly installed (no ``before``) stays. ``spec`` is
    ``NAME-[EPOCH:]VERSION-RELEASE.ARCH``, as dnf takes it. In the order of ``undo``.
    """
    restore: list[dict[str, str]] = []
    for package in undo:
        before = package.get("before")
        if not before:
            continue
        name, arch = _split_name_arch(package["name"])
        now = installed[package["name"]].split(" ") if package["name"] in installed else []
        restore.extend(
            {"name": package["name"], "version": version, "spec": f"{name}-{version}.{arch}"}
            for version in before.split(" ")
            if version not in now
        )
    return restore


def dnf_missing(restore: Iterable[Mapping[str, str]], repoquery: str) -> list[str]:
    """The ``spec`` of each version to reinstall that no repository offers.

    ``restore`` is ``dnf_restore``'s result, ``repoquery`` the output of ``dnf repoquery
    --available --queryformat '%{name}-%{evr}.%{arch} '`` for its specs: one
    ``NAME-[EPOCH:]VERSION-RELEASE.ARCH`` per available version, separated by whitespace
    (dnf 4 ends each with a newline, dnf 5 does not), an epoch of 0 shown or not.
    """
    offered = {word.replace("-0:", "-") for word in repoquery.split()}
    return [package["spec"] for package in restore if package["spec"] not in offered]


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[Step]:
    """The packages whose version differs between two snapshots: ``{name, before, after}``.

    The snapshots map package -> version (``dpkg_versions``, ``rpm_versions``); ``before``
    is None for a package only in ``after`` (installed), ``after`` None for one only in
    ``before`` (removed). Sorted by name. Names that differ only in case are different
    packages (rpm's are case-sensitive), each with its own entry.
    """
    names = _unique([*before, *after])
    return [
        {"name": name, "before": before.get(name), "after": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    ]


def report_lines(changed: Iterable[Mapping[str, Any]]) -> list[str]:
    """One ``NAME: BEFORE -> AFTER`` line per change, for the role's report."""
    return [
        f"{package['name']}: {package.get('before') or '(not installed)'}"
        f" -> {package.get('after') or '(removed)'}"
        for package in changed
    ]


class FilterModule:
    """The role's filters, by the names the tasks use."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Filter name -> function, as Ansible's filter plugin loader expects."""
        return {
            "agentmaint_os_packages_apt_security_sources": apt_security_sources,
            "agentmaint_os_packages_dpkg_versions": dpkg_versions,
            "agentmaint_os_packages_apt_plan": apt_plan,
            "agentmaint_os_packages_apt_restore": apt_restore,
            "agentmaint_os_packages_apt_missing": apt_missing,
            "agentmaint_os_packages_rpm_versions": rpm_versions,
            "agentmaint_os_packages_dnf_plan": dnf_plan,
            "agentmaint_os_packages_dnf_restore": dnf_restore,
            "agentmaint_os_packages_dnf_missing": dnf_missing,
            "agentmaint_os_packages_changes": changes,
            "agentmaint_os_packages_report_lines": report_lines,
        }
