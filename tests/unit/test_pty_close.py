"""ptyprocess's close delay is skipped only for agentmaint's own reaped children, during jobs."""

from __future__ import annotations

import os

import pexpect
import ptyprocess

from agentmaint.ansible import runner


def _spawn(*argv: str, ours: bool = True) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != runner.JOB_ID_VARIABLE}
    if ours:
        env[runner.JOB_ID_VARIABLE] = "job-1"
    return pexpect.spawn(argv[0], list(argv[1:]), env=env)


def _reap(child: pexpect.spawn) -> None:
    child.expect(pexpect.EOF)
    while child.isalive():  # what ansible-runner does before closing
        pass


def test_importing_the_runner_changes_nothing() -> None:
    assert ptyprocess.PtyProcess.close is runner._ORIGINAL_PTY_CLOSE
    child = _spawn("true")
    _reap(child)
    child.close()
    assert child.ptyproc.delayafterclose == 0.1


def test_a_reaped_child_of_a_job_is_closed_without_the_delay() -> None:
    with runner._close_reaped_without_delay():
        child = _spawn("true")
        _reap(child)
        child.close()
    assert child.ptyproc.delayafterclose == 0
    assert child.exitstatus == 0
    assert ptyprocess.PtyProcess.close is runner._ORIGINAL_PTY_CLOSE  # removed after the job


def test_another_programs_child_keeps_the_delay_during_a_job() -> None:
    with runner._close_reaped_without_delay():
        child = _spawn("true", ours=False)
        _reap(child)
        child.close()
    assert child.ptyproc.delayafterclose == 0.1


def test_a_running_child_keeps_the_delay_and_is_terminated() -> None:
    with runner._close_reaped_without_delay():
        child = _spawn("sleep", "30")
        assert child.isalive()
        child.close(force=True)
    assert child.ptyproc.delayafterclose == 0.1
    assert not child.isalive()
    assert child.signalstatus is not None  # ended by a signal, not by itself


def test_concurrent_jobs_share_one_installation() -> None:
    with runner._close_reaped_without_delay():
        installed = ptyprocess.PtyProcess.close
        assert installed is not runner._ORIGINAL_PTY_CLOSE
        with runner._close_reaped_without_delay():
            assert ptyprocess.PtyProcess.close is installed
        assert ptyprocess.PtyProcess.close is installed  # the first job still runs
    assert ptyprocess.PtyProcess.close is runner._ORIGINAL_PTY_CLOSE
