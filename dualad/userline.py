"""The user's line behind a refused conversion, read on the error path only.

numpy's C code converts values without a Python frame of its own, so the frame
above a refused ``__float__``/``__array__`` is the user's code (after skipping
dualad's and numpy's own frames). Two residual idioms are recognised there and
named in the error's first line with their remedy:

* ``return np.array([r0, r1, ...])``: use ``np.stack([...])`` instead;
* ``dy = np.zeros(n); dy[i] = expr``: the plain float buffer ``dy`` cannot hold a
  derivative; create it from the input, ``dy = np.zeros_like(y)``.

>>> hint_for(None) is None
True
"""
from __future__ import annotations

import linecache
import os
import re
import sys

import numpy as np

__all__ = ["hint_for"]

_OWN = (os.path.dirname(os.path.abspath(__file__)) + os.sep,
        os.path.dirname(os.path.abspath(np.__file__)) + os.sep)
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\[.*\]\s*[-+*/]?=")


def _user_frame():
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_OWN):
        frame = frame.f_back
    return frame


def _input_name(frame, shape) -> tuple[str, bool]:
    """A differentiable local to build the buffer from, and whether it has the buffer's shape."""
    from .arraylike import ArrayLike
    names = [k for k, v in frame.f_locals.items() if isinstance(v, ArrayLike)]
    same = [k for k in names if getattr(frame.f_locals[k], "shape", None) == shape]
    return (same or names or ["x"])[0], bool(same)


def _idiom_hint(source: str, frame, where: str) -> str | None:
    compact = source.replace(" ", "")
    if "array([" in compact or "array((" in compact:
        return (f"use np.stack([...]) instead of np.array([...]) ({where}): np.array makes a plain float array, "
                "which cannot hold the derivatives of the entries")
    if "fromiter(" in compact:
        return (f"use np.stack(list(...)) instead of np.fromiter(...) ({where}): np.fromiter makes a plain float "
                "array, which cannot hold the derivatives of the entries")
    match = _ASSIGN.match(source)
    if match:
        name = match.group(1)
        buf = frame.f_locals.get(name)
        if isinstance(buf, np.ndarray):
            y, same_shape = _input_name(frame, buf.shape)
            remedy = f"`{name} = np.zeros_like({y})`" if same_shape else \
                f"`{name} = np.zeros_like({y}, shape={buf.shape})`"
            return (f"{name} is a plain float array (shape {buf.shape}, dtype {buf.dtype}) and cannot hold "
                    f"a derivative ({where}); remedy: create it from the input, {remedy} "
                    f"(or dualad.zeros_like({y}, shape={buf.shape}))")
    return None


def hint_for(value) -> str | None:
    """The first line of a conversion error for ``value`` when the user's line is a known idiom, else None."""
    if value is None:
        return None
    try:
        frame = _user_frame()
        if frame is None:
            return None
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}: `{line}`"
        # several statements may share the line (`d = np.zeros(2); d[0] = x[0]**2`): look at each
        for source in line.split(";"):
            hint = _idiom_hint(source, frame, where)
            if hint:
                return hint
    except Exception:  # a hint is a courtesy: never let it hide the error itself
        return None
    return None
