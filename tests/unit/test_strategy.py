"""Finding mitogen and the ansible-core versions it accepts, without importing it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from agentmaint.ansible import strategy
from agentmaint.errors import UsageError

INSTALLED = strategy._version_tuple(metadata.version("ansible-core"))


def _text(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.19.14", (2, 19, 14)),
        ("2.20.0rc1", (2, 20, 0)),
        ("2.19.0.dev0", (2, 19, 0)),
        ("2", (2,)),
        ("x.1", ()),
    ],
)
def test_version_tuple(version: str, expected: tuple[int, ...]) -> None:
    assert strategy._version_tuple(version) == expected


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("ANSIBLE_VERSION_MIN = (2, 10)\n", None),
        (f"ANSIBLE_VERSION_MIN = {INSTALLED[:2]!r}\n", None),
        (f"ANSIBLE_VERSION_MAX = {INSTALLED[:2]!r}\n", None),
        ("ANSIBLE_VERSION_MIN = (2, 10)\nANSIBLE_VERSION_MAX = (2, 13)\n", "is newer than 2.13"),
        ("ANSIBLE_VERSION_MIN = (99, 0)\n", "is older than 99.0"),
        ("import ansible\n", None),  # no limits stated: nothing to refuse
        ("ANSIBLE_VERSION_MIN = compute()\n", None),  # not a literal: ignored
        ("def broken(:\n", "cannot read"),
    ],
)
def test_unsupported_ansible(tmp_path: Path, source: str, problem: str | None) -> None:
    loaders = tmp_path / "loaders.py"
    loaders.write_text(source)
    found = strategy._unsupported_ansible(loaders)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert _text(INSTALLED) in found or "cannot read" in found


def _fake_mitogen(root: Path, loaders: str, *, plugins: bool = True) -> None:
    package = root / "ansible_mitogen"
    (package / "plugins" / "strategy").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "loaders.py").write_text(loaders)
    if plugins:
        (package / "plugins" / "strategy" / "mitogen_linear.py").write_text("")
    (root / "mitogen").mkdir()
    (root / "mitogen" / "__init__.py").write_text("raise ImportError('must not be imported')\n")


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory that shadows the installed mitogen (nothing in it may be imported)."""
    monkeypatch.delenv(strategy.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.split(".")[0] in {"mitogen", "ansible_mitogen"}]:
        monkeypatch.delitem(sys.modules, name)
    strategy.mitogen_plugins.cache_clear()
    yield tmp_path
    strategy.mitogen_plugins.cache_clear()


def test_mitogen_found_without_importing_it(fake_path: Path) -> None:
    _fake_mitogen(fake_path, "ANSIBLE_VERSION_MIN = (2, 10)\n")
    assert strategy.mitogen_plugins() == fake_path / "ansible_mitogen" / "plugins" / "strategy"
    assert "ansible_mitogen" not in sys.modules
    chosen = strategy.resolve("auto")
    assert chosen.name == "mitogen_linear" and chosen.mitogen


def test_mitogen_refused_for_an_ansible_it_does_not_support(fake_path: Path) -> None:
    _fake_mitogen(fake_path, "ANSIBLE_VERSION_MAX = (2, 13)\n")
    found = strategy.mitogen_plugins()
    assert isinstance(found, str) and "cannot be used with this Ansible" in found
    chosen = strategy.resolve("auto")
    assert chosen.name == "linear" and not chosen.mitogen
    assert chosen.note is not None and "newer than 2.13" in chosen.note
    with pytest.raises(UsageError, match="needs mitogen"):
        strategy.resolve("mitogen_free")


def test_mitogen_without_strategy_plugins(fake_path: Path) -> None:
    _fake_mitogen(fake_path, "", plugins=False)
    found = strategy.mitogen_plugins()
    assert isinstance(found, str) and "has no strategy plugins" in found


def test_mitogen_is_a_regular_dependency_so_the_default_install_is_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requirements = metadata.requires("agentmaint") or []
    mitogen = [r for r in requirements if r.split(">")[0].split("<")[0].strip() == "mitogen"]
    assert mitogen and all("extra ==" not in r for r in mitogen), requirements
    monkeypatch.delenv(strategy.ENVIRONMENT_VARIABLE, raising=False)
    strategy.mitogen_plugins.cache_clear()
    assert strategy.resolve("auto").name == "mitogen_linear"  # this ansible-core is accepted
    assert strategy.resolve("linear").name == "linear"  # execution.strategy still decides
    monkeypatch.setenv(strategy.ENVIRONMENT_VARIABLE, "linear")
    assert strategy.resolve("auto") == strategy.Strategy("linear")  # and the environment


def test_ansible_version_read_from_its_release_file_agrees_with_its_metadata() -> None:
    assert strategy._ansible_version() == metadata.version("ansible-core")
