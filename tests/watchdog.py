"""`no_hang`: fail a test block that runs too long instead of hanging the suite."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Hang(BaseException):
    """Raised by `no_hang` when its block runs too long (a BaseException so no `except Exception` eats it)."""


@contextlib.contextmanager
def no_hang(seconds: float) -> Iterator[None]:
    """Fail a block that runs longer than `seconds` (SIGALRM; main thread only, else no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
