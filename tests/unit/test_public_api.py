"""The public surface is `agentmaint.__all__`: sorted, complete, and every name documented."""

from __future__ import annotations

import inspect

import agentmaint


def test_all_is_sorted_and_exported() -> None:
    assert agentmaint.__all__ == sorted(agentmaint.__all__)
    for name in agentmaint.__all__:
        assert hasattr(agentmaint, name), name


def test_public_names_have_docstrings() -> None:
    for name in agentmaint.__all__:
        value = getattr(agentmaint, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
