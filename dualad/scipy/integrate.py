"""Differentiable ``scipy.integrate``: ``solve_ivp`` with sensitivities, and the quadrature rules.

``solve_ivp`` has scipy's signature and result. When ``y0`` or ``args`` carry derivatives
(inside ``dualad.jacobian``, ``jvp``, the tape, nested), ``result.y`` (and ``result.sol(t)``)
carry them too, by the forward sensitivity equations

    dS/dt = f_y S + f_p T,   S(t0) = dy0,

integrated together with the state: the right-hand side of the sensitivities is ONE forward
pass of ``fun`` with the state and the arguments as Duals (all directions at once). Stiff
methods (BDF, Radau, LSODA) get the augmented system's Jacobian from dualad. Reverse mode
forms the full sensitivity matrix (one augmented solve with n + n_p directions) and returns
Sᵀu. With plain ``y0`` and ``args`` it is scipy's own call.

>>> import numpy as np, dualad
>>> from dualad.scipy.integrate import solve_ivp
>>> def decay_at_1(k):                       # y' = -k y, y(0) = 1: y(1) = exp(-k)
...     return solve_ivp(lambda t, y, k: -k * y, (0.0, 1.0), np.array([1.0]), args=(k,),
...                      t_eval=[1.0], rtol=1e-10, atol=1e-12).y[0, 0]
>>> round(float(dualad.derivative(decay_at_1, 0.5)), 8)   # -exp(-0.5)
-0.60653066
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..arraylike import ArrayLike, primal as _primal
from ..common import is_numeric_argument
from ..custom import CustomFunction, is_differentiable, plain_valued
from ..dual import Dual, new_tag
from ..errors import CustomRuleError, UnsupportedFunctionError, describe

__all__ = ["solve_ivp", "trapezoid", "simpson", "cumulative_trapezoid", "augmented_rhs", "augmented_jacobian"]

_STIFF = ("BDF", "Radau", "LSODA")


def _scipy_integrate():
    import scipy.integrate
    return scipy.integrate


def _shape(v) -> tuple:
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)




# --------------------------------------------------------------------------- the problem (a constant)
class _Problem:
    """One call of the differentiable solve_ivp: everything but y0 and args, and its results."""

    __slots__ = ("fun", "t_span", "method", "t_eval", "options", "nargs", "result", "times", "cache", "dense")

    def __init__(self, fun, t_span, method, t_eval, options, nargs):
        self.fun = fun
        self.t_span = t_span
        self.method = method
        self.t_eval = t_eval
        self.options = options
        self.nargs = nargs
        self.result = None   # scipy's result of the plain solve
        self.times = None    # the output times (t_eval, or the solver's steps)
        self.cache: list = []  # augmented solutions, keyed by the identity of their tangents
        self.dense = False     # the caller asked for dense output: the augmented solve keeps one too

    def __repr__(self) -> str:
        return f"<ODE problem {getattr(self.fun, '__name__', 'fun')}>"

    # ------------------------------------------------------------- the plain solve
    def solve(self, y0, args):
        si = _scipy_integrate()
        fun = plain_valued(self.fun, "solve_ivp", "pass those parameters through args= (fun(t, y, p) with "
                           "args=(p,)): the solution is then differentiated in them")
        res = si.solve_ivp(fun, self.t_span, np.asarray(y0, dtype=float), method=self.method,
                           t_eval=self.t_eval, dense_output=self.dense, args=tuple(args) if args else None,
                           **self.options)
        if res.status < 0:
            raise CustomRuleError(f"solve_ivp failed ({res.message}); no solution to differentiate; remedy: "
                                  "check the problem, the method and the tolerances")
        self.result = res
        self.times = res.t
        return res

    # ------------------------------------------------------------- sensitivities
    def sensitivities(self, y0, args, tangents, dense: bool = False):
        """The augmented solve for batched ``tangents`` (y0's and each arg's; None if constant).

        Returns ``(S at the output times: (n, len(times), k), augmented dense solution or None)``.
        Cached by the identity of the tangents, so ``result.y`` and ``result.sol`` share one solve.
        """
        for key, value in self.cache:
            if len(key) == len(tangents) and all(a is b for a, b in zip(key, tangents)):
                return value
        n = int(np.size(_primal(y0)))
        k = next(_shape(t)[-1] for t in tangents if t is not None)
        dtype = np.result_type(np.asarray(_primal(y0)).dtype, np.float64)
        t_y0 = tangents[0]
        S0 = np.zeros((n, k), dtype) if t_y0 is None else np.reshape(t_y0, (n, k))
        active = [i for i, t in enumerate(tangents[1:]) if t is not None]
        rhs = augmented_rhs(self.fun, n, k, len(args), active)
        z0 = np.concatenate([np.reshape(y0, (n,)), np.reshape(S0, (n * k,))])
        aug_args = tuple(args) + tuple(tangents[1:][i] for i in active)
        options = dict(self.options)
        options.pop("vectorized", None)
        options.pop("jac_sparsity", None)
        options.pop("lband", None)
        options.pop("uband", None)
        if self.method in _STIFF or not isinstance(self.method, str):
            options["jac"] = augmented_jacobian(rhs)
        else:
            options.pop("jac", None)
        options["atol"] = _augmented_atol(options.get("atol"), n, k)
        res = solve_ivp(rhs, self.t_span, z0, method=self.method, t_eval=self.times, dense_output=dense,
                        args=aug_args if aug_args else None, **options)
        if res.status < 0:
            raise CustomRuleError(f"solve_ivp: the sensitivity equations failed ({res.message}); remedy: check the "
                                  "tolerances (atol applies to the sensitivities too) or try a stiff method")
        S = np.reshape(res.y[n:], (n, k, -1))
        S = np.moveaxis(S, 1, 2)  # (n, len(times), k)
        value = (S, res.sol if dense else None)
        self.cache.append((tuple(tangents), value))
        return value


def augmented_rhs(fun: Callable, n: int, k: int, nargs: int, active: list) -> Callable:
    """The right-hand side of ``z = [y, vec(S)]`` (S: n x k, row-major): ``[f, f_y S + f_p T]``.

    Called as ``rhs(t, z, *args, *T)`` with the tangents ``T`` (``arg.shape + (k,)``) of the
    arguments at positions ``active``. One forward pass of ``fun`` with the state and those
    arguments as Duals of one fresh tag gives ``f`` and all k sensitivity columns.
    """
    def rhs(t, z, *aug_args):
        plain_args, targs = aug_args[:nargs], aug_args[nargs:]
        y = z[:n]
        S = np.reshape(z[n:], (n, k))
        tag = new_tag()
        dual_args = list(plain_args)
        for i, ta in zip(active, targs):
            dual_args[i] = Dual._make(plain_args[i], ta, tag)
        out = fun(t, Dual._make(y, S, tag), *dual_args)
        value, dS = _split(out, tag, n, k)
        return np.concatenate([np.reshape(value, (n,)), np.reshape(dS, (n * k,))])
    return rhs


def _split(out, tag: int, n: int, k: int):
    """Value and tangent (n, k) of the right-hand side's output at ``tag``."""
    if isinstance(out, (list, tuple)):
        out = np.stack(out) if is_differentiable(out) else np.asarray(out, dtype=float)
    if isinstance(out, Dual) and out.tag == tag:
        t = out.tangent
        if _shape(t) == _shape(out.value):
            t = t[..., None]
        return out.value, np.reshape(t, (n, k))
    if isinstance(out, ArrayLike) and not isinstance(out, Dual):
        raise CustomRuleError(f"solve_ivp: fun returned {describe(out)}; remedy: return an array from the state")
    return out, np.zeros((n, k))  # fun does not depend on y or the arguments


def augmented_jacobian(rhs: Callable) -> Callable:
    """The augmented system's Jacobian ``[[J, 0], [d(J S + f_p T)/dy, I (x) J]]``, by dualad (forward mode)."""
    from ..forward import jacobian

    def jac(t, z, *aug_args):
        return jacobian(lambda w: rhs(t, w, *aug_args), z)
    return jac


def _augmented_atol(atol, n: int, k: int):
    if atol is None:
        return 1e-6
    a = np.asarray(atol, dtype=float)
    if a.ndim == 0:
        return float(a)
    return np.concatenate([a, np.repeat(a, k)])  # each sensitivity column gets its state's atol


# --------------------------------------------------------------------------- the table entries
def _trajectory_fun(problem, y0, *args):
    res = problem.solve(y0, args)
    return res.y


def _trajectory_jvp(static, primals, tangents, out):
    problem = static.nondiff[0]
    y0, args = primals[0], primals[1:]
    S, _ = problem.sensitivities(y0, args, tangents, dense=problem.dense)
    return S


def _dense_fun(problem, t, y0, *args):
    if problem.result is None:
        problem.solve(y0, args)
    return problem.result.sol(t)


def _dense_jvp(static, primals, tangents, out):
    problem, t = static.nondiff[0], static.nondiff[1]
    y0, args = primals[0], primals[1:]
    _, sol = problem.sensitivities(y0, args, tangents, dense=True)
    if sol is None:  # the cached solve had no dense output: solve again with it
        problem.cache = [c for c in problem.cache if c[1][1] is not None]
        _, sol = problem.sensitivities(y0, args, tangents, dense=True)
    n = int(np.size(_primal(y0)))
    k = next(_shape(x)[-1] for x in tangents if x is not None)
    z = sol(t)
    S = np.reshape(z[n:], (n, k) + np.shape(z)[1:])
    return np.moveaxis(S, 1, -1)  # (n, [len(t),] k)


def _full_vjp(jvp):
    """Reverse mode from the sensitivities: S for every input direction (one augmented solve), then Sᵀu."""
    def vjp(static, primals, out, ct):
        sizes = [int(np.size(_primal(p))) if is_numeric_argument(p) else 0 for p in primals]
        total = sum(sizes)
        tangents, start = [], 0
        for p, size in zip(primals, sizes):
            if size == 0:
                tangents.append(None)
                continue
            block = np.zeros((size, total))
            block[:, start:start + size] = np.eye(size)
            tangents.append(block.reshape(_shape(p) + (total,)))
            start += size
        if total == 0:
            return [None] * len(primals)
        J = jvp(static, primals, tangents, out)  # out.shape + (total,)
        k = _shape(ct)[-1]
        g = np.swapaxes(np.reshape(J, (-1, total)), 0, 1) @ np.reshape(ct, (-1, k))
        result, start = [], 0
        for p, size in zip(primals, sizes):
            if size == 0:
                result.append(None)
                continue
            result.append(np.reshape(g[start:start + size], _shape(p) + (k,)))
            start += size
        return result
    return vjp


def _make(fun, jvp, nondiff, name):
    f = CustomFunction(fun, nondiff_argnums=nondiff)
    f._kind = "ODE sensitivity"
    f.batched_jvp = jvp
    f.batched_vjp = _full_vjp(jvp)
    f.primitive.__name__ = name
    return f


_TRAJECTORY = _make(_trajectory_fun, _trajectory_jvp, (0,), "solve_ivp")
_DENSE = _make(_dense_fun, _dense_jvp, (0, 1), "solve_ivp.sol")


class _DifferentiableSolution:
    """``result.sol``: the dense output, differentiable like ``result.y``."""

    def __init__(self, problem, y0, args):
        self._problem, self._y0, self._args = problem, y0, args
        self.ts = problem.result.sol.ts if problem.result.sol is not None else None
        self.t_min, self.t_max = problem.result.sol.t_min, problem.result.sol.t_max

    def __call__(self, t):
        if is_differentiable(t):
            raise UnsupportedFunctionError("solve_ivp's sol(t) with a differentiable t is not supported; remedy: "
                                           "pass t as plain values (d y/d t is fun(t, y(t)))")
        return _DENSE(self._problem, np.asarray(t, dtype=float), self._y0, *self._args)


# --------------------------------------------------------------------------- solve_ivp
def solve_ivp(fun, t_span, y0, method="RK45", t_eval=None, dense_output=False, events=None, vectorized=False,
              args=None, **options):
    """``scipy.integrate.solve_ivp`` (same signature and result), differentiable in ``y0`` and ``args``.

    ``result.y`` (shape ``(n, len(result.t))``) and, with ``dense_output=True``, ``result.sol(t)``
    carry the derivatives of ``y0`` and ``args``. Without ``t_eval`` the output times are the
    steps of the plain solve. ``atol`` (scalar or per state) applies to each sensitivity too.
    Differentiating with ``events``, or with respect to ``t_span`` or ``t_eval``, is refused.
    """
    arg_tuple = tuple(args) if args is not None else ()
    if args is not None and not isinstance(args, tuple):
        arg_tuple = (args,)
    for name, value in (("t_span", t_span), ("t_eval", t_eval)):
        if is_differentiable(value):
            raise UnsupportedFunctionError(f"solve_ivp with a differentiable {name} is not supported; remedy: pass "
                                           f"{name} as plain values (differentiate y0 and args)")
    if not (is_differentiable(y0) or is_differentiable(arg_tuple)):
        si = _scipy_integrate()
        return si.solve_ivp(fun, t_span, y0, method=method, t_eval=t_eval, dense_output=dense_output,
                            events=events, vectorized=vectorized, args=args, **options)
    if events is not None:
        raise UnsupportedFunctionError("solve_ivp with events cannot be differentiated here (the event times move "
                                       "with the parameters); remedy: solve without events, or up to a fixed time")
    for key, v in options.items():
        if is_differentiable(v):
            raise CustomRuleError(f"solve_ivp: the option {key}= is differentiable; only y0 and args are "
                                  "differentiated; remedy: pass its value, or pass it through args")
    if isinstance(y0, (list, tuple)):
        y0 = np.stack(y0) if is_differentiable(y0) else np.asarray(y0, dtype=float)
    if len(_shape(y0)) != 1:
        raise CustomRuleError(f"solve_ivp needs a 1-D y0, got {describe(y0)}")
    opts = dict(options)
    opts["vectorized"] = vectorized
    problem = _Problem(fun, t_span, method, None if t_eval is None else np.asarray(t_eval, dtype=float), opts,
                       len(arg_tuple))
    problem.dense = bool(dense_output)
    y = _TRAJECTORY(problem, y0, *arg_tuple)
    plain = problem.result
    result = type(plain)()
    result.update(plain)
    result.y = y
    result.sol = _DifferentiableSolution(problem, y0, arg_tuple) if dense_output else None
    return result


# --------------------------------------------------------------------------- quadrature
def _as_array(v):
    if isinstance(v, (list, tuple)):
        return np.stack(v) if is_differentiable(v) else np.asarray(v, dtype=float)
    return v


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``scipy.integrate.trapezoid``, differentiable in ``y``, ``x`` and ``dx`` (plain numpy inside).

    >>> import numpy as np, dualad
    >>> from dualad.scipy.integrate import trapezoid
    >>> dualad.gradient(lambda y: trapezoid(y, dx=0.5), np.ones(3))
    array([0.25, 0.5 , 0.25])
    """
    y = np.moveaxis(_as_array(y), axis, -1)
    mean = 0.5 * (y[..., 1:] + y[..., :-1])
    if x is None:
        return np.sum(mean, axis=-1) * dx
    x = _as_array(x)
    d = np.diff(x) if np.ndim(_primal(x)) == 1 else np.moveaxis(np.diff(x, axis=axis), axis, -1)
    return np.sum(d * mean, axis=-1)


def cumulative_trapezoid(y, x=None, dx=1.0, axis=-1, initial=None):
    """``scipy.integrate.cumulative_trapezoid``, differentiable in ``y`` and ``x``.

    >>> import numpy as np
    >>> from dualad.scipy.integrate import cumulative_trapezoid
    >>> cumulative_trapezoid(np.array([0.0, 1.0, 2.0]), initial=0)
    array([0. , 0.5, 2. ])
    """
    if initial is not None and not np.isscalar(initial):
        raise ValueError("`initial` must be `None` or a scalar.")
    if initial is not None and initial != 0:
        raise ValueError("`initial` must be `None` or `0`.")  # scipy >= 1.12 accepts only these
    y = np.moveaxis(_as_array(y), axis, -1)
    mean = 0.5 * (y[..., 1:] + y[..., :-1])
    if x is None:
        parts = mean * dx
    else:
        x = _as_array(x)
        d = np.diff(x) if np.ndim(_primal(x)) == 1 else np.moveaxis(np.diff(x, axis=axis), axis, -1)
        parts = d * mean
    out = np.cumsum(parts, axis=-1)
    if initial is not None:
        out = np.concatenate([np.zeros(_shape(out)[:-1] + (1,), dtype=np.asarray(_primal(out)).dtype), out], axis=-1)
    return np.moveaxis(out, -1, axis)


def simpson(y, x=None, *, dx=1.0, axis=-1):
    """``scipy.integrate.simpson``, differentiable in ``y`` (for plain ``x`` and ``dx``).

    Simpson's rule is linear in ``y``: its weights are scipy's own, read off once by applying
    scipy's simpson to the unit vectors, so the value equals scipy's (to rounding) whatever the
    number of points.

    >>> import numpy as np, dualad
    >>> from dualad.scipy.integrate import simpson
    >>> dualad.gradient(lambda y: simpson(y, dx=1.0), np.ones(3)).round(6)
    array([0.333333, 1.333333, 0.333333])
    """
    if is_differentiable(x) or is_differentiable(dx):
        raise UnsupportedFunctionError("simpson with a differentiable x or dx is not supported; remedy: pass the "
                                       "sample points as plain values, or use trapezoid")
    si = _scipy_integrate()
    y = _as_array(y)
    if not is_differentiable(y):
        return si.simpson(y, x=x, dx=dx, axis=axis)
    y = np.moveaxis(y, axis, -1)
    m = _shape(y)[-1]
    if x is None:
        weights = si.simpson(np.eye(m), dx=dx, axis=-1)
    else:
        xv = np.asarray(x, dtype=float)
        if xv.ndim != 1:
            raise UnsupportedFunctionError("simpson with a multi-dimensional x on differentiable values is not "
                                           "supported; remedy: pass a 1-D x")
        weights = si.simpson(np.eye(m), x=xv, axis=-1)
    return y @ weights
