"""Stopping a run cleanly: signals become a flag the loop checks, and the message says how to go on."""

import signal
import threading

from .errors import Interrupted


class StopFlag:
    """Turns SIGINT and SIGTERM into a flag that the loop checks after each batch.

    The current batch finishes and the state is saved before the loop stops. A
    second Ctrl-C stops at once (the last saved checkpoint stays as it was).
    """

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def interrupted_by_signal(signum, last_path, run_dir):
    return interrupted(f"interrupted by {signal.Signals(signum).name}", signum, last_path, run_dir)


def interrupted(why, signum, last_path, run_dir):
    """The :class:`Interrupted` of a run stopped for ``why`` after saving ``last_path``: how to go on."""
    return Interrupted(f"{why}; saved {last_path}; continue with: bpnet train --resume {run_dir}", signum, last_path)

