"""Lifetime of differentiable values: a Dual or tape value lives only while its call runs.

Every derivative call (``jacobian``, ``jvp``, ``tape.grad``...) gives its Duals a
fresh tag (one per pass) and its tape values a fresh tape. When the call (or the
pass) returns, the tag is marked finished here, and the tape is closed. A value
that escaped (saved in a closure, a cache, a global) and is used later would be
taken for a constant and silently get a zero derivative; instead, every place
where such a value can re-enter a computation asks :func:`check_tag` and raises
:class:`~dualad.errors.LifetimeError`, saying which call made it and what to do.

Nesting is unaffected: an outer call's tag stays live while inner calls run.

>>> import numpy as np, dualad
>>> saved = []
>>> _ = dualad.derivative(lambda t: saved.append(t * 2) or t, 1.0)
>>> dualad.derivative(lambda t: t * saved[0], 1.0)
Traceback (most recent call last):
...
dualad.errors.LifetimeError: a Dual made by a dualad.derivative call that has already returned ...
"""
from __future__ import annotations

import threading

from .errors import LifetimeError

__all__ = ["finish_tag", "is_finished", "check_tag", "origin", "escaped"]

# One byte per tag (tags come from one counter): 0 = live or never registered, else an index
# into _CALLERS + 1. A bytearray keeps a million finished calls in 1 MB.
_FINISHED = bytearray()
_CALLERS: list[str] = []
_LOCK = threading.Lock()


def _code(caller: str) -> int:
    try:
        return _CALLERS.index(caller) + 1
    except ValueError:
        with _LOCK:
            if caller not in _CALLERS and len(_CALLERS) < 255:
                _CALLERS.append(caller)
        return _CALLERS.index(caller) + 1 if caller in _CALLERS else 255


_CODES: dict = {}


def finish_tag(tag: int, caller: str) -> None:
    """Mark ``tag`` finished: its call (``caller``, e.g. ``'dualad.jacobian'``) has returned."""
    code = _CODES.get(caller)
    if code is None:
        code = _CODES[caller] = _code(caller)
    if len(_FINISHED) <= tag:
        with _LOCK:  # grown in steps; a write below the length needs no lock (one byte, under the GIL)
            if len(_FINISHED) <= tag:
                _FINISHED.extend(bytes(tag + 1 - len(_FINISHED) + 4096))
    _FINISHED[tag] = code


def is_finished(tag: int) -> bool:
    """True when the call that handed out ``tag`` has returned."""
    return tag < len(_FINISHED) and _FINISHED[tag] != 0


def origin(tag: int) -> str:
    code = _FINISHED[tag] if tag < len(_FINISHED) else 0
    return _CALLERS[code - 1] if 0 < code <= len(_CALLERS) else "a derivative call"


def escaped(kind: str, caller: str, where: str) -> LifetimeError:
    """The error for a value of a finished call (``kind``: 'a Dual', 'a tape value') used in ``where``."""
    return LifetimeError(
        f"{kind} made by a {caller} call that has already returned was used {where}; such a value "
        "belongs to its call (its derivative is relative to that call's input), so using it later would "
        "silently give a wrong (usually zero) derivative; remedy: do not keep Duals or tape values across "
        "calls (no caching, globals or closures holding them): recompute the value inside f, or keep "
        "a plain copy (dual.value / tape.stop_gradient(v)) if it really is a constant")


def check_tag(tag: int, where: str) -> None:
    """Raise :class:`LifetimeError` if ``tag`` belongs to a finished call."""
    if tag < len(_FINISHED) and _FINISHED[tag]:
        raise escaped("a Dual", origin(tag), where)
