"""Differentiable ``scipy.optimize``: the same functions and signatures, differentiable in ``args``.

Change ``from scipy.optimize import root`` to ``from dualad.scipy.optimize import root`` and the
solution becomes differentiable with respect to the extra arguments ``args`` (Duals, tape
values, nested). scipy solves on plain values; the derivative comes from the implicit
function theorem (:func:`dualad.custom_root`), never from differentiating the iterations:

- ``root``, ``fsolve``, ``brentq``, ``newton``: the root of ``fun(x, *args) = 0``;
- ``minimize``, ``least_squares``: the minimiser, through ``∇ₓ objective = 0`` (the Hessian must
  be nonsingular there; active bounds and constraints are refused when differentiating).

With plain ``args`` every function is scipy's own call, result unchanged. The initial guess
(``x0``, ``a``, ``b``) does not move an isolated root, so its derivative is zero and it may be
differentiable. ``minimize`` and ``least_squares`` also make ``result.fun`` differentiable.
Whether or not scipy reports success, the derivative is refused (``CustomRuleError``) when the
residual (the gradient, for minimisers) at the returned point is not below ``residual_tol``
(:data:`dualad.implicit.RESIDUAL_TOL`): the formula holds only at a solution.

>>> import numpy as np, dualad
>>> from dualad.scipy.optimize import brentq
>>> def cube_root(p):
...     return brentq(lambda x, p: x ** 3 - p, 0.0, 10.0, args=(p,), xtol=1e-14)
>>> round(float(dualad.derivative(cube_root, 8.0)), 10)     # 1 / (3 * 8**(2/3))
0.0833333333
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ..arraylike import ArrayLike, primal as _primal
from ..custom import is_differentiable, plain_valued
from ..errors import CustomRuleError
from ..implicit import ImplicitSolver

__all__ = ["root", "fsolve", "brentq", "newton", "least_squares", "minimize"]


def _scipy():
    import scipy.optimize
    return scipy.optimize


def _strip(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_strip(v) for v in x)
    return _primal(x)


def _bind(name: str, a: tuple, kw: dict):
    sig = inspect.signature(getattr(_scipy(), name))
    bound = sig.bind(*a, **kw)
    return bound


def _args_of(bound) -> tuple:
    args = bound.arguments.get("args", ())
    return args if isinstance(args, tuple) else (args,)


def _plain_call(name: str, bound):
    """scipy's own call, with any differentiable initial guess read as its value."""
    for key in ("x0", "a", "b", "x1"):
        if key in bound.arguments:
            bound.arguments[key] = _strip(bound.arguments[key])
    for key in ("fun", "func", "f"):
        if callable(bound.arguments.get(key)):
            bound.arguments[key] = plain_valued(
                bound.arguments[key], f"scipy.optimize.{name}",
                "pass those parameters through args= (fun(z, p) with args=(p,)): the solution is then "
                "differentiated implicitly")
    return getattr(_scipy(), name)(*bound.args, **bound.kwargs)


def _check_options_plain(name: str, bound, skip=("args", "x0", "a", "b", "x1")):
    for key, v in bound.arguments.items():
        if key not in skip and not callable(v) and is_differentiable(v):
            raise CustomRuleError(f"scipy.optimize.{name}: the argument {key}= is differentiable; only args= is "
                                  "differentiated; remedy: pass it through args= (and use it in fun), or pass its value")


def _differentiable_solution(name: str, residual: Callable, bound, pick: Callable):
    """Solve with scipy on plain args; return ``(x*, plain result)`` with x* differentiable in args."""
    args = _args_of(bound)
    results: list = []

    def solver(*plain_args):
        b = inspect.BoundArguments(bound.signature, bound.arguments.copy())
        b.arguments["args"] = tuple(plain_args)
        res = _plain_call(name, b)
        results.append(res)
        return np.asarray(pick(res), dtype=float)

    solver.__name__ = f"scipy.optimize.{name}"
    residual.__name__ = getattr(residual, "__name__", "fun")
    implicit = ImplicitSolver(residual, solver, kind="root" if name not in ("minimize", "least_squares")
                              else "argmin")
    x = implicit(*args)
    return x, results[-1] if results else None


def _args_differentiable(bound) -> bool:
    return is_differentiable(_args_of(bound))


# --------------------------------------------------------------------------- roots
def root(fun, x0, *a, **kw):
    """``scipy.optimize.root`` (same signature and result); ``result.x`` is differentiable in ``args``."""
    bound = _bind("root", (fun, x0) + a, kw)
    if not _args_differentiable(bound):
        return _plain_call("root", bound)
    _check_options_plain("root", bound)
    jac = bound.arguments.get("jac")
    residual = (lambda x, *args: fun(x, *args)[0]) if jac is True else fun
    x, res = _differentiable_solution("root", residual, bound, _checked)
    res = _copy_result(res)
    res.x = x
    return res


def fsolve(func, x0, *a, **kw):
    """``scipy.optimize.fsolve`` (same signature and returns); the root is differentiable in ``args``."""
    bound = _bind("fsolve", (func, x0) + a, kw)
    if not _args_differentiable(bound):
        return _plain_call("fsolve", bound)
    _check_options_plain("fsolve", bound)
    full = bool(bound.arguments.get("full_output", 0))

    def pick(r):
        return r[0] if full else r

    x, res = _differentiable_solution("fsolve", func, bound, pick)
    x = np.reshape(x, np.shape(_primal(x))) if not isinstance(x, ArrayLike) else x
    return (x,) + tuple(res[1:]) if full else x


def brentq(f, a, b, *rest, **kw):
    """``scipy.optimize.brentq`` (same signature and returns); the root is differentiable in ``args``."""
    bound = _bind("brentq", (f, a, b) + rest, kw)
    if not _args_differentiable(bound):
        return _plain_call("brentq", bound)
    _check_options_plain("brentq", bound)
    full = bool(bound.arguments.get("full_output", False))
    x, res = _differentiable_solution("brentq", f, bound, lambda r: r[0] if full else r)
    return (x, res[1]) if full else x


def newton(func, x0, *a, **kw):
    """``scipy.optimize.newton`` (same signature and returns); the root is differentiable in ``args``.

    An array ``x0`` solves elementwise, as scipy does; the derivative treats ``func`` as
    elementwise (each residual depends on its own unknown).
    """
    bound = _bind("newton", (func, x0) + a, kw)
    if not _args_differentiable(bound):
        return _plain_call("newton", bound)
    _check_options_plain("newton", bound, skip=("args", "x0", "x1", "fprime", "fprime2"))
    full = bool(bound.arguments.get("full_output", False))

    def pick(r):
        return r[0] if full else r

    x, res = _differentiable_solution("newton", func, bound, pick)
    return (x,) + tuple(res[1:]) if full else x


# --------------------------------------------------------------------------- minimisers
def minimize(fun, x0, *a, **kw):
    """``scipy.optimize.minimize`` (same signature and result); ``result.x`` and ``result.fun`` are
    differentiable in ``args`` (an unconstrained strict local minimum is needed)."""
    bound = _bind("minimize", (fun, x0) + a, kw)
    if not _args_differentiable(bound):
        return _plain_call("minimize", bound)
    _check_options_plain("minimize", bound)
    if bound.arguments.get("constraints") not in (None, (), []):
        raise CustomRuleError("scipy.optimize.minimize with constraints cannot be differentiated in args here "
                              "(the optimality condition then involves multipliers); remedy: eliminate the "
                              "constraints, or write the KKT residual and use dualad.custom_root")
    jac = bound.arguments.get("jac")
    objective = (lambda x, *args: fun(x, *args)[0]) if jac is True else fun
    from ..forward import gradient

    def residual(x, *args):
        return gradient(lambda z: objective(z, *args), x)
    residual.__name__ = f"grad {getattr(fun, '__name__', 'fun')}"

    def pick(r):  # checked here, before any derivative is formed
        _refuse_active_bounds("minimize", bound.arguments.get("bounds"), r.x)
        return r.x

    x, res = _differentiable_solution("minimize", residual, bound, pick)
    res = _copy_result(res)
    res.x = x
    res.fun = objective(x, *_args_of(bound))
    return res


def least_squares(fun, x0, *a, **kw):
    """``scipy.optimize.least_squares`` (same signature and result); ``result.x``, ``result.fun`` and
    ``result.cost`` are differentiable in ``args`` (loss='linear', no active bound)."""
    bound = _bind("least_squares", (fun, x0) + a, kw)
    if not _args_differentiable(bound):
        return _plain_call("least_squares", bound)
    _check_options_plain("least_squares", bound)
    if bound.arguments.get("loss", "linear") != "linear":
        raise CustomRuleError("scipy.optimize.least_squares with a robust loss cannot be differentiated in args "
                              "here; remedy: loss='linear', or write the loss into fun")
    fkw = bound.arguments.get("kwargs") or {}
    if is_differentiable(tuple(fkw.values())):
        raise CustomRuleError("scipy.optimize.least_squares: kwargs= holds differentiable values; only args= is "
                              "differentiated; remedy: pass them through args=")

    def residuals(x, *args):
        return fun(x, *args, **fkw)

    from ..forward import gradient

    def residual(x, *args):  # the gradient of 1/2 |r|^2: J_r^T r
        return gradient(lambda z: 0.5 * np.sum(residuals(z, *args) ** 2), x)
    residual.__name__ = f"grad 1/2|{getattr(fun, '__name__', 'fun')}|^2"

    def pick(r):  # checked here, before any derivative is formed
        if np.any(r.active_mask != 0):
            raise CustomRuleError("scipy.optimize.least_squares stopped on a bound (active_mask "
                                  f"{r.active_mask.tolist()}); the solution then does not move smoothly with args; "
                                  "remedy: widen the bounds, or fix the bounded variables")
        return r.x

    x, res = _differentiable_solution("least_squares", residual, bound, pick)
    res = _copy_result(res)
    res.x = x
    res.fun = residuals(x, *_args_of(bound))
    res.cost = 0.5 * np.sum(res.fun ** 2)
    return res


# --------------------------------------------------------------------------- helpers
def _checked(res):
    # success=False is not refused by itself (root's hybr reports "xtol too small" at an exact
    # root, BFGS "precision loss" at a minimum): the implicit rule checks |F(x*)| instead.
    return res.x


def _copy_result(res):
    out = type(res)()
    out.update(res)
    return out


def _refuse_active_bounds(name: str, bounds: Any, x) -> None:
    if bounds is None:
        return
    x = np.asarray(x, dtype=float).reshape(-1)
    if hasattr(bounds, "lb"):
        lo, hi = np.broadcast_to(bounds.lb, x.shape), np.broadcast_to(bounds.ub, x.shape)
    else:
        pairs = [(-np.inf if b[0] is None else b[0], np.inf if b[1] is None else b[1]) for b in bounds]
        lo, hi = np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)
    tol = 1e-10 * np.maximum(1.0, np.abs(x))
    if np.any(np.abs(x - lo) <= tol) or np.any(np.abs(x - hi) <= tol):
        raise CustomRuleError(f"scipy.optimize.{name} stopped on a bound; the solution then does not move smoothly "
                              "with args; remedy: widen the bounds, or fix the bounded variables")
