"""Name the numpy function behind a refused conversion, with its remedy (error path only).

Some numpy functions call ``np.asarray`` on their arguments before any dispatch
(``np.r_``/``np.c_``, ``np.full``, ``np.vectorize``, ``numpy.polynomial``), so a
differentiable value cannot get through them; the conversion is refused, and
this module finds which of them did it (by the code objects on the stack) and
what to write instead.

>>> numpy_caller_hint()
''
"""
from __future__ import annotations

import sys

__all__ = ["numpy_caller_hint"]

# (module prefix, function name or None for any) -> (what the user called, remedy)
_KNOWN = [
    ("numpy.lib._index_tricks_impl", "__getitem__", "np.r_[...] / np.c_[...]",
     "use np.concatenate([...]) (np.r_), np.column_stack / np.stack(..., axis=-1) (np.c_), which dispatch"),
    ("numpy._core.numeric", "full", "np.full(shape, value)",
     "use np.full_like(x, value, shape=shape), or np.zeros(shape) + value"),
    ("numpy.lib._function_base_impl", "_vectorize_call", "np.vectorize(f)(...)",
     "write f with numpy operations on whole arrays (they broadcast), or loop over the entries and "
     "np.stack the results"),
    ("numpy.lib._function_base_impl", "__call__", "np.vectorize(f)(...)",
     "write f with numpy operations on whole arrays (they broadcast), or loop over the entries and "
     "np.stack the results"),
    ("numpy.polynomial", None, "numpy.polynomial",
     "evaluate with numpy.polynomial.polynomial.polyval(x, c) / chebval / legval / hermval with constant "
     "coefficients (plain arithmetic, differentiable in x), or use np.polyval, np.polyfit, np.vander, "
     "np.polyder, np.polyint (rules in dualad, differentiable in every array argument)"),
]


def numpy_caller_hint() -> str:
    """A sentence naming the numpy function that converted a differentiable value, or ``""``."""
    frame = sys._getframe(1)
    found = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        for prefix, function, display, remedy in _KNOWN:
            if module.startswith(prefix) and (function is None or frame.f_code.co_name == function):
                found = (display, remedy)  # keep walking: the outermost match is what the user called
                break
        frame = frame.f_back
    if found is None:
        return ""
    display, remedy = found
    return (f" This happened inside {display}, which converts its arguments with np.asarray before dualad "
            f"sees them; instead, {remedy}.")
