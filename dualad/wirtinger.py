"""Complex values in every engine: one convention, the Wirtinger calculus of elementwise rules.

dualad's convention (JAX's; README "Complex numbers"):

* a tangent of a complex value is complex, and the tangent of ``w = f(z)`` is the real-linear
  map ``dw = f_z dz + f_zbar conj(dz)`` (Wirtinger partials ``f_z``, ``f_zbar``); for a
  holomorphic ``f`` it is ``f'(z) dz``; a real value always has a real tangent;
* a cotangent of a complex value is complex and is transposed WITHOUT conjugation: the
  cotangent of ``z`` is ``f_z ct + conj(f_zbar) conj(ct)``, so a complex-linear map
  (``fft``, ``@``, a reshape) has its plain transpose as adjoint, exactly as for reals; a
  real value takes the real part of what reaches it. For a real ``L(z)``, ``grad`` is
  ``dL/dx - i dL/dy`` (JAX's; PyTorch returns its conjugate, ``dL/dx + i dL/dy``).

Rules opt in (``Elementwise.complex``, ``Linear.complex``, ``Custom.complex``,
``Composite.complex``); an entry that has not is refused on complex values by
:func:`refuse`, never evaluated with real formulas. :func:`holomorphic_only` is the
switch ``jacobian(..., holomorphic=True)`` turns on: a non-holomorphic operation met
while it is on raises :class:`NonHolomorphicError`.

>>> import numpy as np, dualad
>>> float(dualad.jvp(lambda x: np.abs(x * (1 + 1j)), 2.0, 1.0)[1])     # |x (1+i)| = sqrt(2) x
1.414213562373095
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

import numpy as np

from .arraylike import ArrayLike, primal
from .common import func_name
from .errors import NonHolomorphicError, UnsupportedFunctionError, describe
from .rules import HOLOMORPHIC, NEG_ONE, ONE

__all__ = ["is_complex", "any_complex", "holomorphic_only", "check_holomorphic", "refuse",
           "elementwise_tangent", "elementwise_cotangent", "wirtinger_pairs", "real_part_for"]

_HOLOMORPHIC_ONLY: contextvars.ContextVar[str | None] = contextvars.ContextVar("dualad_holomorphic_only",
                                                                               default=None)


def is_complex(x: Any) -> bool:
    """True when ``x`` (plain, or differentiable at any depth) holds complex numbers."""
    if isinstance(x, ArrayLike):
        x = primal(x)
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype.kind == "c"
    return isinstance(x, complex)  # a Python complex (np.complex128 has a dtype)


def any_complex(xs: Any) -> bool:
    """True when any of ``xs`` (one level into lists and tuples) is complex."""
    for x in xs:
        if type(x) is np.ndarray:  # the common case, without a call (real code pays for this check)
            if x.dtype.kind == "c":
                return True
        elif isinstance(x, (list, tuple)):
            if any_complex(x):
                return True
        elif is_complex(x):
            return True
    return False


@contextlib.contextmanager
def holomorphic_only(caller: str) -> Iterator[None]:
    """While active, a non-holomorphic operation on a complex value raises (``holomorphic=True``)."""
    token = _HOLOMORPHIC_ONLY.set(caller)
    try:
        yield
    finally:
        _HOLOMORPHIC_ONLY.reset(token)


def check_holomorphic(func: Any) -> None:
    """Raise :class:`NonHolomorphicError` if a ``holomorphic=True`` evaluation meets ``func``."""
    caller = _HOLOMORPHIC_ONLY.get()
    if caller is not None:
        raise NonHolomorphicError(
            f"{func_name(func)} is not holomorphic (it depends on conj(z) as well as z), but "
            f"{caller}(..., holomorphic=True) returns the complex derivative df/dz, which does not exist "
            "for it; remedy: drop holomorphic=True and use dualad.jvp (the real-linear map df = f_z dz + "
            "f_zbar conj(dz)), dualad.tape.grad for a real-valued f, or differentiate the real and "
            "imaginary parts as separate real inputs")


def refuse(func: Any, args: Any = ()) -> UnsupportedFunctionError:
    """The error for an entry that has no complex rule meeting a complex value."""
    value = next((a for a in args if isinstance(a, ArrayLike)), None)
    if value is None:  # plain values (an engine's inner call): the first complex one
        value = next((a for a in args if isinstance(a, (np.ndarray, np.generic)) and is_complex(a)), None)
    on = f" (called on {describe(value)})" if value is not None else ""
    return UnsupportedFunctionError(
        f"{func_name(func)}{on} has no complex derivative rule in dualad (its rule is for real values, and "
        "using it on complex values could give a wrong derivative); remedy: compute it on real arrays "
        "(e.g. on the real and imaginary parts, np.real(z) and np.imag(z)), or see the README's "
        "'Complex numbers' for what is supported")


def wirtinger_pairs(rule) -> tuple | None:
    """Per input ``(f_z, f_zbar)`` of an Elementwise rule on complex values, or None if it has none."""
    spec = rule.complex
    if spec is None:
        return None
    if spec == HOLOMORPHIC:
        return tuple((p, None) for p in rule.partials)
    return spec


def _apply(partial, out, values):
    if partial is ONE:
        return 1.0
    if partial is NEG_ONE:
        return -1.0
    with np.errstate(all="ignore"):  # infinite partials at branch points are dealt with in _times
        return partial(out, *values)


def _times(p, t, batched: bool):
    """``p * t`` with 0 where ``t`` is 0 (an infinite partial times a zero tangent is 0, as for reals)."""
    if batched and np.ndim(p):
        p = np.asarray(p)[..., None] if not isinstance(p, ArrayLike) else p[..., None]
    with np.errstate(invalid="ignore", over="ignore"):
        c = p * t
    if isinstance(c, np.ndarray) and not np.isfinite(c).all():
        c = np.where(t == 0, 0.0, c)
    return c


def elementwise_tangent(ufunc, rule, out, values, tangents, batched: bool):
    """The tangent of ``out = ufunc(*values)`` where complex numbers are involved.

    ``tangents`` holds each input's tangent (None for constants). Raises the refusal
    for a rule without a complex form, and :class:`NonHolomorphicError` under
    :func:`holomorphic_only` for a rule with a conj(dz) term.
    """
    pairs = wirtinger_pairs(rule)
    if pairs is None:
        raise refuse(ufunc, values)
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        p, q = pairs[i]
        term = None
        if p is not None:
            term = _times(_apply(p, out, values), t, batched)
        if q is not None:
            if is_complex(values[i]):
                check_holomorphic(ufunc)
            conj_term = _times(_apply(q, out, values), np.conjugate(t), batched)
            term = conj_term if term is None else term + conj_term
        if term is None:
            continue
        total = term if total is None else total + term
    shape = np.shape(primal(out)) + ((np.shape(primal(next(t for t in tangents if t is not None)))[-1],)
                                     if batched else ())
    if total is None:
        total = np.zeros(shape, dtype=np.result_type(primal(out), np.float64))
    elif np.shape(primal(total)) != shape:
        total = np.broadcast_to(total, shape)
    return real_part_for(out, total)


def elementwise_cotangent(func, rule, pos: int, out, values, ct):
    """The cotangent of input ``pos`` of an Elementwise node on complex values (batched ``ct``).

    ``f_z ct + conj(f_zbar) conj(ct)`` (the real input of such a node takes its real part
    later, where the adjoint is stored). Not yet summed over broadcast axes.
    """
    pairs = wirtinger_pairs(rule)
    if pairs is None:
        raise refuse(func, values)
    p, q = pairs[pos]
    c = None
    if p is not None:
        c = _times(_apply(p, out, values), ct, True)
    if q is not None:
        if is_complex(values[pos]):
            check_holomorphic(func)
        conj_term = _times(np.conjugate(_apply(q, out, values)), np.conjugate(ct), True)
        c = conj_term if c is None else c + conj_term
    if c is None:
        c = np.zeros(np.shape(primal(ct)), dtype=np.result_type(primal(ct), np.float64))
    return c


def real_part_for(value, t):
    """``t`` as the tangent (or cotangent) of ``value``: its real part when ``value`` is real.

    The map into a real value is real, so the imaginary part is zero up to rounding
    (or, for a cotangent, is the part that a real input does not see).
    """
    if is_complex(t) and not is_complex(value):
        t = np.real(t)
        dtype = getattr(primal(value), "dtype", None)
        if dtype is not None and dtype.kind == "f" and getattr(primal(t), "dtype", dtype) != dtype:
            t = t.astype(dtype)
    return t
