"""The agentmaint_os_packages role's filter plugin, on the output apt, dpkg, dnf and rpm print.

The molecule scenario runs the apt path on real hosts; the dnf path has no live test, so
the dnf and rpm filters are checked here with the formats the role's commands ask for
(``rpm --queryformat``, ``dnf check-update``, ``dnf repoquery --queryformat``), dnf 4's and
dnf 5's where they differ. The plugin file is loaded by path, as Ansible loads it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "agentmaint_os_packages"


def _load() -> ModuleType:
    path = ROLE / "filter_plugins" / "agentmaint_os_packages.py"
    spec = importlib.util.spec_from_file_location("_filter_agentmaint_os_packages", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pkg = _load()


def _set_fact_values(node: Any) -> list[str]:
    """Every string under a set_fact task and its vars, in a parsed tasks file."""
    found: list[str] = []
    if isinstance(node, dict):
        if "ansible.builtin.set_fact" in node:
            found.extend(_strings([node["ansible.builtin.set_fact"], node.get("vars", {})]))
        for value in node.values():
            found.extend(_set_fact_values(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_set_fact_values(value))
    return found


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return []


def test_no_fact_of_the_role_is_computed_with_a_jinja_statement() -> None:
    values = [
        value
        for tasks in sorted((ROLE / "tasks").glob("*.yml"))
        for value in _set_fact_values(yaml.safe_load(tasks.read_text()))
    ]
    assert any("agentmaint_os_packages_dnf_plan" in value for value in values)
    assert [value for value in values if "{%" in value] == []


# --- apt: security sources ----------------------------------------------------------------

# apt-get indextargets --format
# $(TARGET_OF)|$(IDENTIFIER)|$(REPO_URI)|$(RELEASE)|$(COMPONENT)|$(ARCHITECTURE)|$(TRUSTED)|
# $(SUITE)|$(CODENAME)|$(LABEL), on a Debian 12 host with i386 added, deb-src enabled and a
# local flat repository.
DEBIAN_TARGETS = [
    "deb|Packages|http://deb.debian.org/debian/|bookworm|main|amd64|no|oldstable|bookworm|Debian",
    "deb|Translations|http://deb.debian.org/debian/|bookworm|main||no|oldstable|bookworm|Debian",
    "deb|Packages|http://deb.debian.org/debian-security/|bookworm-security|main|amd64|no"
    "|oldstable-security|bookworm-security|Debian-Security",
    "deb|Packages|http://deb.debian.org/debian-security/|bookworm-security|main|i386|no"
    "|oldstable-security|bookworm-security|Debian-Security",
    "deb|Packages|http://deb.debian.org/debian-security/|bookworm-security|non-free-firmware"
    "|amd64|no|oldstable-security|bookworm-security|Debian-Security",
    "deb|Packages|http://deb.debian.org/debian-security/|bookworm-security|main|all|no"
    "|oldstable-security|bookworm-security|Debian-Security",
    "deb|Translations|http://deb.debian.org/debian-security/|bookworm-security|main||no"
    "|oldstable-security|bookworm-security|Debian-Security",
    "deb|Contents-deb|http://deb.debian.org/debian-security/|bookworm-security|main|amd64|no"
    "|oldstable-security|bookworm-security|Debian-Security",
    "deb-src|Sources|http://deb.debian.org/debian-security/|bookworm-security|main|source|no"
    "|oldstable-security|bookworm-security|Debian-Security",
]


def test_security_sources_of_debian_keep_components_and_architectures() -> None:
    assert pkg.apt_security_sources(DEBIAN_TARGETS, "security") == [
        "deb [arch=amd64,i386] http://deb.debian.org/debian-security/ bookworm-security"
        " main non-free-firmware"
    ]


def test_security_sources_of_ubuntu_and_a_trusted_local_repository() -> None:
    targets = [
        "deb|Packages|http://archive.ubuntu.com/ubuntu/|jammy|main|amd64|no|jammy|jammy|Ubuntu",
        "deb|Packages|http://security.ubuntu.com/ubuntu/|jammy-security|universe|amd64|no"
        "|jammy-security|jammy|Ubuntu",
        "deb|Packages|http://security.ubuntu.com/ubuntu/|jammy-security|main|amd64|no"
        "|jammy-security|jammy|Ubuntu",
        # A repository without Release file fields, trusted by the host ([trusted=yes]).
        "deb|Packages|file:/srv/agentmaint-demo/debian-security/|bookworm-security|main|amd64"
        "|yes|||",
        "deb|Packages|file:/srv/agentmaint-demo/debian/|bookworm|main|amd64|yes|||",
    ]
    # Sorted by source; trusted=yes only where apt trusts the source.
    assert pkg.apt_security_sources(targets, "security") == [
        "deb [arch=amd64 trusted=yes] file:/srv/agentmaint-demo/debian-security/"
        " bookworm-security main",
        "deb [arch=amd64] http://security.ubuntu.com/ubuntu/ jammy-security main universe",
    ]


def test_security_sources_are_trusted_only_when_every_index_is() -> None:
    targets = [
        "deb|Packages|http://mirror/sec/|stable-security|main|amd64|yes|||",
        "deb|Packages|http://mirror/sec/|stable-security|contrib|amd64|no|||",
    ]
    assert pkg.apt_security_sources(targets, "security") == [
        "deb [arch=amd64] http://mirror/sec/ stable-security contrib main"
    ]


def test_security_sources_match_suite_codename_or_label_ignoring_case() -> None:
    targets = [
        # Matched by the label only: a mirror that names its suite "updates".
        "deb|Packages|http://mirror/a/|updates|main|amd64|no|updates|bookworm|Debian-SECURITY",
        # Matched by the Release file's suite.
        "deb|Packages|http://mirror/b/|b|main|amd64|no|stable-security|bookworm|Mirror",
        # Matched by the codename.
        "deb|Packages|http://mirror/c/|c|main|amd64|no|stable|security-bookworm|Mirror",
        "deb|Packages|http://mirror/d/|bookworm|main|amd64|no|stable|bookworm|Debian",
    ]
    sources = pkg.apt_security_sources(targets, "Security")
    assert [line.split()[2] for line in sources] == [
        "http://mirror/a/",
        "http://mirror/b/",
        "http://mirror/c/",
    ]


def test_security_sources_pattern_is_a_regular_expression() -> None:
    targets = [
        "deb|Packages|http://m/|jammy-security|main|amd64|no|jammy-security|jammy|Ubuntu",
        "deb|Packages|http://m/|bookworm-security|main|amd64|no|bookworm-security|bookworm|D",
    ]
    assert pkg.apt_security_sources(targets, r"^jammy-") == [
        "deb [arch=amd64] http://m/ jammy-security main"
    ]


def test_security_sources_leave_out_architecture_all_and_empty_components() -> None:
    targets = [
        "deb|Packages|http://m/sec/|./|||yes|||Security",
        "deb|Packages|http://m/sec/|./||all|yes|||Security",
    ]
    assert pkg.apt_security_sources(targets, "security") == ["deb [trusted=yes] http://m/sec/ ./"]
    untrusted = [line.replace("|yes|", "|no|") for line in targets]
    assert pkg.apt_security_sources(untrusted, "security") == ["deb http://m/sec/ ./"]


def test_security_sources_skip_lines_of_another_shape() -> None:
    targets = [
        "",
        "deb|Packages|http://m/|stable-security|main|amd64|no|stable-security",
        # A "|" in a field makes an eleventh field: not read rather than misread.
        "deb|Packages|http://m/a|b/|stable-security|main|amd64|no|x|y|Security",
    ]
    assert pkg.apt_security_sources(targets, "security") == []


def test_security_sources_of_nothing_matching_are_empty() -> None:
    assert pkg.apt_security_sources([], "security") == []
    assert pkg.apt_security_sources(DEBIAN_TARGETS, "no-such-suite") == []


# --- apt: dpkg-query snapshots ------------------------------------------------------------

# dpkg-query --show --showformat '${binary:Package}\t${Version}\t${db:Status-Status}\n'
DPKG = [
    "adduser\t3.134\tinstalled",
    "firefox-esr\t115.9.1esr-1~deb12u1\tinstalled",
    "libc6:amd64\t2.36-9+deb12u4\tinstalled",
    "libc6:i386\t2.36-9+deb12u4\tinstalled",
    "openssh-client\t1:9.2p1-2+deb12u2\tinstalled",
    "removed-conf\t1.0-1\tconfig-files",
    "unpacked-only\t2.0-1\tunpacked",
    "half\t3.0-1\thalf-configured",
    "known\t\tnot-installed",
    "pending\t1.2-1\ttriggers-pending",
]


def test_dpkg_versions_keep_installed_packages_with_epochs_tildes_and_architectures() -> None:
    assert pkg.dpkg_versions(DPKG) == {
        "adduser": "3.134",
        "firefox-esr": "115.9.1esr-1~deb12u1",
        "libc6:amd64": "2.36-9+deb12u4",
        "libc6:i386": "2.36-9+deb12u4",
        "openssh-client": "1:9.2p1-2+deb12u2",
    }


def test_dpkg_versions_of_nothing_installed_are_empty() -> None:
    assert pkg.dpkg_versions([]) == {}
    assert pkg.dpkg_versions(["known\t\tnot-installed", "gone\t1.0\tconfig-files"]) == {}


def test_dpkg_versions_reject_an_installed_line_without_version() -> None:
    with pytest.raises(ValueError, match="broken"):
        pkg.dpkg_versions(["broken\tinstalled"])


# --- apt: the plan ------------------------------------------------------------------------

# apt-get --simulate --quiet upgrade --with-new-pkgs, LC_ALL=C.
SEC = "Debian-Security:12/oldstable-security"
SIMULATION = [
    "Reading package lists...",
    "Building dependency tree...",
    "Reading state information...",
    "Calculating upgrade...",
    "The following NEW packages will be installed:",
    "  linux-image-6.1.0-20-amd64",
    "The following packages will be REMOVED:",
    "  obsolete-tool",
    "The following packages will be upgraded:",
    "  libc6 libc6:i386 openssh-client firefox-esr",
    "4 upgraded, 1 newly installed, 1 to remove and 0 not upgraded.",
    "Remv obsolete-tool [0.9~rc1-1]",
    f"Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u4 {SEC} [amd64]) []",
    f"Inst libc6:i386 [2.36-9+deb12u3] (2.36-9+deb12u4 {SEC} [i386])",
    f"Inst openssh-client [1:9.2p1-2+deb12u2] (1:9.2p1-2+deb12u3 {SEC} [amd64])",
    f"Inst firefox-esr [115.9.1esr-1~deb12u1] (115.10.0esr-1~deb12u1 {SEC} [amd64])",
    f"Inst linux-image-6.1.0-20-amd64 (6.1.85-1 {SEC} [amd64])",
    f"Conf libc6 (2.36-9+deb12u4 {SEC} [amd64])",
    f"Conf libc6:i386 (2.36-9+deb12u4 {SEC} [i386])",
    f"Conf openssh-client (1:9.2p1-2+deb12u3 {SEC} [amd64])",
    f"Conf firefox-esr (115.10.0esr-1~deb12u1 {SEC} [amd64])",
    f"Conf linux-image-6.1.0-20-amd64 (6.1.85-1 {SEC} [amd64])",
]


def test_apt_plan_reads_upgrades_installs_and_removals_sorted_by_name() -> None:
    assert pkg.apt_plan(SIMULATION) == [
        {"name": "firefox-esr", "before": "115.9.1esr-1~deb12u1", "after": "115.10.0esr-1~deb12u1"},
        {"name": "libc6", "before": "2.36-9+deb12u3", "after": "2.36-9+deb12u4"},
        {"name": "libc6:i386", "before": "2.36-9+deb12u3", "after": "2.36-9+deb12u4"},
        {"name": "linux-image-6.1.0-20-amd64", "before": None, "after": "6.1.85-1"},
        {"name": "obsolete-tool", "before": "0.9~rc1-1", "after": None},
        {"name": "openssh-client", "before": "1:9.2p1-2+deb12u2", "after": "1:9.2p1-2+deb12u3"},
    ]


def test_apt_plan_of_nothing_to_do_is_empty() -> None:
    nothing = [
        "Reading package lists...",
        "Calculating upgrade...",
        "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.",
    ]
    assert pkg.apt_plan(nothing) == []
    assert pkg.apt_plan([]) == []


def test_apt_plan_sorts_ignoring_case_and_keeps_ties_in_order() -> None:
    lines = ["Inst b (1 x [all])", "Inst a2 (1 x [all])", "Inst A1 (1 x [all])"]
    assert [step["name"] for step in pkg.apt_plan(lines)] == ["A1", "a2", "b"]


# --- snapshots compared, reported ---------------------------------------------------------


def test_changes_list_upgrades_installs_and_removals_sorted_by_name() -> None:
    before = {"openssh-client": "1:9.2p1-2+deb12u2", "libc6": "2.36-9+deb12u3", "gone": "1.0~b1"}
    after = {"openssh-client": "1:9.2p1-2+deb12u3", "libc6": "2.36-9+deb12u3", "new": "6.1.85-1"}
    assert pkg.changes(before, after) == [
        {"name": "gone", "before": "1.0~b1", "after": None},
        {"name": "new", "before": None, "after": "6.1.85-1"},
        {"name": "openssh-client", "before": "1:9.2p1-2+deb12u2", "after": "1:9.2p1-2+deb12u3"},
    ]


def test_changes_of_an_installonly_package_are_its_version_lists() -> None:
    before = {"kernel-core.x86_64": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4"}
    after = {
        "kernel-core.x86_64": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4 5.14.0-427.16.1.el9_4"
    }
    assert pkg.changes(before, after) == [
        {
            "name": "kernel-core.x86_64",
            "before": before["kernel-core.x86_64"],
            "after": after["kernel-core.x86_64"],
        }
    ]


def test_changes_of_equal_snapshots_are_empty() -> None:
    assert pkg.changes({}, {}) == []
    assert pkg.changes({"bash": "5.2.15-2+b2"}, {"bash": "5.2.15-2+b2"}) == []


def test_changes_keep_names_that_differ_only_in_case_apart() -> None:
    before = {"PyYAML.noarch": "5.4.1-6.el9", "pyyaml.noarch": "5.4.1-6.el9"}
    assert [change["name"] for change in pkg.changes(before, {})] == [
        "PyYAML.noarch",
        "pyyaml.noarch",
    ]


def test_report_lines_name_installs_and_removals() -> None:
    changed = [
        {"name": "openssh-client", "before": "1:9.2p1-2+deb12u2", "after": "1:9.2p1-2+deb12u3"},
        {"name": "linux-image-6.1.0-20-amd64", "before": None, "after": "6.1.85-1"},
        {"name": "obsolete-tool", "before": "0.9~rc1-1", "after": None},
    ]
    assert pkg.report_lines(changed) == [
        "openssh-client: 1:9.2p1-2+deb12u2 -> 1:9.2p1-2+deb12u3",
        "linux-image-6.1.0-20-amd64: (not installed) -> 6.1.85-1",
        "obsolete-tool: 0.9~rc1-1 -> (removed)",
    ]
    assert pkg.report_lines([]) == []


# --- apt: rollback ------------------------------------------------------------------------

APT_RECORD = [
    {"name": "agentmaint-demo-sec", "before": "1.0", "after": "1.1"},
    {"name": "firefox-esr", "before": "115.9.1esr-1~deb12u1", "after": "115.10.0esr-1~deb12u1"},
    {"name": "libc6:i386", "before": "2.36-9+deb12u3", "after": "2.36-9+deb12u4"},
    {"name": "linux-image-6.1.0-20-amd64", "before": None, "after": "6.1.85-1"},
    {"name": "obsolete-tool", "before": "0.9~rc1-1", "after": None},
    {"name": "openssh-client", "before": "1:9.2p1-2+deb12u2", "after": "1:9.2p1-2+deb12u3"},
]


def test_apt_restore_lists_previous_versions_not_installed_now() -> None:
    installed = {
        "agentmaint-demo-sec": "1.1",
        "firefox-esr": "115.9.1esr-1~deb12u1",  # already back
        "libc6:i386": "2.36-9+deb12u4",
        "linux-image-6.1.0-20-amd64": "6.1.85-1",  # newly installed: stays
        "openssh-client": "1:9.2p1-2+deb12u3",
    }
    assert pkg.apt_restore(APT_RECORD, installed=installed) == [
        {"name": "agentmaint-demo-sec", "version": "1.0", "spec": "agentmaint-demo-sec=1.0"},
        {"name": "libc6:i386", "version": "2.36-9+deb12u3", "spec": "libc6:i386=2.36-9+deb12u3"},
        # Removed by the upgrade: installed again.
        {"name": "obsolete-tool", "version": "0.9~rc1-1", "spec": "obsolete-tool=0.9~rc1-1"},
        {
            "name": "openssh-client",
            "version": "1:9.2p1-2+deb12u2",
            "spec": "openssh-client=1:9.2p1-2+deb12u2",
        },
    ]


def test_apt_restore_of_nothing_to_undo_is_empty() -> None:
    assert pkg.apt_restore([], installed={"bash": "5.2.15-2+b2"}) == []
    # Every previous version installed, a record entry without "before" at all.
    assert pkg.apt_restore([{"name": "bash", "after": "1"}], installed={}) == []
    current = {entry["name"]: entry["before"] for entry in APT_RECORD if entry["before"]}
    assert pkg.apt_restore(APT_RECORD, installed=current) == []


# apt-cache madison NAME...: padded names, the versions in the repositories only.
MADISON = [
    "agentmaint-demo-sec |        1.1 | file:/srv/agentmaint-demo/debian-security"
    " bookworm-security/main amd64 Packages",
    "agentmaint-demo-sec |        1.0 | file:/srv/agentmaint-demo/debian-security"
    " bookworm-security/main amd64 Packages",
    "     libc6 | 2.36-9+deb12u4 | http://deb.debian.org/debian-security"
    " bookworm-security/main i386 Packages",
    "     libc6 | 2.36-9+deb12u3 | http://deb.debian.org/debian-security"
    " bookworm-security/main i386 Packages",
    "openssh-client | 1:9.2p1-2+deb12u2 | http://deb.debian.org/debian bookworm/main amd64"
    " Packages",
]


def _restore(*specs: str) -> list[dict[str, str]]:
    return [
        {"name": spec.split("=")[0], "version": spec.split("=", 1)[1], "spec": spec}
        for spec in specs
    ]


def test_apt_missing_finds_offered_versions_with_epochs_and_architectures() -> None:
    restore = _restore(
        "agentmaint-demo-sec=1.0", "libc6:i386=2.36-9+deb12u3", "openssh-client=1:9.2p1-2+deb12u2"
    )
    assert pkg.apt_missing(restore, MADISON) == []


def test_apt_missing_names_versions_no_repository_offers() -> None:
    restore = _restore(
        "agentmaint-demo-held=1.0",  # madison knows nothing of it
        "agentmaint-demo-sec=1.0",
        "obsolete-tool=0.9~rc1-1",
        "openssh-client=9.2p1-2+deb12u2",  # the offered version has an epoch
        "libc6:i386=2.36-9",
    )
    madison = [*MADISON, "N: Unable to locate package agentmaint-demo-held"]
    assert pkg.apt_missing(restore, madison) == [
        "agentmaint-demo-held=1.0",
        "obsolete-tool=0.9~rc1-1",
        "openssh-client=9.2p1-2+deb12u2",
        "libc6:i386=2.36-9",
    ]


def test_apt_missing_of_no_repository_answer_is_every_spec() -> None:
    assert pkg.apt_missing(_restore("a=1.0~rc1-1", "b:amd64=2:3"), []) == [
        "a=1.0~rc1-1",
        "b:amd64=2:3",
    ]
    assert pkg.apt_missing([], MADISON) == []


# --- dnf: rpm snapshots -------------------------------------------------------------------

# rpm --query --all --queryformat '%{NAME}.%{ARCH}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n',
# in rpm's database order.
RPM = [
    "kernel-core.x86_64\t0:5.14.0-427.13.1.el9_4",
    "bash.x86_64\t0:5.1.8-6.el9",
    "gpg-pubkey.(none)\t0:fd431d51-4ae0493b",
    "grub2-tools.x86_64\t1:2.06-77.el9",
    "glibc.i686\t0:2.34-100.el9",
    "glibc.x86_64\t0:2.34-100.el9",
    "kernel-core.x86_64\t0:5.14.0-362.24.1.el9_3",
    "perl-Scalar-List-Utils.x86_64\t4:1.56-462.el9",
    "python3.11-pip.noarch\t0:22.3.1-4.el9",
    "vim-enhanced.x86_64\t2:8.2.2637-20.el9_1",
    "tenfold.noarch\t10:1.0-1.el9",
    "python3-rc.noarch\t0:1.0~rc1-2.el9",
    "gpg-pubkey.(none)\t0:5a6340b3-6229229e",
    "gpg-pubkey-helper.noarch\t0:1.0-1.el9",
]


def test_rpm_versions_drop_epoch_zero_and_rpm_keys() -> None:
    assert pkg.rpm_versions(RPM) == {
        "bash.x86_64": "5.1.8-6.el9",
        "glibc.i686": "2.34-100.el9",
        "glibc.x86_64": "2.34-100.el9",
        "gpg-pubkey-helper.noarch": "1.0-1.el9",
        "grub2-tools.x86_64": "1:2.06-77.el9",
        # Installonly: every installed version, in the order of the sorted lines.
        "kernel-core.x86_64": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4",
        "perl-Scalar-List-Utils.x86_64": "4:1.56-462.el9",
        "python3-rc.noarch": "1.0~rc1-2.el9",
        "python3.11-pip.noarch": "22.3.1-4.el9",
        "tenfold.noarch": "10:1.0-1.el9",
        "vim-enhanced.x86_64": "2:8.2.2637-20.el9_1",
    }


def test_rpm_versions_order_does_not_depend_on_the_database_order() -> None:
    assert pkg.rpm_versions(RPM) == pkg.rpm_versions(list(reversed(RPM)))
    assert list(pkg.rpm_versions(RPM)) == sorted(pkg.rpm_versions(RPM), key=str.lower)


def test_rpm_versions_of_nothing_are_empty() -> None:
    assert pkg.rpm_versions([]) == {}
    assert pkg.rpm_versions(["gpg-pubkey.(none)\t0:fd431d51-4ae0493b", ""]) == {}


def test_rpm_versions_reject_a_line_without_version() -> None:
    with pytest.raises(ValueError, match=r"bash\.x86_64"):
        pkg.rpm_versions(["bash.x86_64"])


# --- dnf: the plan ------------------------------------------------------------------------

# dnf --quiet check-update (exit 100): a blank line, then NAME.ARCH VERSION REPOSITORY, the
# version without an epoch of 0; the "Obsoleting Packages" section repeats packages.
CHECK_UPDATE_DNF4 = """\

bash.x86_64                          5.1.8-9.el9                         baseos
grub2-tools.x86_64                   1:2.06-80.el9                       baseos
kernel-core.x86_64                   5.14.0-427.16.1.el9_4               baseos
python3-newpkg.noarch                1.0~rc2-1.el9                       appstream
python3.11-pip.noarch                22.3.1-5.el9                        appstream
Obsoleting Packages
grub2-tools-efi.x86_64               1:2.06-80.el9                       baseos
    grub2-tools.x86_64               1:2.06-77.el9                       @baseos
""".splitlines()

# dnf5 check-update: no blank line first, no Obsoleting section here.
CHECK_UPDATE_DNF5 = """\
bash.x86_64                 5.2.26-4.fc40                 updates
NetworkManager.x86_64       1:1.46.2-1.fc40               updates
""".splitlines()


def test_dnf_plan_adds_the_installed_versions() -> None:
    installed = pkg.rpm_versions(RPM)
    assert pkg.dnf_plan(CHECK_UPDATE_DNF4, installed=installed) == [
        {"name": "bash.x86_64", "before": "5.1.8-6.el9", "after": "5.1.8-9.el9"},
        {"name": "grub2-tools.x86_64", "before": "1:2.06-77.el9", "after": "1:2.06-80.el9"},
        {
            "name": "kernel-core.x86_64",
            "before": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4",
            "after": "5.14.0-427.16.1.el9_4",
        },
        {"name": "python3-newpkg.noarch", "before": None, "after": "1.0~rc2-1.el9"},
        {"name": "python3.11-pip.noarch", "before": "22.3.1-4.el9", "after": "22.3.1-5.el9"},
    ]


def test_dnf_plan_of_dnf5_sorts_ignoring_case() -> None:
    installed = {"bash.x86_64": "5.2.26-3.fc40", "NetworkManager.x86_64": "1:1.46.0-1.fc40"}
    assert pkg.dnf_plan(CHECK_UPDATE_DNF5, installed=installed) == [
        {"name": "bash.x86_64", "before": "5.2.26-3.fc40", "after": "5.2.26-4.fc40"},
        {"name": "NetworkManager.x86_64", "before": "1:1.46.0-1.fc40", "after": "1:1.46.2-1.fc40"},
    ]


def test_dnf_plan_drops_an_epoch_of_zero_and_keeps_others() -> None:
    lines = ["foo.noarch  0:1.2-3.el9  appstream", "bar.noarch  10:1.2-3.el9  appstream"]
    assert pkg.dnf_plan(lines, installed={}) == [
        {"name": "bar.noarch", "before": None, "after": "10:1.2-3.el9"},
        {"name": "foo.noarch", "before": None, "after": "1.2-3.el9"},
    ]


def test_dnf_plan_ignores_what_is_not_a_package_line() -> None:
    lines = [
        "Last metadata expiration check: 0:12:34 ago on Tue 07 May 2024 10:00:00 AM UTC.",
        "Security: kernel-core-5.14.0-427.16.1.el9_4.x86_64 is an installed security update",
        "nodot   1.0-1   baseos",
        "bash.x86_64   5.1.8-9.el9",
        "bash.x86_64   5.1.8-9.el9   baseos   extra",
        "    indented.x86_64   1.0-1   @baseos",
    ]
    assert pkg.dnf_plan(lines, installed={"bash.x86_64": "5.1.8-6.el9"}) == []


def test_dnf_plan_of_nothing_to_upgrade_is_empty() -> None:
    # Exit 0: no output at all.
    assert pkg.dnf_plan([], installed=pkg.rpm_versions(RPM)) == []
    assert pkg.dnf_plan(["", "Obsoleting Packages", "a.noarch 1-1 x"], installed={}) == []


# --- dnf: rollback ------------------------------------------------------------------------

# The update's record of the upgrade CHECK_UPDATE_DNF4 plans (changes of RPM -> RPM_AFTER).
DNF_RECORD = [
    {"name": "bash.x86_64", "before": "5.1.8-6.el9", "after": "5.1.8-9.el9"},
    {"name": "grub2-tools.x86_64", "before": "1:2.06-77.el9", "after": "1:2.06-80.el9"},
    {
        "name": "kernel-core.x86_64",
        "before": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4",
        "after": "5.14.0-362.24.1.el9_3 5.14.0-427.13.1.el9_4 5.14.0-427.16.1.el9_4",
    },
    {"name": "python3-newpkg.noarch", "before": None, "after": "1.0~rc2-1.el9"},
    # Obsoleted by python3-newpkg: removed by the upgrade.
    {"name": "python3-rc.noarch", "before": "1.0~rc1-2.el9", "after": None},
    {"name": "python3.11-pip.noarch", "before": "22.3.1-4.el9", "after": "22.3.1-5.el9"},
]

RPM_AFTER = [
    *(
        line
        for line in RPM
        if not line.startswith(("bash.", "grub2-tools.", "python3.11-pip.", "python3-rc."))
    ),
    "bash.x86_64\t0:5.1.8-9.el9",
    "grub2-tools.x86_64\t1:2.06-80.el9",
    "kernel-core.x86_64\t0:5.14.0-427.16.1.el9_4",
    "python3-newpkg.noarch\t0:1.0~rc2-1.el9",
    "python3.11-pip.noarch\t0:22.3.1-5.el9",
]

RESTORE_SPECS = [
    "bash-5.1.8-6.el9.x86_64",
    "grub2-tools-1:2.06-77.el9.x86_64",
    "python3-rc-1.0~rc1-2.el9.noarch",
    "python3.11-pip-22.3.1-4.el9.noarch",
]


def test_dnf_restore_lists_gone_versions_as_dnf_specs() -> None:
    # python3.11-pip: a name with a dot of its own.
    installed = pkg.rpm_versions(RPM_AFTER)
    assert pkg.dnf_restore(DNF_RECORD, installed=installed) == [
        {"name": "bash.x86_64", "version": "5.1.8-6.el9", "spec": "bash-5.1.8-6.el9.x86_64"},
        {
            "name": "grub2-tools.x86_64",
            "version": "1:2.06-77.el9",
            "spec": "grub2-tools-1:2.06-77.el9.x86_64",
        },
        # kernel-core kept its old versions; python3-newpkg was not installed before.
        # Removed by the upgrade: installed again.
        {
            "name": "python3-rc.noarch",
            "version": "1.0~rc1-2.el9",
            "spec": "python3-rc-1.0~rc1-2.el9.noarch",
        },
        {
            "name": "python3.11-pip.noarch",
            "version": "22.3.1-4.el9",
            "spec": "python3.11-pip-22.3.1-4.el9.noarch",
        },
    ]


def test_dnf_restore_reinstalls_only_the_installonly_versions_that_are_gone() -> None:
    # installonly_limit removed the oldest kernel when the new one came.
    record = [
        {"name": "kernel-core.x86_64", "before": "5.14.0-1.el9 5.14.0-2.el9", "after": "x"},
    ]
    installed = pkg.rpm_versions(
        ["kernel-core.x86_64\t0:5.14.0-2.el9", "kernel-core.x86_64\t0:5.14.0-3.el9"]
    )
    assert pkg.dnf_restore(record, installed=installed) == [
        {
            "name": "kernel-core.x86_64",
            "version": "5.14.0-1.el9",
            "spec": "kernel-core-5.14.0-1.el9.x86_64",
        }
    ]
    # Uninstalled altogether: every previous version.
    assert [entry["spec"] for entry in pkg.dnf_restore(record, installed={})] == [
        "kernel-core-5.14.0-1.el9.x86_64",
        "kernel-core-5.14.0-2.el9.x86_64",
    ]


def test_dnf_restore_of_nothing_to_undo_is_empty() -> None:
    assert pkg.dnf_restore([], installed=pkg.rpm_versions(RPM_AFTER)) == []
    current = {entry["name"]: entry["before"] for entry in DNF_RECORD if entry["before"]}
    assert pkg.dnf_restore(DNF_RECORD, installed=current) == []
    assert pkg.dnf_restore([{"name": "a.noarch", "before": ""}], installed={}) == []


def test_dnf_restore_rejects_a_name_without_architecture() -> None:
    with pytest.raises(ValueError, match="'bash'"):
        pkg.dnf_restore([{"name": "bash", "before": "5.1.8-6.el9"}], installed={})


SPECS = [
    "bash-5.1.8-6.el9.x86_64",
    "grub2-tools-1:2.06-77.el9.x86_64",
    "python3.11-pip-22.3.1-4.el9.noarch",
]


@pytest.mark.parametrize(
    "repoquery",
    [
        # dnf 4: each entry ends with the format's space and a newline; epoch 0 shown.
        "bash-0:5.1.8-6.el9.x86_64 \ngrub2-tools-1:2.06-77.el9.x86_64 \n"
        "python3.11-pip-0:22.3.1-4.el9.noarch \n",
        # dnf 5: no newline, epoch 0 left out.
        "bash-5.1.8-6.el9.x86_64 grub2-tools-1:2.06-77.el9.x86_64 "
        "python3.11-pip-22.3.1-4.el9.noarch ",
    ],
    ids=["dnf4", "dnf5"],
)
def test_dnf_missing_finds_offered_versions(repoquery: str) -> None:
    restore = [{"name": "n", "version": "v", "spec": spec} for spec in SPECS]
    assert pkg.dnf_missing(restore, repoquery) == []


def test_dnf_missing_names_versions_no_repository_offers() -> None:
    restore = [{"name": "n", "version": "v", "spec": spec} for spec in SPECS]
    # Other versions and another epoch of grub2-tools are offered, not the previous ones.
    repoquery = (
        "bash-0:5.1.8-9.el9.x86_64 \ngrub2-tools-2:2.06-77.el9.x86_64 \n"
        "python3.11-pip-0:22.3.1-4.el9.noarch \n"
    )
    assert pkg.dnf_missing(restore, repoquery) == SPECS[:2]
    assert pkg.dnf_missing(restore, "") == SPECS
    assert pkg.dnf_missing([], repoquery) == []


def test_dnf_update_record_and_rollback_fit_together() -> None:
    # What the tasks chain: the plan before the upgrade, the changes after it (the record),
    # then the rollback's specs checked against the repositories.
    before = pkg.rpm_versions(RPM)
    plan = pkg.dnf_plan(CHECK_UPDATE_DNF4, installed=before)
    after = pkg.rpm_versions(RPM_AFTER)
    changed = pkg.changes(before, after)
    assert changed == DNF_RECORD
    assert {step["name"] for step in plan} < {change["name"] for change in changed}
    restore = pkg.dnf_restore(changed, installed=after)
    assert [entry["spec"] for entry in restore] == RESTORE_SPECS
    repoquery = (
        "bash-0:5.1.8-6.el9.x86_64 \ngrub2-tools-1:2.06-77.el9.x86_64 \n"
        "python3-rc-0:1.0~rc1-2.el9.noarch \npython3.11-pip-0:22.3.1-4.el9.noarch \n"
    )
    assert pkg.dnf_missing(restore, repoquery) == []
    assert pkg.dnf_missing(restore, repoquery.replace("python3-rc-", "python3-rcx-")) == [
        "python3-rc-1.0~rc1-2.el9.noarch"
    ]
