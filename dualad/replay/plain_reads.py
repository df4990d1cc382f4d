"""Plain copies f reads while ``dualad.prepare`` records it: ``v.value`` and ``tape.stop_gradient(v)``.

A replay re-runs the recorded numpy calls, checking every value-dependent
decision the tape saw. What f does with a *plain copy* of a recorded value is
invisible to it: ``if v[0].value > 0``, ``int(v.value)`` as an index, or
``v * tape.stop_gradient(v)`` (whose constant factor the recording froze). A
replay at another x would then take the recorded branch, or use the recorded
constant, silently. So while a recording runs, a read of ``.value`` on a tape
value from outside dualad's own code is reported to the recording's log as a
decision no guard can check, and the recording is refused
(:class:`~dualad.errors.ReplayRefused`) with its remedy. ``tape.stop_gradient``
reports itself through :func:`dualad.decisions.note` in every engine.

The watch swaps :class:`~dualad.tape.var.Var`'s ``value`` slot for a
descriptor that looks at its caller's file, only while a recording runs (in any
thread); dualad's own reads then cost a frame lookup each, which only the
recording pays.

>>> import numpy as np, dualad
>>> dualad.prepare(lambda v: v * 2 if v[0].value > 0 else v * 3, np.ones(2))
Traceback (most recent call last):
...
dualad.replay.recording.ReplayRefused: prepare: f makes value-dependent decisions that a replay cannot check (x.value ...
"""
from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ..tape.var import Var

__all__ = ["watching", "slot_of", "READ"]

#: the kind reported for a plain read (what the refusal names)
READ = "x.value (a plain copy f reads from a recorded value: a replay cannot see what f does with it)"

_OWN = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep  # the dualad package
_OWN_FILES: dict = {}  # a code object's file name -> is it dualad's own (its real path, found once per name)


def _is_own(code: Any) -> bool:
    # co_filename is the path as imported (`benchmarks/../dualad/tape/var.py` when sys.path holds a
    # relative entry), so it is resolved, once per file name (a dict lookup after that; keyed by the
    # name, not the code object: equal code from two files compares equal)
    name = code.co_filename
    own = _OWN_FILES.get(name)
    if own is None:
        own = _OWN_FILES[name] = os.path.realpath(name).startswith(_OWN)
    return own
_LOCK = threading.Lock()
_SLOTS: dict = {}  # class -> the member descriptor of its __slots__' "value"
_DEPTH: dict = {}  # class -> running watches on it, in all threads (installed while positive)


class _State(threading.local):
    logs: Any = None  # the logs of this thread's running watches (a list), innermost last


_STATE = _State()


class _WatchedValue:
    """``cls.value`` during a watch: the slot, plus a report when code outside dualad reads it."""

    __slots__ = ("slot",)

    def __init__(self, slot: Any):
        self.slot = slot

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        value = self.slot.__get__(obj, cls)
        logs = _STATE.logs
        if logs and not _is_own(sys._getframe(1).f_code):
            logs[-1].unguarded.append(READ)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        self.slot.__set__(obj, value)


@contextmanager
def watching(log: Any, cls: type = Var) -> Iterator[None]:
    """Report plain reads of ``cls`` values (tape values by default; the sparsity tracer's too) to
    ``log`` (its ``unguarded`` list) while the block runs in this thread."""
    logs = _STATE.logs
    if logs is None:
        logs = _STATE.logs = []
    logs.append(log)
    with _LOCK:
        slot = _SLOTS.setdefault(cls, cls.__dict__["value"])
        _DEPTH[cls] = _DEPTH.get(cls, 0) + 1
        if _DEPTH[cls] == 1:
            cls.value = _WatchedValue(slot)
    try:
        yield
    finally:
        logs.pop()
        with _LOCK:
            _DEPTH[cls] -= 1
            if _DEPTH[cls] == 0:
                cls.value = slot


def slot_of(cls: type = Var) -> Any:
    """The plain slot descriptor of ``cls.value`` (what is installed outside a watch)."""
    return _SLOTS.get(cls, cls.__dict__["value"])
