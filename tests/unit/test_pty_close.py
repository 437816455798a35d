"""ptyprocess's close delay is skipped only for a child already reaped (ansible.runner)."""

from __future__ import annotations

import pexpect
import ptyprocess

import agentmaint.ansible.runner  # importing it installs the close behaviour


def test_a_reaped_child_is_closed_without_the_delay() -> None:
    child = pexpect.spawn("true")
    child.expect(pexpect.EOF)
    while child.isalive():  # what ansible-runner does before closing
        pass
    child.close()
    assert child.ptyproc.delayafterclose == 0
    assert child.exitstatus == 0


def test_a_running_child_keeps_the_delay_and_is_terminated() -> None:
    child = pexpect.spawn("sleep", ["30"])
    assert child.isalive()
    child.close(force=True)
    assert child.ptyproc.delayafterclose == 0.1
    assert not child.isalive()
    assert child.signalstatus is not None  # ended by a signal, not by itself


def test_installed_once() -> None:
    close = ptyprocess.PtyProcess.close
    agentmaint.ansible.runner._close_reaped_without_delay()
    assert ptyprocess.PtyProcess.close is close
