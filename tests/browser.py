"""Headless Chromium for the tests that check a page in a real browser (the HTML report).

`chromium` finds Debian's ``chromium`` (or installs it with apt-get, as root, as CI runs)
and fails with the reason when it cannot: a browser test never skips. `dump_dom` and
`screenshot` drive Chromium's own command line (``--headless --dump-dom`` /
``--screenshot``): the page has no script, so the DOM after loading is all there is to
check, and no WebDriver is needed. Chromium runs in its own session with a profile under
the test's directory, and its process group is killed afterwards (its helpers too).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

_NAMES = ("chromium", "chromium-browser")
_APT_LOCK = Path("/tmp/agentmaint-tests-apt.lock")
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}


def _found() -> str | None:
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium() -> str:
    """The path of headless Chromium, installed with apt-get if missing; else the test fails."""
    path = _found()
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        why = "not root" if os.geteuid() != 0 else "no apt-get"
        pytest.fail(
            f"the browser test needs Chromium, and cannot install it ({why}): install "
            "Debian's package (apt-get install chromium) or run the tests as root on Debian"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    install = ["apt-get", *lock, "-q", "-y", "--no-install-recommends", "install", "chromium"]
    with _APT_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            subprocess.run(
                ["apt-get", *lock, "-q", "update"], capture_output=True, env=env, check=False
            )
            done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    path = _found()
    if done.returncode != 0 or path is None:
        output = (done.stdout + done.stderr).strip()[-1500:]
        pytest.fail(f"apt-get install chromium failed (exit {done.returncode}):\n{output}")
    return path


def _arguments(profile: Path) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",  # as root (CI) Chromium refuses its sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-breakpad",
        "--hide-scrollbars",
        # Nothing may be fetched: a page that needed the network would show it.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
    ]


@contextlib.contextmanager
def _session() -> Iterator[dict[str, int]]:
    """Kill the browser's whole process group when done (its helpers may outlive it)."""
    started: dict[str, int] = {}
    try:
        yield started
    finally:
        if "pid" in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started["pid"], signal.SIGKILL)


def _chromium(arguments: list[str], timeout: float = 120) -> str:
    with _session() as started:
        process = subprocess.Popen(
            arguments,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started["pid"] = process.pid
        out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"chromium failed ({process.returncode}): {err[-1500:]}"
    return out


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built from the file `page`, serialized."""
    return _chromium([*_arguments(profile), "--dump-dom", page.resolve().as_uri()])


def screenshot(page: Path, profile: Path, png: Path, size: str = "1100,1400") -> Path:
    """A PNG of the file `page` as Chromium draws it in a `size` window."""
    _chromium(
        [
            *_arguments(profile),
            f"--window-size={size}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ]
    )
    assert png.read_bytes().startswith(b"\x89PNG"), f"no screenshot at {png}"
    return png


class Element:
    """An element of a parsed DOM: its tag, attributes, children and whole text."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element] = []
        self.text = ""

    def iter(self) -> Iterator[Element]:
        """This element and every one below it, in document order."""
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """The elements below (and including) this one with `tag` and these attribute values."""
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, ident: str) -> Element:
        """The element with this id (the test fails without one)."""
        found = [e for e in self.iter() if e.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id {ident!r}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#document", {})
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in _VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, 0, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data


def parse_dom(html: str) -> Element:
    """The element tree of a serialized DOM."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
