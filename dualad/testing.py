"""Helpers for users' own test suites.

>>> import numpy as np
>>> from dualad.testing import assert_derivatives_close
>>> _ = assert_derivatives_close(lambda v: np.exp(v) * v, np.array([0.1, 0.2]))
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .checking import GradCheckReport, check_grad
from .errors import InputError, describe

__all__ = ["assert_derivatives_close", "check_rule", "RuleCheckReport"]


def assert_derivatives_close(f: Callable, x: Any, **options) -> GradCheckReport:
    """Assert that forward mode, reverse mode and finite differences agree on ``f`` at ``x``.

    Keyword options go to :func:`dualad.check_grad` (``methods``, ``rtol``,
    ``atol``, ``ad_rtol``, ``ad_atol``, ``rel_step``, ``worst``). Raises
    ``AssertionError`` whose message is the full report; returns the report
    when everything agrees.

    >>> import numpy as np
    >>> from dualad.testing import assert_derivatives_close
    >>> report = assert_derivatives_close(np.tanh, np.array([0.3, -1.0]))
    >>> report.passed
    True
    """
    report = check_grad(f, x, **options)
    if not report.passed:
        raise AssertionError("derivatives disagree\n" + str(report))
    return report


@dataclass
class RuleCheckReport:
    """The result of :func:`check_rule`: one line per check, ``passed`` if all passed.

    ``checks`` holds ``(name, max error, tolerance, passed)``; ``grad_reports`` the
    :class:`~dualad.checking.GradCheckReport` of each differentiated argument.
    """

    name: str
    checks: list
    grad_reports: dict
    passed: bool

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"check_rule: {self.name}"]
        width = max((len(c[0]) for c in self.checks), default=10)
        for name, err, tol, ok in self.checks:
            lines.append(f"  {name.ljust(width)}  max err {err:.2e}  (tolerance {tol:.0e})  {'ok' if ok else 'FAIL'}")
        for i, report in self.grad_reports.items():
            if not report.passed:
                lines += ["", f"argument {i}:", str(report)]
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)

    __repr__ = __str__


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return math.inf
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b), initial=0.0)) / scale


def check_rule(f: Callable, args: Sequence[Any], *, rtol: float = 1e-5, atol: float = 1e-6,
               linearity_rtol: float = 1e-9, rel_step: float | None = None, seed: int = 0) -> RuleCheckReport:
    """Check a user-defined rule (:func:`dualad.custom_jvp`, :func:`dualad.custom_vjp`,
    :func:`dualad.float_function`) at ``args``; raise ``AssertionError`` with the report if it fails.

    Checks, for every differentiated argument: the Jacobian from the rule in forward mode
    (if it has a JVP) and in reverse mode against central differences of the function on
    plain floats, and forward against reverse; that the JVP's primal output equals the
    function's value; and that the JVP is linear in the tangents (``jvp(a t1 + b t2) =
    a jvp(t1) + b jvp(t2)`` on random directions), likewise the VJP in the cotangent.

    >>> import numpy as np, dualad
    >>> from dualad.testing import check_rule
    >>> @dualad.custom_jvp
    ... def f(x, y):
    ...     return np.sin(x) * y
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     (x, y), (tx, ty) = primals, tangents
    ...     return np.sin(x) * y, np.cos(x) * y * tx + np.sin(x) * ty
    >>> check_rule(f, (np.array([0.1, 0.7]), np.array([2.0, 3.0]))).passed
    True
    """
    from .custom import CustomFunction
    if not isinstance(f, CustomFunction):
        raise InputError(f"check_rule checks a function with a rule of its own (custom_jvp, custom_vjp, "
                         f"float_function), got {describe(f)}; remedy: use dualad.check_grad for other functions")
    args = list(args)
    rng = np.random.default_rng(seed)
    diff = [i for i in range(len(args)) if i not in f.nondiff_argnums]
    checks: list = []
    reports: dict = {}
    has_jvp = f.jvp_rule is not None or f.batched_jvp is not None
    methods = ("forward", "reverse", "fd") if has_jvp else ("reverse", "fd")
    for i in diff:
        x = np.array(args[i], dtype=float)

        def g(a, i=i):
            full = list(args)
            full[i] = a
            return f(*full)

        report = check_grad(g, x, methods=methods, rtol=rtol, atol=atol, rel_step=rel_step, worst=3)
        reports[i] = report
        for p in report.pairs:
            checks.append((f"argument {i}: {p.name}", p.max_abs, p.atol + p.rtol, p.passed))
    primals = [np.array(args[i], dtype=float) for i in diff]
    nondiff = [args[i] for i in sorted(f.nondiff_argnums) if i < len(args)]
    value = f.fun(*args)
    if f.jvp_rule is not None:
        def jvp(ts):
            return f.jvp_rule(*nondiff, tuple(primals), tuple(ts))
        t1 = [rng.standard_normal(np.shape(p)) for p in primals]
        t2 = [rng.standard_normal(np.shape(p)) for p in primals]
        a, b = 0.7, -1.3
        y1, o1 = jvp(t1)
        _, o2 = jvp(t2)
        _, o3 = jvp([a * u + b * v for u, v in zip(t1, t2)])
        err = _rel_err(y1, value)
        checks.append(("JVP primal output = f(*args)", err, linearity_rtol, err <= linearity_rtol))
        err = _rel_err(o3, a * np.asarray(o1) + b * np.asarray(o2))
        checks.append(("JVP linear in the tangents", err, linearity_rtol, err <= linearity_rtol))
    if f.fwd_rule is not None:
        out, res = f.fwd_rule(*args)
        err = _rel_err(out, value)
        checks.append(("fwd output = f(*args)", err, linearity_rtol, err <= linearity_rtol))
        u1, u2 = (rng.standard_normal(np.shape(value)) for _ in range(2))
        a, b = 0.7, -1.3
        c1, c2 = f.bwd_rule(*nondiff, res, u1), f.bwd_rule(*nondiff, res, u2)
        c3 = f.bwd_rule(*nondiff, res, a * u1 + b * u2)
        err = max(_rel_err(z, a * np.asarray(x1) + b * np.asarray(x2)) for x1, x2, z in zip(c1, c2, c3)
                  if z is not None)
        checks.append(("VJP linear in the cotangent", err, linearity_rtol, err <= linearity_rtol))
    passed = all(c[3] for c in checks)
    report = RuleCheckReport(f.name, checks, reports, passed)
    if not passed:
        raise AssertionError("the rule disagrees\n" + str(report))
    return report
