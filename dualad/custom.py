"""User-defined derivative rules: ``custom_jvp``, ``custom_vjp`` and ``float_function``.

A decorated function registers one :class:`dualad.rules.Custom` entry for itself in the rule
table, so every engine -- forward mode, the tape, the sparsity tracer and any nesting of them --
dispatches it like any numpy function with a rule. The function's own body never sees a
differentiable value: the engines call it on plain values (or on values of an outer, lower
level, which dispatch again one level down).

The user's rules follow JAX's shape and see ONE direction at a time, shaped like the primals:

- a JVP ``jvp(primals, tangents) -> (primal_out, tangent_out)``; dualad carries many directions
  at once by handing it tangents that are themselves Duals (the JVP is linear in them, so its
  forward derivative IS its value on every direction), and loops over directions when the rule
  cannot take them;
- a VJP ``fwd(*args) -> (out, residuals)``, ``bwd(residuals, cotangent) -> cotangents``.

Reverse mode through a JVP-only rule is linearise-and-transpose: the JVP is recorded on a tape
with its tangents as inputs and swept backward. Forward mode through a VJP-only rule raises.

>>> import numpy as np, dualad
>>> @dualad.custom_jvp
... def softplus(x):
...     return np.log1p(np.exp(x))
>>> @softplus.defjvp
... def softplus_jvp(primals, tangents):
...     (x,), (t,) = primals, tangents
...     return softplus(x), t / (1.0 + np.exp(-x))
>>> dualad.jacobian(softplus, np.array([0.0, 1.0])).round(4)
array([[0.5   , 0.    ],
       [0.    , 0.7311]])
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable, Sequence

import numpy as np

from .arraylike import ArrayLike, primal as _primal
from .common import is_numeric_argument
from .dual import Dual, new_tag
from .errors import ConversionError, CustomRuleError, UnsupportedFunctionError, describe
from .rules import TABLE, Custom

__all__ = ["custom_jvp", "custom_vjp", "float_function", "CustomFunction", "is_differentiable",
           "call_with_rule", "plain_valued"]


# --------------------------------------------------------------------------- helpers
def is_differentiable(x) -> bool:
    """True for a Dual, a tape value or a traced value (one level into lists and tuples)."""
    if isinstance(x, ArrayLike):
        return True
    if isinstance(x, (list, tuple)):
        return any(is_differentiable(v) for v in x)
    return False


def plain_valued(fun: Callable, where: str, remedy: str) -> Callable:
    """``fun`` as a plain solver calls it (scipy's root finders and integrators, on plain floats), raising
    a :class:`CustomRuleError` where it returns a differentiable value all the same: it reads one from
    outside its arguments (a closure over the parameters being differentiated). scipy's C code would
    replace any error raised while converting the value with its own ("not a proper array of floats"),
    or name the mirror the user already called.

    >>> import numpy as np
    >>> float(plain_valued(np.sin, "root", "pass p through args=")(0.0))
    0.0
    """
    def checked(*args, **kwargs):
        out = fun(*args, **kwargs)
        if is_differentiable(out):
            raise CustomRuleError(
                f"{where}: the function returned a differentiable value for plain inputs: it reads one from outside "
                f"its arguments (a closure over the values being differentiated), which the solver cannot carry; "
                f"remedy: {remedy}")
        return out
    return checked


def call_with_rule(func, args: tuple):
    """``func(*args)`` through numpy's ``__array_function__`` protocol of the differentiable values in ``args``.

    This is numpy's own override order (subclasses first, then left to right), so the engine of
    the highest differentiation level takes the call and looks ``func`` up in the rule table, as
    it would for ``np.linalg.solve``.
    """
    overloads: list = []
    types: list = []

    def collect(a):
        if isinstance(a, ArrayLike):
            if type(a) not in types:
                types.append(type(a))
                overloads.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                collect(b)

    for a in args:
        collect(a)
    # numpy's rule: an argument whose type subclasses an earlier one goes first
    overloads.sort(key=lambda a: -sum(issubclass(type(a), t) for t in types))
    for a in overloads:
        result = type(a).__array_function__(a, func, tuple(types), args, {})
        if result is not NotImplemented:
            return result
    raise UnsupportedFunctionError(
        f"{_name(func)} got differentiable values of types {[t.__name__ for t in types]} that no engine "
        "accepts together; remedy: do not mix values of different differentiation calls by hand")




def _name(f) -> str:
    return getattr(f, "__name__", None) or repr(f)


def _float_zeros(v):
    value = _primal(v)
    dtype = np.asarray(value).dtype
    return np.zeros(np.shape(value), dtype=dtype if dtype.kind == "f" else np.float64)


def _shape(v) -> tuple:
    return tuple(v.shape) if hasattr(v, "shape") else np.shape(v)


def _k(tangents) -> int:
    for t in tangents:
        if t is not None:
            return _shape(t)[-1]
    return 1


class _Static:
    """The arguments that are not differentiated (``nondiff_argnums``) and the keyword arguments.

    It travels through the engines as argument 0 of the registered primitive: a plain object,
    so every engine treats it as a constant.
    """

    __slots__ = ("nondiff", "kwargs", "nargs")

    def __init__(self, nondiff: dict, kwargs: dict, nargs: int):
        self.nondiff = nondiff
        self.kwargs = kwargs
        self.nargs = nargs

    def merge(self, diff: Sequence) -> list:
        it = iter(diff)
        return [self.nondiff[i] if i in self.nondiff else next(it) for i in range(self.nargs)]

    def __repr__(self) -> str:
        return f"<static arguments {sorted(self.nondiff)}>"


def _with_directions(fn: Callable, linear_inputs: Sequence, k: int, what: str):
    """Evaluate ``fn`` (linear in ``linear_inputs``) on ``k`` directions at once.

    ``linear_inputs`` hold batched arrays (trailing axis of ``k``) or None; ``fn`` receives
    unbatched inputs (shaped like the primals) and returns ``(extra, linear_out)``, with
    ``linear_out`` an array or a tuple/list of arrays. Returns ``(extra, batched linear_out)``.

    First try: one call with each input a Dual of a fresh tag whose value is 0 and whose
    tangent carries the k directions. ``fn`` is linear in these inputs, so the tangent of its
    result is exactly its value on each direction. If ``fn`` cannot run on Duals (it converts
    to floats, or calls code without a rule), loop: one call per direction.
    """
    if k == 1:  # one direction: a plain call, nothing to batch
        extra, out = fn([None if t is None else t[..., 0] for t in linear_inputs])
        return extra, _map_out(out, lambda o: None if o is None else _add_axis(o))
    tag = new_tag()
    duals = [None if t is None else Dual._make(_zeros_of(t), t, tag) for t in linear_inputs]
    try:
        extra, out = fn(duals)
    except (ConversionError, UnsupportedFunctionError):
        extra, out = None, None
    else:
        return extra, _map_out(out, lambda o: _tangent_at(o, tag, k))
    # the loop: one direction at a time
    outs = []
    for j in range(k):
        extra, o = fn([None if t is None else t[..., j] for t in linear_inputs])
        outs.append(o)
    return extra, _stack_directions(outs)


def _zeros_of(t):
    """Zeros shaped like one direction of the batched ``t`` (a Dual's value)."""
    value = _primal(t)
    return np.zeros(np.shape(value)[:-1], dtype=np.asarray(value).dtype)


def _add_axis(o):
    return o[..., None]


def _map_out(out, f):
    if isinstance(out, (tuple, list)):
        return type(out)(f(o) for o in out)
    return f(out)


def _tangent_at(o, tag: int, k: int):
    if o is None:
        return None
    if isinstance(o, Dual) and o.tag == tag:
        t = o.tangent
        if _shape(t) != _shape(o.value) + (k,):  # one direction broadcast over k
            t = np.broadcast_to(t, _shape(o.value) + (k,)) if not isinstance(t, ArrayLike) else t
        return t
    if isinstance(o, Dual) and o.tag > tag:
        raise CustomRuleError("a rule returned a value of a newer differentiation than its own inputs")
    # does not depend on the directions: the rule returned a constant (zeros, by linearity)
    value = np.zeros(_shape(o) + (k,), dtype=_float_dtype(o))
    return value


def _float_dtype(v):
    dtype = np.asarray(_primal(v)).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _stack_directions(outs: list):
    first = outs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_stack_directions([o[i] for o in outs]) for i in range(len(first)))
    if first is None:
        return None
    return np.stack(outs, axis=-1)


# --------------------------------------------------------------------------- the decorated function
class CustomFunction:
    """A function with derivative rules of its own, registered in the rule table.

    Not made by hand: use :func:`custom_jvp`, :func:`custom_vjp` or :func:`float_function`
    (and :func:`dualad.custom_root`, which builds one). Calling it with plain values calls the
    wrapped function; with differentiable values (Duals, tape values, traced values) the
    engines apply its rules.

    ``sparsity`` declares which outputs depend on which inputs, for sparsity detection:
    ``"elementwise"`` (output entry i depends on entry i of each array argument, after
    broadcasting), or a callable ``sparsity(*primals) -> [pattern per differentiated
    argument]`` with each pattern an ``(out.size, arg.size)`` boolean array or scipy.sparse
    matrix. Without it every output depends on every input.
    """

    #: which rules this kind of function accepts (set by the subclasses)
    _kind = "custom"

    def __new__(cls, fun: Callable | None = None, *args, **kwargs):
        if fun is None:  # @custom_jvp(nondiff_argnums=(0,)): the decorator with options
            return functools.partial(cls, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = (), sparsity: Any = None):
        if not callable(fun):
            raise CustomRuleError(f"{type(self).__name__} needs a function, got {describe(fun)}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted({int(i) for i in nondiff_argnums}))
        if any(i < 0 for i in self.nondiff_argnums):
            raise CustomRuleError(f"nondiff_argnums of {_name(fun)} must be non-negative positions, got "
                                  f"{nondiff_argnums!r}")
        self.jvp_rule: Callable | None = None        # user's, one direction
        self.fwd_rule: Callable | None = None
        self.bwd_rule: Callable | None = None
        self.batched_jvp: Callable | None = None     # internal: (primals, tangents with k) -> tangent_out
        self.batched_vjp: Callable | None = None     # internal: (primals, out, ct with k) -> cts
        self.sparsity = sparsity
        try:
            self._signature = inspect.signature(fun)
        except (TypeError, ValueError):
            self._signature = None
        name = _name(fun)

        def primitive(static, *diff):
            return self._evaluate(static, diff)

        primitive.__name__ = primitive.__qualname__ = name
        primitive.__module__ = getattr(fun, "__module__", None) or __name__
        primitive.custom_function = self
        if sparsity is not None:
            primitive.sparsity_pattern = self._trace_sparsity
        self.primitive = primitive
        TABLE[primitive] = Custom(self._table_jvp, self._table_vjp)

    # ----------------------------------------------------------------- naming
    @property
    def name(self) -> str:
        return _name(self.fun)

    def __repr__(self) -> str:
        return f"<dualad.{type(self).__name__} {self.name}>"

    def _rule_names(self) -> str:
        if self.jvp_rule is not None:
            return f"JVP rule {_name(self.jvp_rule)}"
        if self.fwd_rule is not None:
            return f"VJP rule ({_name(self.fwd_rule)}, {_name(self.bwd_rule)})"
        if self.batched_jvp is not None or self.batched_vjp is not None:
            return f"{self._kind} rule"
        return "no rule"

    def _error(self, what: str, remedy: str) -> CustomRuleError:
        return CustomRuleError(f"{self.name} ({self._rule_names()}): {what}; remedy: {remedy}")

    # ----------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        args, kwargs = self._bind(args, kwargs)
        for key, v in kwargs.items():
            if is_differentiable(v):
                raise self._error(f"the keyword argument {key!r} is differentiable ({describe(v)})",
                                  "pass differentiable arguments positionally")
        nondiff = {}
        for i in self.nondiff_argnums:
            if i < len(args):
                if is_differentiable(args[i]):
                    raise self._error(
                        f"argument {i} is in nondiff_argnums but got a differentiable value ({describe(args[i])}), "
                        "whose derivative would be dropped", f"remove {i} from nondiff_argnums and give the rule "
                        "a tangent for it, or pass a constant")
                nondiff[i] = args[i]
        diff = tuple(self._as_operand(a, i) for i, a in enumerate(args) if i not in nondiff)
        if not any(isinstance(a, ArrayLike) for a in diff):
            return self.fun(*args, **kwargs)
        if kwargs:
            raise self._error(f"keyword-only arguments {sorted(kwargs)} cannot go to its rules",
                              "make them positional parameters and list them in nondiff_argnums")
        self._check_has_rule(diff)
        return call_with_rule(self.primitive, (_Static(nondiff, kwargs, len(args)),) + diff)

    def _bind(self, args, kwargs):
        """Keyword arguments naming positional parameters become positional (the rules see positions)."""
        if not kwargs or self._signature is None:
            return args, kwargs
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{self.name}(): {err}") from None
        return tuple(bound.args), dict(bound.kwargs)

    def _as_operand(self, a, i):
        if isinstance(a, (list, tuple)) and is_differentiable(a):
            return np.stack(a)  # a list of differentiable values: one array argument, as numpy would read it
        return a

    def _check_has_rule(self, diff):
        if self.jvp_rule is None and self.fwd_rule is None and self.batched_jvp is None \
                and self.batched_vjp is None:
            which = next(a for a in diff if isinstance(a, ArrayLike))
            raise self._error(f"it was called with {describe(which)} but has no derivative rule",
                              f"define one with @{self.name}.defjvp (or .defvjp) before differentiating")

    def _evaluate(self, static: _Static, diff: tuple):
        """What the engines call, on the values of their level (which may carry lower levels)."""
        if any(isinstance(a, ArrayLike) for a in diff):
            return call_with_rule(self.primitive, (static,) + tuple(diff))
        return self.fun(*static.merge(diff), **static.kwargs)

    # ----------------------------------------------------------------- checks of what a rule returned
    def _check_like(self, got, want, what: str):
        if isinstance(want, tuple):
            if not isinstance(got, (tuple, list)) or len(got) != len(want):
                raise self._error(f"{what} should be a tuple of {len(want)} outputs like the function's, "
                                  f"got {describe(got)}", "return one entry per output")
            for g, w in zip(got, want):
                self._check_like(g, w, what)
            return
        if got is None:
            return
        gshape, wshape = _shape(got), _shape(want)
        if gshape != wshape:
            raise self._error(f"{what} has shape {gshape} but should have shape {wshape}",
                              "return arrays shaped like the function's output (tangents) or inputs (cotangents)")
        gdtype = np.asarray(_primal(got)).dtype
        if gdtype.kind not in "fiub":
            raise self._error(f"{what} has dtype {gdtype}", "return real float arrays")
        wdtype = np.asarray(_primal(want)).dtype
        if wdtype.kind == "f" and gdtype.kind == "f" and gdtype.itemsize > wdtype.itemsize:
            raise self._error(f"{what} has dtype {gdtype} but the value has dtype {wdtype}",
                              f"compute it in {wdtype}")

    # ----------------------------------------------------------------- the table entry: forward mode
    def _table_jvp(self, out, values, kwargs, tangents):
        static, primals = values[0], list(values[1:])
        tangents = list(tangents[1:])
        k = _k(tangents)
        if self.batched_jvp is not None:
            t = self.batched_jvp(static, primals, tangents, out)
        elif self.jvp_rule is not None:
            t = self._apply_user_jvp(static, primals, tangents, k, out)
        else:
            raise self._error(
                "forward mode (a Dual input) needs a JVP, and this function has only a VJP",
                "differentiate it in reverse mode (dualad.tape.grad / tape.vjp / tape.jacobian), or give it a "
                "JVP with dualad.custom_jvp (a JVP serves both modes)")
        want = _map_out(out, lambda o: o) if isinstance(out, tuple) else out
        self._check_batched(t, want, k, "the tangent it returned")
        return t

    def _check_batched(self, t, out, k, what):
        if isinstance(out, tuple):
            for ti, oi in zip(t, out):
                self._check_batched(ti, oi, k, what)
            return
        if t is None:
            return
        if _shape(t) != _shape(out) + (k,):
            raise self._error(f"{what} has shape {_shape(t)[:-1]} but should have the output's shape {_shape(out)}",
                              "return a tangent shaped like the primal output")

    def _user_jvp_call(self, static, primals, tangents_one):
        nondiff = [static.nondiff[i] for i in sorted(static.nondiff)]
        result = self.jvp_rule(*nondiff, tuple(primals), tuple(tangents_one))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise self._error(f"the JVP rule returned {describe(result)}",
                              "return a pair (primal_out, tangent_out)")
        return result

    def _apply_user_jvp(self, static, primals, tangents, k, out):
        zeros = [_float_zeros(p) if t is None else None for p, t in zip(primals, tangents)]
        active = [i for i, t in enumerate(tangents) if t is not None]

        def one(ts):
            full = list(zeros)
            for i, t in zip(active, ts):
                full[i] = t
            primal_out, tangent_out = self._user_jvp_call(static, primals, full)
            self._check_like(primal_out, out, "the primal output of the JVP rule")
            if isinstance(primal_out, tuple) or isinstance(out, tuple):
                tangent_out = tuple(tangent_out)
            self._check_like(tangent_out, out, "the tangent output of the JVP rule")
            return None, tangent_out

        _, t = _with_directions(one, [tangents[i] for i in active], k, "JVP")
        return t

    # ----------------------------------------------------------------- the table entry: reverse mode
    def _table_vjp(self, out, values, kwargs, ct):
        static, primals = values[0], list(values[1:])
        if self.batched_vjp is not None:
            cts = self.batched_vjp(static, primals, out, ct)
        elif self.fwd_rule is not None:
            cts = self._apply_user_vjp(static, primals, out, ct)
        elif self.jvp_rule is not None or self.batched_jvp is not None:
            cts = self._transpose_jvp(static, primals, out, ct)
        else:
            raise self._error("it has no derivative rule", f"define one with @{self.name}.defjvp")
        k = _shape(ct[0] if isinstance(ct, tuple) else ct)[-1]
        for p, c in zip(primals, cts):
            if c is not None and _shape(c) != _shape(p) + (k,):
                raise self._error(f"a cotangent has shape {_shape(c)[:-1]} but its argument has shape {_shape(p)}",
                                  "return cotangents shaped like the differentiated arguments")
        return [None] + list(cts)

    def _apply_user_vjp(self, static, primals, out, ct):
        args = static.merge(primals)
        result = self.fwd_rule(*args)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise self._error(f"the fwd rule returned {describe(result)}", "return a pair (output, residuals)")
        primal_out, residuals = result
        self._check_like(primal_out, out, "the output of the fwd rule")
        nondiff = [static.nondiff[i] for i in sorted(static.nondiff)]
        n = len(primals)

        def one(cts):
            g = cts[0] if not isinstance(out, tuple) else tuple(cts)
            res = self.bwd_rule(*nondiff, residuals, g)
            if not isinstance(res, (tuple, list)) or len(res) != n:
                raise self._error(f"the bwd rule returned {describe(res)}",
                                  f"return a tuple of {n} cotangent(s), one per differentiated argument "
                                  "(None for one that gets no derivative)")
            res = tuple(res)
            for p, c in zip(primals, res):
                self._check_like(c, p, "a cotangent returned by the bwd rule")
            return None, res

        cts_in = list(ct) if isinstance(out, tuple) else [ct]
        cts_in = [c if c is not None else np.zeros(_shape(o) + (_shape(next(x for x in cts_in if x is not None))[-1],))
                  for c, o in zip(cts_in, out if isinstance(out, tuple) else (out,))]
        k = _shape(cts_in[0])[-1]
        _, res = _with_directions(one, cts_in, k, "VJP")
        return list(res)

    def _transpose_jvp(self, static, primals, out, ct):
        from .tape.linearize import transpose_by_columns, transpose_jvp  # the tape: loaded when reverse mode runs

        values = [static] + list(primals)
        inputs = [i for i, p in enumerate(values) if i and is_numeric_argument(p)]
        try:  # record the JVP (tangents as the tape's inputs) and sweep back: linearise and transpose
            cts = transpose_jvp(self._table_jvp, out, values, {}, ct, [(i, None) for i in inputs])
        except (ConversionError, UnsupportedFunctionError):
            # the JVP needs plain floats: Jacobian columns from it instead, then their transpose
            cts = transpose_by_columns(self._table_jvp, out, values, {}, ct, inputs)
        return cts[1:]

    # ----------------------------------------------------------------- sparsity
    def _trace_sparsity(self, out, values, slots):
        from .sparse.declared import declared_pattern
        return declared_pattern(self, out, values, slots)


# --------------------------------------------------------------------------- the decorators
class custom_jvp(CustomFunction):
    """A function with a forward-mode rule of your own; reverse mode comes by linearise-and-transpose.

    As in JAX: decorate ``f``, then define its JVP with ``@f.defjvp``. The JVP receives the
    differentiated arguments and their tangents (one direction, shaped like the arguments) and
    returns ``(f(*primals), tangent_out)``; it must be linear in the tangents. Arguments in
    ``nondiff_argnums`` (callables, ints, options) are passed to the JVP first, as JAX does.

    >>> import numpy as np, dualad
    >>> from dualad import tape
    >>> @dualad.custom_jvp
    ... def cube(x):
    ...     return x ** 3
    >>> @cube.defjvp
    ... def cube_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return x ** 3, 3.0 * x ** 2 * t
    >>> float(dualad.derivative(cube, 2.0)), float(tape.grad(cube, 2.0))
    (12.0, 12.0)
    """

    _kind = "custom_jvp"

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the JVP rule ``jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)``; returns it."""
        if not callable(jvp):
            raise self._error(f"defjvp needs a function, got {describe(jvp)}", "pass the JVP function")
        self.jvp_rule = jvp
        return jvp


class custom_vjp(CustomFunction):
    """A function with a reverse-mode rule of your own, as in JAX: ``f.defvjp(fwd, bwd)``.

    ``fwd(*args) -> (output, residuals)`` and ``bwd(*nondiff_args, residuals, cotangent) ->
    tuple of cotangents`` (one per differentiated argument, shaped like it). Reverse mode only:
    forward mode through it raises (a JVP, via :func:`custom_jvp`, serves both).

    >>> import numpy as np
    >>> import dualad
    >>> from dualad import tape
    >>> @dualad.custom_vjp
    ... def clipped_identity(x):
    ...     return x
    >>> def fwd(x):
    ...     return x, None
    >>> def bwd(residuals, g):
    ...     return (np.clip(g, -1.0, 1.0),)
    >>> clipped_identity.defvjp(fwd, bwd)
    >>> tape.vjp(clipped_identity, np.array([1.0, 2.0]), np.array([0.5, 7.0]))[1]
    array([0.5, 1. ])
    """

    _kind = "custom_vjp"

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """Set the reverse rule: ``fwd(*args) -> (out, residuals)``, ``bwd(*nondiff, residuals, ct) -> cts``."""
        for what, fn in (("fwd", fwd), ("bwd", bwd)):
            if not callable(fn):
                raise self._error(f"defvjp needs a {what} function, got {describe(fn)}", "pass two functions")
        self.fwd_rule, self.bwd_rule = fwd, bwd


def float_function(fun: Callable | None = None, *, jacobian: Callable, nondiff_argnums: Sequence[int] = (),
                   sparsity: Any = None):
    """Wrap a function that only accepts plain floats (a compiled routine) with its Jacobian.

    ``fun(*args)`` and ``jacobian(*args)`` are always called on plain values. ``jacobian``
    returns, for each differentiated argument, the Jacobian of shape ``out.shape + arg.shape``
    (a tuple when there are several arguments). dualad applies it in forward mode (J @ t),
    reverse mode (Jᵀ u), with many directions at once and under sparsity detection. For
    second derivatives wrap ``jacobian`` itself with ``float_function``.

    >>> import numpy as np, math, dualad
    >>> def compiled_sin(x):                     # stands for code that needs plain floats
    ...     return np.array([math.sin(v) for v in np.asarray(x, dtype=float)])
    >>> f = dualad.float_function(compiled_sin, jacobian=lambda x: np.diag(np.cos(x)))
    >>> dualad.jacobian(lambda x: f(x) * 2.0, np.array([0.0, 1.0])).round(4)
    array([[2.    , 0.    ],
           [0.    , 1.0806]])
    """
    if fun is None:
        return lambda f: float_function(f, jacobian=jacobian, nondiff_argnums=nondiff_argnums, sparsity=sparsity)
    wrapped = CustomFunction(fun, nondiff_argnums, sparsity)
    wrapped._kind = "float_function"

    def jacobians(static, primals):
        J = jacobian(*static.merge(primals))
        Js = J if isinstance(J, (tuple, list)) and len(primals) > 1 else (J,)
        if len(Js) != len(primals):
            raise wrapped._error(f"jacobian {_name(jacobian)} returned {len(Js)} Jacobians for {len(primals)} "
                                 "differentiated arguments", "return one Jacobian per argument, in a tuple")
        return Js

    def checked(J, out, p):
        want = _shape(out) + _shape(p)
        if _shape(J) != want and _shape(J) == (math.prod(_shape(out)), math.prod(_shape(p))):
            J = np.reshape(J, want)
        if _shape(J) != want:
            raise wrapped._error(f"jacobian {_name(jacobian)} returned shape {_shape(J)}, expected {want} "
                                 "(output shape + argument shape)", "return the full Jacobian of each argument")
        return J

    def batched_jvp(static, primals, tangents, out):
        Js = jacobians(static, primals)
        total = None
        m = math.prod(_shape(out))
        for J, p, t in zip(Js, primals, tangents):
            if t is None:
                continue
            J = checked(J, out, p)
            k = _shape(t)[-1]
            c = np.reshape(np.reshape(J, (m, math.prod(_shape(p)))) @ np.reshape(t, (-1, k)), _shape(out) + (k,))
            total = c if total is None else total + c
        return total

    def batched_vjp(static, primals, out, ct):
        Js = jacobians(static, primals)
        m = math.prod(_shape(out))
        k = _shape(ct)[-1]
        res = []
        for J, p in zip(Js, primals):
            J = checked(J, out, p)
            res.append(np.reshape(np.swapaxes(np.reshape(J, (m, -1)), 0, 1) @ np.reshape(ct, (m, k)),
                                  _shape(p) + (k,)))
        return res

    wrapped.batched_jvp = batched_jvp
    wrapped.batched_vjp = batched_vjp
    wrapped.jacobian_rule = jacobian
    return wrapped
