"""Small helpers every engine needs, owned by none of them.

Forward mode (:mod:`dualad.dispatch`), the tape (:mod:`dualad.tape`) and the
sparsity tracer (:mod:`dualad.sparse`) all ask the same questions of values
(their rank, shape, size, whether they are finite), name numpy functions in
error messages the same way, and refuse the same things with the same words.
Those answers live here, once, so that no engine imports another engine's
private helpers.

>>> import numpy as np
>>> from dualad.common import func_name, ndim, all_finite
>>> func_name(np.linalg.solve), ndim(np.ones((2, 3))), all_finite(np.array([1.0, np.inf]))
('np.linalg.solve', 2, False)
"""
from __future__ import annotations

import math
import sys
from typing import Any, Callable

import numpy as np

from .arraylike import ArrayLike, primal
from .errors import ConversionError, UnsupportedFunctionError, describe

__all__ = ["ndim", "shape", "size", "all_finite", "strip", "func_name", "unsupported", "complex_refused",
           "check_out"]


def ndim(x: Any) -> int:
    """The rank of ``x``: its ``.ndim`` when it has one (cheaper than ``np.ndim`` on the hot path)."""
    try:
        return x.ndim  # ndarrays, numpy scalars, differentiable values, diagonal tangents
    except AttributeError:
        return np.ndim(x)


def shape(x: Any) -> tuple:
    """The shape of ``x``: its ``.shape`` when it has one, else ``np.shape(x)``."""
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def size(x: Any) -> int:
    """The number of entries of ``x`` (its plain value's)."""
    return math.prod(shape(x))


def all_finite(p: Any) -> bool:
    """True when no entry of ``p`` (a plain or differentiable value) is NaN or infinite."""
    if isinstance(p, (float, np.floating)):
        return math.isfinite(p)
    # p . p is finite unless an entry is NaN or infinite (or the sum overflows, which only sends
    # the caller down its slower, equally right path): one BLAS call, and no warnings
    if isinstance(p, np.ndarray) and p.dtype.kind == "f":
        return math.isfinite(np.vdot(p, p))
    return bool(np.isfinite(primal(p)).all())


def strip(x: Any) -> Any:
    """``x`` with every differentiable value replaced by its plain value (into lists, tuples and dicts)."""
    if isinstance(x, ArrayLike):
        return primal(x)
    if isinstance(x, (list, tuple)):
        return type(x)(strip(y) for y in x)
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()}
    return x


def func_name(func: Any) -> str:
    """How error messages name a numpy function: ``np.sum``, ``np.linalg.solve``, ``scipy.special.erf``."""
    if isinstance(func, np.ufunc) and getattr(np, func.__name__, None) is not func:
        return _foreign_ufunc_name(func)
    mod = getattr(func, "__module__", None) or "numpy"
    mod = "np" if mod in ("numpy", "numpy.core.fromnumeric", "numpy._core.fromnumeric") or mod.startswith("numpy._") \
        else mod.replace("numpy.", "np.")
    return f"{mod}.{getattr(func, '__name__', repr(func))}"


def _foreign_ufunc_name(func: Any) -> str:
    """The name of a ufunc from outside numpy (ufuncs carry no ``__module__``): scipy.special's."""
    special = sys.modules.get("scipy.special")
    if special is not None and getattr(special, func.__name__, None) is func:
        return f"scipy.special.{func.__name__}"
    if special is not None and getattr(getattr(special, "_ufuncs", None), func.__name__, None) is func:
        return f"scipy.special._ufuncs.{func.__name__}"
    return f"the ufunc {func.__name__}"


def _outermost(objs, best=None):
    """The first value of the highest tag among ``objs`` (into lists): what messages describe."""
    for x in objs:
        if isinstance(x, ArrayLike):
            tag = getattr(x, "tag", None)
            if tag is not None and (best is None or tag > best.tag):
                best = x
        elif isinstance(x, (list, tuple)):
            best = _outermost(x, best)
    return best


def unsupported(func: Any, why: str = "", args: Any = ()) -> UnsupportedFunctionError:
    """The error for a call dualad cannot differentiate (``why`` narrows it down, e.g. ``".reduceat"``)."""
    value = _outermost(args)
    on = f" (called on {describe(value)})" if value is not None else ""
    return UnsupportedFunctionError(
        f"{func_name(func)}{why}{on} has no derivative rule in dualad, so it cannot run on a differentiable "
        "value without losing the derivative; remedy: rewrite it with supported numpy functions, or "
        "compute it on .value if it really does not depend on the input (see the README's "
        "'Guarantees and limits')")


def complex_refused(func: Any, args: Any = ()) -> UnsupportedFunctionError:
    """The error for a complex value computed from a differentiable one (a complex constant met it)."""
    value = _outermost(args)
    on = f" on {describe(value)}" if value is not None else ""
    what = f"{func_name(func)}{on}" if func is not None else "an operation on a Dual"
    return UnsupportedFunctionError(
        f"{what} produced complex values; dualad differentiates real functions only, and a complex "
        "intermediate would give a wrong derivative (abs, real, ...) without notice; remedy: keep the "
        "computation real, e.g. carry real and imaginary parts as two real arrays")


#: keyword arguments no engine differentiates through (``order=`` only as 'K' or 'C')
_REFUSED_KEYWORDS = ("where", "initial", "casting", "subok", "signature", "axes", "order")


def check_out(func: Any, kwargs: dict, loses: str = "the derivative", on: str = "differentiable values") -> Any:
    """Pop ``out=`` (returned) and ``dtype=`` from ``kwargs``, and refuse the keywords no rule handles.

    A non-float ``dtype=`` would drop ``loses``; ``where=``, ``initial=``, ... are refused
    on every engine alike (``on`` names the engine's values in the message).
    """
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):
        out = out[0] if len(out) == 1 else out
    dtype = kwargs.pop("dtype", None)
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise ConversionError(f"{func_name(func)}(..., dtype={np.dtype(dtype)}) would drop {loses}; "
                              "remedy: use a float dtype or leave dtype out")
    for bad in _REFUSED_KEYWORDS:
        if bad == "axes" and not isinstance(func, np.ufunc):
            continue  # a gufunc's axes= is refused; np.transpose(x, axes=...) is its rule's own argument
        if bad in kwargs and not (bad == "order" and kwargs[bad] in ("K", "C")) \
                and not (bad == "casting" and kwargs[bad] == "same_kind"):
            raise UnsupportedFunctionError(
                f"{func_name(func)} with the {bad}= argument is not supported on {on}; "
                f"remedy: leave {bad}= out"
                + (" (use np.where on the result instead of where=)" if bad == "where" else "")
                + (" (transpose first if you need another memory order)" if bad == "order" else ""))
    return out


def partial_at(partial: Callable, out: Any, *values: Any) -> Any:
    """``partial(out, *values)``, a rule's local derivative, even under the caller's ``np.errstate(all="raise")``.

    Infinite partials are documented conventions (sqrt at 0, x**p at 0); they are dualad's own
    arithmetic and must not trip the user's floating-point traps. Computed plainly first (no
    context manager on the hot path), again with the traps off only if one fired.
    """
    try:
        return partial(out, *values)
    except FloatingPointError:
        with np.errstate(all="ignore"):
            return partial(out, *values)
