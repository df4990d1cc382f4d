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
from .errors import ConversionError, InputError, UnsupportedFunctionError, describe
from .subclasses import refuse_array_subclass

__all__ = ["ndim", "shape", "size", "all_finite", "strip", "func_name", "unsupported", "extra_arguments",
           "check_out", "partial_at", "chain_product", "as_real_array", "put_at", "is_numeric_argument"]


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
    # the caller down its slower, equally right path): one BLAS call, and no warnings. A vector's
    # own p.dot(p) is the same product without np.vdot's __array_function__ dispatch (a quarter
    # of the check's cost on short vectors); vdot flattens any other shape
    if isinstance(p, np.ndarray) and p.dtype.kind == "f":
        return math.isfinite(p.dot(p) if p.ndim == 1 and type(p) is np.ndarray else np.vdot(p, p))
    return bool(np.isfinite(primal(p)).all())


def chain_product(outer: Any, inner: Any, structural_outer_zeros: bool = False) -> Any:
    """``outer * inner`` for two factors of the chain rule, with dualad's one 0 x inf convention.

    ``inner`` is the derivative nearer the input, ``outer`` the one nearer the output:
    forward mode multiplies a partial (outer) into a tangent (inner), reverse mode a
    cotangent (outer) into a partial (inner). Both modes call this function:

    * a zero ``inner`` times an infinite (or NaN) ``outer`` is **0**, in both modes: the
      inner function is flat to first order, so the outer one's infinite slope cannot move
      it (``norm`` at 0, ``sqrt(x**3)`` at 0, an input the value does not depend on, and
      ``norm`` of a vector whose squares underflow: ``sqrt``'s partial at the underflowed
      ``0`` is infinite, the tangent of ``x*x`` there is 0 or subnormal);
    * a zero ``outer`` times an infinite ``inner`` stays **NaN** in forward mode
      (``sqrt(x)**2`` at 0, whose true derivative 1 only the whole function knows: a
      visible NaN, never a wrong number). Reverse mode passes
      ``structural_outer_zeros=True`` and gets 0 there, because its zero cotangents are
      nearly always structural: the branch ``np.where`` did not select, an output nobody
      used. Keeping those NaN would break the ``np.where(x > 0, np.sqrt(x), 0)`` idiom in
      reverse mode, which forward mode never multiplies (it selects tangents). The price is
      the one known gap, recorded by the strict xfail in ``tests/test_policy.py``: reverse
      mode cannot tell that ``2 * sqrt(0) = 0`` is a numerical zero, and gives 0 for
      ``sqrt(x)**2`` at 0.

    >>> import numpy as np
    >>> outer, inner = np.array([np.inf, 0.0]), np.array([0.0, np.inf])
    >>> chain_product(outer, inner), chain_product(outer, inner, structural_outer_zeros=True)
    (array([ 0., nan]), array([0., 0.]))
    """
    with np.errstate(invalid="ignore"):  # inf * 0 is resolved just below: no warning for it
        product = outer * inner
    if all_finite(product):
        return product
    zero = inner == 0
    if structural_outer_zeros:
        zero = zero | (outer == 0)
    return np.where(zero, 0.0, product)


def as_real_array(x: Any, name: str = "x", complex_ok: bool = False) -> np.ndarray:
    """``x`` read as a real float ndarray (ints become float64), or an InputError naming ``name`` and the remedy.

    What every entry point and ``Dual(...)`` read their inputs through. ``complex_ok``: a complex
    array is returned as it is (the entry points that take complex variables, see dualad.wirtinger).

    >>> as_real_array([1, 2]).dtype
    dtype('float64')
    """
    refuse_array_subclass(x, name)
    try:
        arr = np.array(x)
    except Exception as err:  # ragged lists and the like
        raise InputError(f"{name} must be a number or an array of numbers; numpy could not read "
                         f"{type(x).__name__} ({err}); remedy: pass a float, a list of floats or an ndarray") from None
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        return arr
    if kind == "c":
        if complex_ok:  # a complex variable: the caller checks what may be asked of it
            return arr
        raise InputError(f"{name} is complex ({describe(arr)}); this entry point differentiates real inputs only "
                         "(complex ones: dualad.jvp, dualad.jacobian(..., holomorphic=True), dualad.tape.grad, "
                         "dualad.tape.vjp; see the README's 'Complex numbers'); remedy: use one of those, or pass "
                         "real and imaginary parts as separate real inputs")
    if kind == "O" and all(isinstance(e, (int, float, np.integer, np.floating)) for e in arr.flat):
        # only real numbers: astype would turn None into nan and accept numeric strings
        try:
            return arr.astype(np.float64)
        except OverflowError:  # a Python int beyond float range
            raise InputError(f"{name} holds an integer too large for float64; remedy: scale the input") from None
    raise InputError(f"{name} must be a number or an array of numbers, got {describe(arr)}; "
                     "remedy: pass floats, ints or a numeric ndarray")


def extra_arguments(args: Any, where: str) -> tuple:
    """``args=`` of an entry point taking f's other arguments, as a tuple: a tuple or list as it is;
    anything else (``args=0.0``, which ``tuple()`` would refuse or, for a string or an array, split into
    several arguments) an :class:`InputError` naming the remedy.

    >>> extra_arguments([0.0, "BDF"], "prepare")
    (0.0, 'BDF')
    """
    if isinstance(args, (tuple, list)):
        return tuple(args)
    raise InputError(f"{where}: args must be a tuple of f's other arguments, got {describe(args)}; "
                     f"remedy: args=({args!r},) for one argument")


def put_at(struct: list, args: Any, pos: int, sub: Any, value: Any) -> None:
    """``struct[pos] = value``, or item ``sub`` of a list argument's entry (made on first use).

    ``struct`` is laid out like ``args`` (one entry per positional argument, None for a
    constant): the layout rules' jvp/vjp see tangents and cotangents in.

    >>> struct = [None, None]
    >>> put_at(struct, (1.0, [2.0, 3.0]), 1, 0, "t"); struct
    [None, ['t', None]]
    """
    if sub is None:
        struct[pos] = value
    else:
        if struct[pos] is None:
            struct[pos] = [None] * len(args[pos])
        struct[pos][sub] = value


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


#: functions whose ``order=`` is an index order their rule follows (``np.reshape(x, s, order='F')``)
ORDERED: set = {np.reshape, np.copy}  # np.copy: the layout of the value (numpy computes it)

#: keyword arguments no engine differentiates through (``order=`` only as 'K' or 'C', or for ORDERED)
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
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        raise ConversionError(f"{func_name(func)}(..., dtype={np.dtype(dtype)}) would drop {loses}; "
                              "remedy: use a float (or complex) dtype or leave dtype out")
    for bad in _REFUSED_KEYWORDS:
        if bad == "axes" and not isinstance(func, np.ufunc):
            continue  # a gufunc's axes= is refused; np.transpose(x, axes=...) is its rule's own argument
        if bad in kwargs and not (bad == "order" and (kwargs[bad] in ("K", "C") or func in ORDERED)) \
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


def is_numeric_argument(a: Any) -> bool:
    """An argument that can carry a derivative (a number or a real array), as opposed to an option
    (a bool, a string, a callable) of a user-defined rule, a root finder or an ODE solver.

    >>> is_numeric_argument(2.0), is_numeric_argument(np.arange(3)), is_numeric_argument(True)
    (True, True, False)
    """
    if isinstance(a, ArrayLike):
        return True
    if isinstance(a, bool) or not isinstance(a, (int, float, np.ndarray, np.generic)):
        return False
    return np.asarray(a).dtype.kind in "fiu"
