"""Total deadlines for deliveries: one attempt, one channel, and a run being cancelled.

A socket timeout bounds one operation only: a server that drips one byte just
before every timeout keeps a delivery alive forever, and `smtplib` gives every
command its own timeout. So each attempt runs in a daemon worker thread while the
caller waits on a monotonic deadline (`bounded`): when the deadline passes or the
run is cancelled, the attempt's sockets are shut down (the worker's blocked read
returns at once) and the caller goes on with a failed attempt without waiting for
the worker. Waiting in the caller, not in the transport, is what bounds every
phase alike: name resolution, connect, TLS, the request, the headers and the body.

Bounds (seconds, wall clock)
    `ATTEMPT_DEADLINE`
        one attempt: connect + send + the whole response (HTTP), or the whole
        SMTP conversation.
    `CHANNEL_BUDGET`
        every attempt of one channel for one event, retries and pauses included:
        a dead or dripping server costs at most this per channel per event.
    `CANCEL_GRACE`
        once the run is cancelled (SIGINT/SIGTERM), every delivery still to come
        or in progress must end within this, counted from when a delivery first
        saw the cancellation: a healthy channel still hears that the run was
        cancelled, a hung one no longer holds the process.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Callable

from agentmaint.errors import DeliveryCanceledError, DeliveryTimeoutError

__all__ = [
    "ATTEMPT_DEADLINE",
    "CANCEL_GRACE",
    "CHANNEL_BUDGET",
    "Abort",
    "Stop",
    "bounded",
]

#: Seconds one delivery attempt may take in total (connect + request + whole answer).
ATTEMPT_DEADLINE = 10.0
#: Seconds all the attempts of one channel for one event may take, pauses included.
CHANNEL_BUDGET = 20.0
#: Seconds deliveries may still take once the run is cancelled.
CANCEL_GRACE = 2.0

# How often a waiting caller looks at the cancel event: the signal handler only sets
# it, so this is the delay between a SIGTERM and the delivery giving up.
_POLL = 0.1


class Stop:
    """A run's cancellation as the deliveries see it: a deadline once it is set."""

    def __init__(self, cancel: threading.Event | None, grace: float = CANCEL_GRACE) -> None:
        """Watch `cancel` (None: never cancelled); deliveries get `grace` s once it is set."""
        self._cancel = cancel
        self._grace = grace
        self._seen: float | None = None

    @property
    def grace(self) -> float:
        """Seconds deliveries may still take once the run is cancelled."""
        return self._grace

    @property
    def cancelled(self) -> bool:
        """Whether the run was cancelled."""
        return self._cancel is not None and self._cancel.is_set()

    def deadline(self) -> float:
        """The monotonic instant deliveries must end by (infinite until cancelled)."""
        if self._seen is None:
            if not self.cancelled:
                return math.inf
            self._seen = time.monotonic()
        return self._seen + self._grace

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the run is cancelled meanwhile."""
        end = time.monotonic() + max(0.0, seconds)
        while (left := min(end, self.deadline()) - time.monotonic()) > 0:
            if self._cancel is None:
                time.sleep(left)
                return
            self._cancel.wait(min(left, _POLL))


class Abort:
    """What an attempt registers so that it can be cut short from another thread.

    An attempt calls `on_abort` with a function that shuts its connection down (read
    at abort time: STARTTLS replaces a socket); `abort` calls them all, once.
    """

    def __init__(self) -> None:
        """Nothing registered, not aborted."""
        self._lock = threading.Lock()
        self._actions: list[Callable[[], None]] = []
        self._aborted = False

    @property
    def aborted(self) -> bool:
        """Whether `abort` was called."""
        return self._aborted

    def on_abort(self, action: Callable[[], None]) -> None:
        """Call `action` on abort (at once if already aborted)."""
        with self._lock:
            if not self._aborted:
                self._actions.append(action)
                return
        _quietly(action)

    def abort(self) -> None:
        """Run every registered action (errors ignored: the attempt is abandoned anyway)."""
        with self._lock:
            self._aborted = True
            actions, self._actions = self._actions, []
        for action in actions:
            _quietly(action)


def shutdown(sock: socket.socket | None) -> None:
    """Shut `sock` down both ways so that a read blocked on it returns at once.

    `socket.socket.shutdown` on purpose, also for TLS sockets: it leaves the TLS
    object to the thread using it, and closing the descriptor from another thread
    could let the number be reused under that thread's feet.
    """
    if sock is not None and sock.fileno() != -1:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _quietly(action: Callable[[], None]) -> None:
    # The connection may already be gone: then there is nothing left to cut short.
    with contextlib.suppress(Exception):
        action()


def bounded(attempt: Callable[[Abort, float], None], *, until: float, stop: Stop) -> None:
    """Run ``attempt(abort, timeout)`` and return when it ends, by `until` at the latest.

    `until` is a monotonic instant; `timeout` is the seconds left, for the attempt's
    own socket timeouts. Raises what the attempt raised, `DeliveryTimeoutError` when
    `until` passed first, `DeliveryCanceledError` when the run was cancelled and its
    grace ran out first. The worker thread of an attempt cut short is left to finish
    on its own (its sockets shut down, it does so at once); it is a daemon, so it
    never keeps the process alive.
    """
    abort = Abort()
    done = threading.Event()
    failure: list[BaseException] = []
    timeout = until - time.monotonic()
    if min(until, stop.deadline()) <= time.monotonic():
        raise _expired(until, stop, 0.0)  # nothing is sent that could not be waited for

    def work() -> None:
        try:
            attempt(abort, timeout)
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="agentmaint-delivery", daemon=True).start()
    while not done.is_set():
        end = min(until, stop.deadline())
        left = end - time.monotonic()
        if left <= 0:
            abort.abort()
            raise _expired(until, stop, timeout)
        done.wait(min(left, _POLL))
    if failure:
        raise failure[0]


def _expired(until: float, stop: Stop, seconds: float) -> Exception:
    if stop.deadline() <= until:
        return DeliveryCanceledError(
            f"the run was cancelled; delivery abandoned after the {stop.grace:g} s grace"
        )
    if seconds <= 0:
        return DeliveryTimeoutError("the channel's time budget was spent before this attempt")
    return DeliveryTimeoutError(f"no complete answer within {seconds:.1f} s (total deadline)")
