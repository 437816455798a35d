"""``--help``: every argument and option of every command says what it is for; every
command shows examples and its exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from agentmaint.cli.app import _build_parser, main


def _parsers(
    parser: argparse.ArgumentParser, name: str = "agentmaint"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the tree, depth first, with its command line."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, child in action.choices.items():
                yield from _parsers(child, f"{name} {word}")


PARSERS = dict(_parsers(_build_parser()))


def test_the_walk_finds_every_command_and_subcommand() -> None:
    for command in ("run", "cancel", "check", "daemon", "timer install", "history prune"):
        assert f"agentmaint {command}" in PARSERS
    assert len(PARSERS) > 25


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_argument_and_option_has_help(name: str) -> None:
    parser = PARSERS[name]
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert not missing, f"{name}: no help for {missing}"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            # Each subcommand's line in the list of commands.
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            assert set(listed) == set(action.choices), name
            assert all(listed.values()), f"{name}: a subcommand without help: {listed}"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_command_shows_examples_and_exit_codes(name: str) -> None:
    text = PARSERS[name].format_help()
    assert "\nExamples:\n  " in text, name
    examples = text.split("\nExamples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # An example of the command itself (``sudo`` or a shell pipe may surround it).
    assert any(name in line for line in examples), (name, examples)
    assert "\nExit codes:\n  0 " in text, name
    assert " 2 " in text.split("\nExit codes:\n", 1)[1], name


def test_help_keeps_the_examples_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["cancel", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "Examples:\n  agentmaint cancel schedule.yaml\n" in out
    assert "  3      the run is still running after --timeout\n" in out


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_fits_an_80_column_terminal(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # argparse wraps options by $COLUMNS; the description and epilog are filled by us.
    monkeypatch.setenv("COLUMNS", "80")
    wide = [line for line in PARSERS[name].format_help().splitlines() if len(line) > 80]
    assert not wide, f"{name}: lines wider than 80 columns: {wide}"
