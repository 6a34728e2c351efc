"""Two interpreter settings a catch-up changes while it parses, for the whole process.

* The cyclic garbage collector is paused while a window is parsed. Parsing and folding
  create a few container objects per event, all freed by reference counting; the
  collector does not know that and ran a pass every few hundred allocations (and now and
  then one over every object of the process), which cost a third of the parse.
* Threads switch every 0.5 ms instead of 5 while a window is read ahead. The batch's
  thread holds the interpreter only briefly between its statements, but after each one
  it waited for the parsing thread to let go, up to the whole interval, while its
  database backend sat idle.

Each setting is held with a count, so overlapping catch-ups (two threads) restore it
once, after the last of them.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

READ_AHEAD_SWITCH_INTERVAL = 0.0005  # seconds


class _Held:
    def __init__(self, change: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        self._change, self._restore = change, restore
        self._lock = threading.Lock()
        self._holders = 0
        self._before: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._before = self._change()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._restore(self._before)


def _pause_collector() -> bool:
    enabled = gc.isenabled()
    gc.disable()
    return enabled


def _resume_collector(enabled: bool) -> None:
    if enabled:
        gc.enable()


def _quicken_switches() -> float:
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, READ_AHEAD_SWITCH_INTERVAL))
    return before


_collector = _Held(_pause_collector, _resume_collector)
_switches = _Held(_quicken_switches, sys.setswitchinterval)


def collector_paused() -> Any:
    """A context in which the cyclic garbage collector does not run."""
    return _collector.held()


def quick_thread_switches() -> Any:
    """A context in which threads switch every ``READ_AHEAD_SWITCH_INTERVAL``."""
    return _switches.held()
