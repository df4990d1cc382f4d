"""Derivatives of implicitly defined solutions: roots, fixed points and minimisers.

``@custom_root(F)`` marks a solver whose result ``x*`` satisfies ``F(x*, *args) = 0``. Its
derivative is the implicit function theorem's, ``dx*/dp = -F_x⁻¹ F_p``, with ``F_x`` and the
products with ``F_p`` computed by dualad from ``F`` itself; the solver is never differentiated
and may be anything (scipy, a compiled code, a hand-written loop).

- forward mode: one forward pass of ``F`` carries every tangent direction of the arguments
  (``F_p T``), then one linear solve with ``F_x`` for all directions;
- reverse mode: one solve with ``F_xᵀ``, then one reverse sweep of ``F`` (``F_pᵀ w``);
- ``sparse=True``: ``F_x`` by colouring (its pattern and colours found once) and a sparse LU;
- nested and second derivatives: the same formulas run on Duals;
- a singular or ill-conditioned ``F_x`` raises :class:`dualad.CustomRuleError` with the
  condition number, never a NaN.

Fixed points ``x = G(x, *args)`` (:func:`custom_fixed_point`) and minimisers of
``L(x, *args)`` (:func:`custom_argmin`, through ``∇ₓL = 0``) are thin layers on it.

>>> import numpy as np, dualad
>>> def F(x, p):                      # x* = sqrt(p)
...     return x ** 2 - p
>>> @dualad.custom_root(F)
... def sqrt_by_bisection(p):
...     lo, hi = 0.0, max(1.0, float(p))
...     for _ in range(100):
...         mid = 0.5 * (lo + hi)
...         lo, hi = (mid, hi) if mid * mid < p else (lo, mid)
...     return np.array(0.5 * (lo + hi))
>>> round(float(dualad.derivative(sqrt_by_bisection, 4.0)), 12)   # 1 / (2 sqrt(4))
0.25
"""
from __future__ import annotations

import functools
import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from .arraylike import ArrayLike, primal as _primal
from .common import is_numeric_argument
from .custom import CustomFunction, is_differentiable
from .dual import Dual, new_tag
from .errors import CustomRuleError, describe
from .keywords import stack_nested

__all__ = ["custom_root", "custom_fixed_point", "custom_argmin", "ImplicitSolver", "MAX_CONDITION", "RESIDUAL_TOL"]

#: ``F_x`` with a larger (estimated) condition number is refused: derivatives from it would have
#: lost most of their digits (about ``log10(cond)`` of the 16).
MAX_CONDITION = 1e12

#: The implicit derivative holds at a solution only: it is refused where ``max |F(x*, p)|`` (read
#: off the residual evaluation the rule makes anyway) exceeds this.
RESIDUAL_TOL = 1e-6


def _shape(v) -> tuple:
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)


def _name(f) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


class _Problem:
    """The static part of one implicit solve: residual, solver, options (a constant to every engine)."""

    __slots__ = ("residual", "solver", "kwargs", "owner")

    def __init__(self, residual, solver, kwargs, owner):
        self.residual = residual
        self.solver = solver
        self.kwargs = kwargs
        self.owner = owner

    def solve(self, *args):
        x = self.solver(*args, **self.kwargs)
        if isinstance(x, ArrayLike):
            raise CustomRuleError(
                f"{self.owner.name}: the solver returned a differentiable value ({describe(x)}) although it was "
                "called on plain values; remedy: return a plain array (the derivative comes from the residual)")
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise CustomRuleError(f"{self.owner.name}: the solver returned {describe(x)}; remedy: return the "
                                  "solution as a real array")
        return arr.astype(np.float64) if arr.dtype.kind != "f" else arr

    def __repr__(self) -> str:
        return f"<implicit problem {self.owner.name}>"


def _condition(A) -> float:
    """The 2-norm condition number of a (plain) dense matrix; inf when singular."""
    with np.errstate(all="ignore"):
        try:
            c = float(np.linalg.cond(A))
        except np.linalg.LinAlgError:
            return math.inf
    return c if math.isfinite(c) else math.inf


def _sparse_condition(A, lu) -> float:
    """A 1-norm condition estimate of a sparse matrix from its LU (Higham-Tisseur, a few solves)."""
    import scipy.sparse.linalg as spla
    n = A.shape[0]
    inv = spla.LinearOperator((n, n), matvec=lu.solve, rmatvec=lambda v: lu.solve(v, trans="T"), dtype=float)
    with np.errstate(all="ignore"):
        c = float(spla.onenormest(inv) * spla.onenormest(A))
    return c if math.isfinite(c) else math.inf


def _array_output(residual: Callable) -> Callable:
    """``residual`` with a list or tuple output read as numpy reads it: scipy's documentation writes
    residuals as ``return [x[0] + 0.5 * (x[0] - x[1]) ** 3 - 1.0, ...]``, which ``np.asarray`` would
    refuse to take from differentiable entries (``np.stack`` keeps their derivatives)."""
    @functools.wraps(residual)
    def stacked(*args: Any, **kwargs: Any) -> Any:
        return stack_nested(residual(*args, **kwargs))
    return stacked


class ImplicitSolver:
    """A solver whose result is differentiated implicitly; made by :func:`custom_root` and friends.

    Calling it calls the solver on plain values; with differentiable arguments the result
    carries ``dx*/dargs = -F_x⁻¹ F_args`` in every mode. Attributes: ``residual`` (F),
    ``solver``, ``sparse``, ``max_condition``, ``nondiff_argnums``.
    """

    def __init__(self, residual: Callable, solver: Callable, *, sparse: bool = False,
                 max_condition: float = MAX_CONDITION, residual_tol: float = RESIDUAL_TOL,
                 nondiff_argnums: Sequence[int] = (), kind: str = "root"):
        functools.update_wrapper(self, solver)
        self.residual = _array_output(residual)
        self.solver = solver
        self.sparse = bool(sparse)
        self.max_condition = float(max_condition)
        self.residual_tol = float(residual_tol)
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.kind = kind
        self._sparse_jacobians: dict = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{_name(self.solver)} ({self.kind} of {_name(self.residual)})"

    def __repr__(self) -> str:
        return f"<dualad.ImplicitSolver {self.name}>"

    def __call__(self, *args, **kwargs):
        for key, v in kwargs.items():
            if is_differentiable(v):
                raise CustomRuleError(f"{self.name}: keyword argument {key!r} is differentiable ({describe(v)}); "
                                      "remedy: pass the parameters to differentiate positionally (F receives them "
                                      "after x)")
        problem = _Problem(self.residual, self.solver, kwargs, self)
        nondiff = tuple(i + 1 for i in self.nondiff_argnums)
        return IMPLICIT(problem, *args) if not nondiff else _with_nondiff(nondiff)(problem, *args)

    # ----------------------------------------------------------------- the pieces of the rule
    def F_x(self, x, args):
        """``F_x`` at the solution as an ``(n, n)`` matrix: dense (a Dual under nesting) or scipy.sparse."""
        n = int(np.prod(_shape(x), dtype=int))
        plain = not any(isinstance(a, ArrayLike) for a in (x,) + tuple(args))
        if self.sparse and plain:
            from .sparse import SparseJacobian
            key = (_shape(x), tuple(_shape(a) if not callable(a) else None for a in args))
            with self._lock:
                sj = self._sparse_jacobians.get(key)
                if sj is None:  # pattern and colours found once, at the first solution
                    sj = SparseJacobian(lambda z: self.residual(z, *args), x)
                    self._sparse_jacobians[key] = sj
                sj.f = lambda z: self.residual(z, *args)
                J = sj(x)
            return J.tocsc()
        from .forward import jacobian
        J = jacobian(lambda z: self.residual(z, *args), x)
        if _shape(J) != _shape(x) + _shape(x):
            raise CustomRuleError(f"{self.name}: F(x, *args) has shape {_shape(J)[:len(_shape(J)) - len(_shape(x))]}"
                                  f" but x has shape {_shape(x)}; remedy: F must return one residual per unknown")
        return np.reshape(J, (n, n))

    def factor(self, A):
        """A solver ``solve(rhs, transpose)`` for ``A``, after checking its conditioning."""
        if hasattr(A, "tocsc"):
            import scipy.sparse.linalg as spla
            try:
                lu = spla.splu(A)
            except RuntimeError:  # "Factor is exactly singular"
                self._refuse(math.inf, A.shape[0])
            cond = _sparse_condition(A, lu)
            if cond > self.max_condition:
                self._refuse(cond, A.shape[0])
            return lambda rhs, transpose=False: lu.solve(np.asarray(rhs), trans="T" if transpose else "N")
        cond = _condition(_primal(A) if not isinstance(_primal(A), ArrayLike) else _primal(A))
        if cond > self.max_condition:
            self._refuse(cond, _shape(A)[0])
        return lambda rhs, transpose=False: np.linalg.solve(np.swapaxes(A, 0, 1) if transpose else A, rhs)

    def check_residual(self, r) -> None:
        """Refuse a point that is not a solution: ``max |F(x*, p)|`` above ``residual_tol``."""
        value = _primal(r)
        worst = float(np.max(np.abs(value), initial=0.0))
        if not worst <= self.residual_tol:
            raise CustomRuleError(
                f"{self.name}: the solver returned a point where max |F(x, *args)| = {worst:.3g} > residual_tol="
                f"{self.residual_tol:.0e}, so it is not a solution and the implicit derivative would be wrong; "
                "remedy: tighten the solver's tolerance or improve its starting point (or pass residual_tol= if F is "
                "badly scaled)")

    def _refuse(self, cond: float, n: int):
        what = "singular (condition number inf)" if not math.isfinite(cond) else \
            f"ill-conditioned (condition number {cond:.3g} > max_condition={self.max_condition:.0e})"
        raise CustomRuleError(
            f"{self.name}: the Jacobian F_x of the residual with respect to x ({n} x {n}) is {what} at the "
            "solution, so dx*/dp = -F_x^-1 F_p is not determined "
            "(the root is not isolated, or the solver stopped away from a root); remedy: check that F(x*, p) = 0 "
            "has a unique solution near x*, rescale the unknowns, or raise max_condition if you accept the loss "
            "of digits")


def _with_nondiff(nondiff: tuple) -> CustomFunction:
    """The implicit primitive with extra arguments held constant (cached per positions)."""
    with _NONDIFF_LOCK:
        f = _NONDIFF.get(nondiff)
        if f is None:
            f = _make_primitive(nondiff)
            _NONDIFF[nondiff] = f
        return f


def _solution(problem, *args):
    return problem.solve(*args)


def _batched_jvp(static, primals, tangents, out):
    problem = static.nondiff[0]
    owner = problem.owner
    args = static.merge(primals)[1:]
    x = out
    k = next(_shape(t)[-1] for t in tangents if t is not None)
    # F_p T for every direction at once: one forward pass of F with the arguments as Duals
    tag = new_tag()
    dual_args = []
    it = iter(zip(primals, tangents))
    for i, a in enumerate(static.merge(primals)):
        if i in static.nondiff:
            if i:
                dual_args.append(a)
            continue
        p, t = next(it)
        dual_args.append(p if t is None else Dual._make(p, t, tag))
    r = owner.residual(x, *dual_args)
    owner.check_residual(r)
    if isinstance(r, Dual) and r.tag == tag:
        rhs = r.tangent
    else:
        return np.zeros(_shape(x) + (k,), dtype=np.result_type(_primal(x), np.float64))
    n = int(np.prod(_shape(x), dtype=int))
    if _shape(rhs) != _shape(x) + (k,):
        raise CustomRuleError(f"{owner.name}: F(x, *args) has shape {_shape(rhs)[:-1]} but x has shape {_shape(x)}; "
                              "remedy: F must return one residual per unknown")
    solve = owner.factor(owner.F_x(x, args))
    dx = -solve(np.reshape(rhs, (n, k)))
    return np.reshape(dx, _shape(x) + (k,))


def _batched_vjp(static, primals, out, ct):
    from .tape.api import watch
    from .tape.graph import Tape
    from .tape.var import Var

    problem = static.nondiff[0]
    owner = problem.owner
    args = static.merge(primals)[1:]
    x = out
    n = int(np.prod(_shape(x), dtype=int))
    k = _shape(ct)[-1]
    solve = owner.factor(owner.F_x(x, args))
    w = solve(np.reshape(ct, (n, k)), transpose=True)  # F_xᵀ w = ct
    # -F_pᵀ w: one reverse sweep of F with the arguments as the tape's inputs
    tape = Tape()
    merged = static.merge(primals)
    full, watched = [], []
    for i, a in enumerate(merged[1:], start=1):
        if i in static.nondiff or not is_numeric_argument(a):
            full.append(a)
            if i not in static.nondiff:
                watched.append(None)
        else:
            v = watch(tape, a)
            full.append(v)
            watched.append(v)
    r = owner.residual(x, *full)
    owner.check_residual(r)
    if not (isinstance(r, Var) and r.tape is tape):
        return [np.zeros(_shape(p) + (k,), dtype=np.result_type(_primal(p), np.float64))
                if is_numeric_argument(p) else None
                for p in primals]
    if _shape(r) != _shape(x):
        raise CustomRuleError(f"{owner.name}: F(x, *args) has shape {_shape(r)} but x has shape {_shape(x)}; "
                              "remedy: F must return one residual per unknown")
    tape.output = r
    adj = tape.sweep(-np.reshape(w, _shape(x) + (k,)))
    tape.output = None
    tape.pending_views = []  # (a cycle through the tape otherwise)
    return [None if v is None else np.zeros(_shape(p) + (k,), dtype=np.result_type(_primal(p), np.float64))
            if adj[v.node.index] is None else adj[v.node.index] for p, v in zip(primals, watched)]




def _make_primitive(nondiff: tuple) -> CustomFunction:
    f = CustomFunction(_solution, nondiff_argnums=(0,) + tuple(nondiff))
    f._kind = "implicit"
    f.batched_jvp = _batched_jvp
    f.batched_vjp = _batched_vjp
    return f


_NONDIFF: dict = {}
_NONDIFF_LOCK = threading.Lock()
#: the one table entry every implicit solve goes through (the residual and solver travel as constants)
IMPLICIT = _make_primitive(())


# --------------------------------------------------------------------------- the decorators
def custom_root(residual: Callable, *, sparse: bool = False, max_condition: float = MAX_CONDITION,
                residual_tol: float = RESIDUAL_TOL, nondiff_argnums: Sequence[int] = ()
                ) -> Callable[[Callable], ImplicitSolver]:
    """Decorate a solver whose result ``x*`` satisfies ``residual(x*, *args) = 0``.

    The decorated ``solver(*args, **options)`` runs on plain values; differentiable
    positional ``args`` (Duals, tape values, nested) give a differentiable ``x*`` by the
    implicit function theorem. ``residual`` is written in numpy and differentiated by dualad.
    Keyword options go to the solver only (an initial guess, tolerances). ``sparse=True``
    computes ``F_x`` by colouring and solves with a sparse LU. Arguments listed in
    ``nondiff_argnums`` (positions in ``args``) are constants (callables, ints). The derivative
    is refused where ``max |residual(x*, *args)| > residual_tol`` (not a solution) or ``F_x``'s
    condition number exceeds ``max_condition``.

    >>> import numpy as np, dualad
    >>> from scipy.optimize import brentq
    >>> F = lambda x, a: x ** 3 + a * x - 1.0
    >>> @dualad.custom_root(F)
    ... def solve(a):
    ...     return np.array(brentq(F, 0.0, 1.0, args=(a,), xtol=1e-15))
    >>> x = solve(2.0)
    >>> bool(abs(float(dualad.derivative(solve, 2.0)) + x / (3 * x ** 2 + 2.0)) < 1e-12)   # -F_a / F_x
    True
    """
    def decorate(solver: Callable) -> ImplicitSolver:
        return ImplicitSolver(residual, solver, sparse=sparse, max_condition=max_condition,
                              residual_tol=residual_tol, nondiff_argnums=nondiff_argnums)
    return decorate


def custom_fixed_point(G: Callable, **options) -> Callable[[Callable], ImplicitSolver]:
    """Decorate a solver whose result satisfies ``x* = G(x*, *args)`` (differentiated as the root of G(x) - x).

    >>> import numpy as np, dualad
    >>> G = lambda x, a: np.cos(a * x)
    >>> @dualad.custom_fixed_point(G)
    ... def iterate(a):
    ...     x = 0.5
    ...     for _ in range(200):
    ...         x = np.cos(a * x)
    ...     return np.array(x)
    >>> x = iterate(1.0); d = float(dualad.derivative(iterate, 1.0))
    >>> bool(abs(d - (-np.sin(x) * x) / (1 + np.sin(x))) < 1e-12)
    True
    """
    def residual(x, *args):
        return G(x, *args) - x
    residual.__name__ = f"{_name(G)} - x"

    def decorate(solver: Callable) -> ImplicitSolver:
        out = ImplicitSolver(residual, solver, kind="fixed point", **options)
        return out
    return decorate


def custom_argmin(L: Callable, **options) -> Callable[[Callable], ImplicitSolver]:
    """Decorate a minimiser of ``L(x, *args)`` (differentiated through the optimality condition ∇ₓL = 0).

    ``F_x`` is then the Hessian of ``L`` in ``x``; it must be nonsingular at the minimum
    (a strict local minimum), else the error names its condition number.

    >>> import numpy as np, dualad
    >>> L = lambda x, c: np.sum((x - c) ** 2) + 0.5 * np.sum(x ** 4)
    >>> from scipy.optimize import minimize
    >>> @dualad.custom_argmin(L)
    ... def argmin(c):
    ...     return minimize(L, np.zeros(2), args=(c,), method="BFGS", tol=1e-12).x
    >>> J = dualad.jacobian(argmin, np.array([0.5, -1.0]))
    >>> J.shape
    (2, 2)
    """
    from .forward import gradient

    def residual(x, *args):
        return gradient(lambda z: L(z, *args), x)
    residual.__name__ = f"grad {_name(L)}"

    def decorate(solver: Callable) -> ImplicitSolver:
        return ImplicitSolver(residual, solver, kind="argmin", **options)
    return decorate
