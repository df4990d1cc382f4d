"""Checking derivatives three ways: forward mode, reverse mode, central finite differences.

:func:`check_grad` computes the Jacobian of ``f`` at ``x`` by each method and
compares every pair; the :class:`GradCheckReport` it returns says how far
apart they are, whether that is within tolerance, and which entries are worst.
Forward and reverse mode must agree to rounding (they apply the same rules in
a different order); finite differences only to their truncation and rounding
error, hence the looser default tolerance for pairs that involve them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InputError, OutputError
from .forward import as_input, jacobian as forward_jacobian

__all__ = ["check_grad", "GradCheckReport", "PairError", "central_differences", "METHODS"]

METHODS = ("forward", "reverse", "fd")


def central_differences(f: Callable, x: Any, rel_step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(J, h)``: the Jacobian of ``f`` at ``x`` by central differences, and the step of each entry.

    The step is relative to each entry, ``h_i = rel_step * max(1, |x_i|)``, with
    ``rel_step = eps ** (1/3)`` by default (it balances truncation, ~h², against
    rounding, ~eps/h). ``J`` has shape ``f(x).shape + x.shape``; ``f`` is called
    ``2 * x.size`` times on plain arrays.

    >>> import numpy as np
    >>> J, h = central_differences(lambda v: v ** 2, np.array([1.0, 3.0]))
    >>> np.round(J, 6)
    array([[2., 0.],
           [0., 6.]])
    """
    x = np.array(as_input(x), copy=True)
    if rel_step is None:
        rel_step = float(np.finfo(x.dtype).eps) ** (1.0 / 3.0)
    flat = x.reshape(-1)
    steps = rel_step * np.maximum(1.0, np.abs(flat))
    y0 = _numeric(f(x.copy()))
    J = np.zeros(y0.shape + (flat.size,), dtype=np.result_type(y0.dtype, x.dtype, np.float64))
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += steps[i]
        down[i] -= steps[i]
        h = up[i] - down[i]  # the step actually taken, after rounding x_i + h
        J[..., i] = (_numeric(f(up.reshape(x.shape))) - _numeric(f(down.reshape(x.shape)))) / h
    return J.reshape(y0.shape + x.shape), steps.reshape(x.shape)


def _numeric(y) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise OutputError(f"the function returned {arr.dtype} values; remedy: return numbers or arrays")
    return arr.astype(np.float64) if arr.dtype.kind != "f" else arr


@dataclass
class PairError:
    """How far two methods' Jacobians are apart, and whether that is within tolerance.

    ``max_rel`` is ``|a - b| / max(|a|, |b|)`` over entries larger than ``atol``
    (smaller ones are judged by ``atol`` alone). An entry passes when
    ``|a - b| <= atol + rtol * max(|a|, |b|)``.
    """

    first: str
    second: str
    max_abs: float
    max_rel: float
    rtol: float
    atol: float
    passed: bool
    ratio: np.ndarray = field(repr=False)  # per entry: |a - b| / (atol + rtol * max(|a|, |b|))

    @property
    def name(self) -> str:
        return f"{self.first} vs {self.second}"


@dataclass
class GradCheckReport:
    """The result of :func:`check_grad`. ``str(report)`` is a readable table; ``bool(report)`` is ``passed``.

    Attributes: ``jacobians`` (method name -> array of shape ``f(x).shape + x.shape``),
    ``pairs`` (one :class:`PairError` per pair of methods), ``worst`` (the entries
    with the largest error relative to tolerance: ``(index, {method: value},
    pair name, abs error)``), ``steps`` (the finite-difference step per entry of
    ``x``), ``passed``.
    """

    x_shape: tuple
    out_shape: tuple
    jacobians: dict
    pairs: list
    worst: list
    steps: np.ndarray | None
    rel_step: float | None
    passed: bool

    def __bool__(self) -> bool:
        return self.passed

    def pair(self, first: str, second: str) -> PairError:
        """The comparison of two methods (in either order)."""
        for p in self.pairs:
            if {p.first, p.second} == {first, second}:
                return p
        raise KeyError(f"no pair {first!r} vs {second!r}; methods: {list(self.jacobians)}")

    def __str__(self) -> str:
        n, m = math.prod(self.x_shape), math.prod(self.out_shape)
        head = (f"check_grad: f: R^{n} -> R^{m} (Jacobian shape {self.out_shape + self.x_shape}), "
                f"methods {', '.join(self.jacobians)}")
        if self.rel_step is not None:
            head += f"\ncentral differences: h_i = {self.rel_step:.2e} * max(1, |x_i|)"
        rows = [("pair", "max abs err", "max rel err", "tolerance", "result")]
        for p in self.pairs:
            rows.append((p.name, f"{p.max_abs:.2e}", f"{p.max_rel:.2e}", f"rtol {p.rtol:.0e}, atol {p.atol:.0e}",
                         "ok" if p.passed else "FAIL"))
        lines = [head, "", *_table(rows)]
        if self.worst:
            lines += ["", "worst entries (largest error relative to tolerance):"]
            methods = list(self.jacobians)
            rows = [("entry", *methods, "pair", "abs err")]
            for index, values, pair, err in self.worst:
                rows.append((str(index), *(f"{values[k]:.12g}" for k in methods), pair, f"{err:.2e}"))
            lines += ["  " + line for line in _table(rows)]
        failed = [p.name for p in self.pairs if not p.passed]
        lines += ["", "PASSED: every pair within tolerance" if self.passed else f"FAILED: {', '.join(failed)}"]
        return "\n".join(lines)

    __repr__ = __str__


def _table(rows) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _compare(first, second, a, b, rtol, atol) -> PairError:
    with np.errstate(invalid="ignore"):
        diff = np.where(a == b, 0.0, np.abs(a - b))  # equal infinities agree; NaN never does
    size = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = diff / (atol + rtol * size)
        rel = np.where(size > atol, diff / np.where(size > 0, size, 1.0), 0.0)
    ratio = np.where(np.isnan(diff), np.inf, ratio)  # a NaN in one method is a failure, never a pass
    max_abs = float(np.max(diff)) if diff.size else 0.0
    max_rel = float(np.max(rel)) if rel.size else 0.0
    passed = bool(np.all(ratio <= 1.0))
    return PairError(first, second, max_abs, max_rel, rtol, atol, passed, ratio)


def check_grad(f: Callable, x: Any, *, methods: Sequence[str] = METHODS, rtol: float | None = None,
               atol: float | None = None, ad_rtol: float | None = None, ad_atol: float | None = None,
               rel_step: float | None = None, worst: int = 5) -> GradCheckReport:
    """Differentiate ``f`` at ``x`` by forward mode, reverse mode and central differences, and compare.

    ``methods`` picks a subset of ``("forward", "reverse", "fd")`` (at least
    two). Pairs involving finite differences pass within ``rtol``/``atol``;
    the forward/reverse pair within ``ad_rtol`` and ``ad_atol`` (default
    ``1e-12 * max(1, max |J|)``), since both are exact up to rounding.
    Defaults follow x's precision: in float64 ``rtol=1e-5``, ``atol=1e-6``,
    ``ad_rtol=1e-9``; in float32 the differences' own error (about
    ``eps ** (2/3)`` relative, with the default step) sets them:
    ``rtol = 10 * atol / max(1, max |J|) = 100 * eps ** (2/3)`` (2.4e-3) and
    ``ad_rtol = ad_atol / max(1, max |J|) = 100 * eps``.
    The finite-difference step is ``rel_step * max(1, |x_i|)`` per entry
    (default ``rel_step = eps ** (1/3)``). Works for any output shape. Complex intermediates
    need nothing; for a complex ``x`` (or complex outputs) the Jacobians compared are those of
    ``(Re f, Im f)`` with respect to ``(Re x, Im x)`` (shape ``(2,) + x.shape`` for the input), so
    the differences step along the real and the imaginary axis of every entry.

    >>> import numpy as np, dualad
    >>> report = dualad.check_grad(lambda v: np.sum(np.sin(v) * v), np.array([0.5, 1.0, 2.0]))
    >>> report.passed, report.pair("forward", "reverse").max_abs < 1e-14
    (True, True)
    """
    methods = tuple(methods)
    for meth in methods:
        if meth not in METHODS:
            raise InputError(f"unknown method {meth!r}; remedy: choose from {METHODS}")
    if len(set(methods)) < 2:
        raise InputError(f"check_grad compares methods, so it needs at least two; got {methods}")
    x = as_input(x, complex_ok=True)
    if x.dtype.kind == "c":
        # a complex x: every method differentiates (Re f, Im f) with respect to (Re x, Im x), so the
        # differences step along the real and the imaginary axis of each entry
        def parts(v):
            y = f(v[0] + 1j * v[1])
            dtype = getattr(y, "dtype", None)
            return np.stack([np.real(y), np.imag(y)]) if dtype is not None and dtype.kind == "c" else y
        return check_grad(parts, np.stack([x.real, x.imag]), methods=methods, rtol=rtol, atol=atol,
                          ad_rtol=ad_rtol, ad_atol=ad_atol, rel_step=rel_step, worst=worst)
    jacobians, steps, used_step = {}, None, None
    for meth in methods:
        if meth == "forward":
            jacobians[meth] = np.asarray(forward_jacobian(f, x.copy()))
        elif meth == "reverse":
            from . import tape
            jacobians[meth] = np.asarray(tape.jacobian(f, x.copy()))
        else:
            jacobians[meth], steps = central_differences(f, x, rel_step)
            used_step = rel_step if rel_step is not None else float(np.finfo(x.dtype).eps) ** (1.0 / 3.0)
    shapes = {k: v.shape for k, v in jacobians.items()}
    if len(set(shapes.values())) != 1:
        raise OutputError(f"the methods gave Jacobians of different shapes {shapes}")
    J0 = next(iter(jacobians.values()))
    out_shape = J0.shape[:J0.ndim - x.ndim]
    scale = max([1.0] + [float(np.max(np.abs(J))) for J in jacobians.values() if J.size and np.all(np.isfinite(J))])
    eps = float(np.finfo(x.dtype).eps) if x.dtype.kind == "f" else float(np.finfo(np.float64).eps)
    fd_tol = max(1e-5, 100.0 * eps ** (2.0 / 3.0))  # 1e-5 in float64, 2.4e-3 in float32
    rtol = fd_tol if rtol is None else rtol
    atol = max(1e-6, 0.1 * fd_tol * scale if eps > 1e-10 else 1e-6) if atol is None else atol
    ad_rtol = max(1e-9, 100.0 * eps) if ad_rtol is None else ad_rtol
    if ad_atol is None:
        ad_atol = max(1e-12, 100.0 * eps if eps > 1e-10 else 1e-12) * scale
    pairs = []
    names = list(jacobians)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            exact = "fd" not in (a, b)
            r, t = (ad_rtol, ad_atol) if exact else (rtol, atol)
            pairs.append(_compare(a, b, jacobians[a], jacobians[b], r, t))
    return GradCheckReport(tuple(x.shape), tuple(out_shape), jacobians, pairs,
                           _worst(jacobians, pairs, worst), steps, used_step, all(p.passed for p in pairs))


def _worst(jacobians: dict, pairs: list, count: int) -> list:
    """The ``count`` entries with the largest error relative to tolerance, over all pairs."""
    if count <= 0 or not pairs or not next(iter(jacobians.values())).size:
        return []
    ratios = np.stack([p.ratio for p in pairs])  # (pairs, *J.shape)
    flat = ratios.reshape(len(pairs), -1)
    per_entry = np.max(flat, axis=0)
    which = np.argmax(flat, axis=0)
    shape = next(iter(jacobians.values())).shape
    out = []
    for e in np.argsort(-per_entry, kind="stable")[:count]:
        index = np.unravel_index(e, shape)
        values = {k: float(J[index]) for k, J in jacobians.items()}
        p = pairs[which[e]]
        out.append((tuple(int(i) for i in index), values, p.name,
                    abs(values[p.first] - values[p.second])))
    return out
