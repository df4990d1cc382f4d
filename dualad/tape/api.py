"""The reverse-mode API: ``grad``, ``value_and_grad``, ``vjp``, ``jacobian``, ``record``, ``hvp``.

Every call records the function on a fresh :class:`~dualad.tape.Tape` and
sweeps backward over it; the tape is dropped when the call returns. Shapes
follow :mod:`dualad.forward`: the Jacobian of ``f`` at ``x`` has shape
``f(x).shape + x.shape``.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Sequence

import numpy as np

from .. import forward
from .. import decisions
from ..arraylike import primal as _primal
from ..dual import Dual, new_tag
from ..errors import InputError, OutputError, describe
from ..lifetime import finish_tag
from .graph import Tape, value_shape
from .var import Var, check_alive

__all__ = ["grad", "value_and_grad", "value_and_grad_of_inputs", "vjp", "jacobian", "jacobian_rows", "weighted_rows", "record", "stop_gradient", "label", "hvp"]


# --------------------------------------------------------------------------- helpers
def _as_point(x: Any, name: str = "x", complex_ok: bool = False):
    """A float (with ``complex_ok`` also complex) array copy of ``x``; Duals and tape values pass through."""
    if isinstance(x, (Var, Dual)):
        return x
    return forward.as_input(x, name, complex_ok)


def watch(tape: Tape, x, name: str | None = None) -> Var:
    """Make ``x`` an input of ``tape``: the returned Var is what the function receives."""
    node = tape.push(None, None, (), {}, (), x, name)
    tape.inputs.append(node)
    return Var(x, node, tape)


def _stack(y):
    """A list/tuple output as one array (nested lists become nested axes), recorded if needed."""
    items = [_stack(v) if isinstance(v, (list, tuple)) else v for v in y]
    for v in items:
        if not isinstance(v, (Var, Dual)) and not (
                isinstance(v, (np.ndarray, np.generic, int, float, bool)) and np.asarray(v).dtype.kind in "biuf"):
            raise OutputError(f"the function returned a list holding {describe(v)}, which is not numeric; "
                              "remedy: return numbers or arrays only")
    shapes = {value_shape(v) if isinstance(v, (Var, Dual)) else np.shape(v) for v in items}
    if len(shapes) > 1:  # ragged, constant or not
        raise OutputError(f"the function returned a list of arrays of different shapes {sorted(shapes)}; "
                          "remedy: return one array, or a list of equally shaped arrays")
    if any(isinstance(v, (Var, Dual)) for v in items):
        return np.stack(items)
    return np.array(items, dtype=float) if items else np.zeros(0)


def finish(tape: Tape, y):
    """Record ``y`` as the tape's output (stacking lists) and return it."""
    if isinstance(y, (list, tuple)):
        for item in y:
            if isinstance(item, (Var, Dual)) and getattr(item, "tape", None) is not tape:
                check_alive(item, "in the function's return value")
        y = _stack(y)
    if isinstance(y, (Var, Dual)) and getattr(y, "tape", None) is not tape:
        check_alive(y, "as the function's return value")
    if not isinstance(y, (Var, Dual)):
        if not isinstance(y, (np.ndarray, np.generic, int, float, bool)) or np.asarray(y).dtype.kind not in "biuf":
            raise OutputError(f"the function returned {describe(y)}, which is not numeric; "
                              "remedy: return a float, an array, or a list/tuple of those")
    tape.output = y
    return y


def _run(tape: Tape, f: Callable, xs: list, caller: str):
    """``finish(tape, f(*xs))``, closing the tape when f returns (or raises): from then on its
    values raise LifetimeError if they are used again (they escaped the call)."""
    try:
        return finish(tape, f(*xs))
    finally:
        tape.close(caller)


def _release(tape: Tape) -> None:
    """Drop the tape's reference to its output Var, which refers back to the tape.

    Without that cycle the tape and every array it holds are freed as soon as
    the call returns (by reference counting) instead of at the next garbage
    collection: memory is reused while still in cache, and with the collector
    off (as ``timeit`` runs) it does not grow call after call.
    """
    tape.output = None


def _float_dtype(v):
    dtype = np.asarray(_primal(v)).dtype
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _real_output(value, caller: str) -> None:
    """A gradient or Jacobian by reverse mode needs real outputs (complex ones: vjp, or holomorphic=True)."""
    if np.asarray(_primal(value)).dtype.kind == "c":
        raise OutputError(
            f"{caller} needs a real-valued f, but f returned complex values ({describe(value)}); remedy: "
            "differentiate a real function of them (np.abs(y) ** 2, np.real(y)), use dualad.tape.vjp with a "
            "complex cotangent, or dualad.tape.jacobian(..., holomorphic=True) for a holomorphic f")


def _input_adjoint(tape: Tape, adj: list, node, k: int):
    g = adj[node.index]
    if g is None:
        return np.zeros(value_shape(node.value) + (k,), dtype=_float_dtype(node.value))
    return g


def _plain_copy(g):
    """A writable array of our own (an adjoint may be a read-only broadcast view)."""
    return np.array(g) if isinstance(g, (np.ndarray, np.generic)) else g


def auto_chunk(tape: Tape, m: int, itemsize: int) -> int:
    """Cotangent directions per sweep: all ``m`` while the widest node's cotangents fit the budget."""
    widest = max((math.prod(n.shape) for n in tape.nodes if not isinstance(n.value, tuple)), default=1)
    return max(1, min(m, forward.CHUNK_BYTES // (itemsize * max(widest, 1))))


def _identity_rows(m: int, start: int, k: int, dtype, yshape: tuple) -> np.ndarray:
    """Rows ``start .. start + k`` of the m x m identity as a batched cotangent (``yshape + (k,)``)."""
    seed = np.zeros((m, k), dtype=dtype)
    seed[np.arange(start, start + k), np.arange(k)] = 1.0
    return seed.reshape(yshape + (k,))


def _names(f: Callable, count: int) -> list[str]:
    """Input names for the listing: the function's own parameter names when it has them."""
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) >= count:
        return params[:count]
    return ["x"] if count == 1 else [f"x{i}" for i in range(count)]


# --------------------------------------------------------------------------- the API
def record(f: Callable, *xs: Any, names: Sequence[str] | None = None) -> Tape:
    """Run ``f(*xs)`` on a new tape and return the tape, for inspection and :meth:`Tape.backward`.

    Inputs are named after ``f``'s parameters unless ``names`` is given; name
    intermediate values with :func:`label`.

    >>> from dualad import tape
    >>> t = tape.record(lambda x, y, z: tape.label(x + y, "q") * z, -2.0, 5.0, -4.0)
    >>> t.backward()
    (array(-4.), array(-4.), array(3.))
    >>> len(t.nodes)
    5
    """
    if names is not None and len(names) != len(xs):
        raise InputError(f"names has {len(names)} entries for {len(xs)} inputs; remedy: name every input")
    names = list(names) if names is not None else _names(f, len(xs))
    tape = Tape()
    xs_ = [watch(tape, _as_point(x, n, True), n) for x, n in zip(xs, names)]
    _run(tape, f, xs_, "dualad.tape.record")
    return tape


def value_and_grad(f: Callable, x: Any):
    """``(f(x), gradient)`` of a scalar-valued ``f`` by one reverse sweep.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.value_and_grad(lambda v: np.sum(v ** 2), np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    tape = Tape()
    xv = watch(tape, _as_point(x, complex_ok=True))
    _run(tape, f, [xv], "dualad.tape.grad")
    value = tape.value
    if value_shape(value) != ():
        raise OutputError(f"grad needs a scalar-valued function, but f returned shape {value_shape(value)}; "
                          "remedy: use tape.jacobian or tape.vjp for vector outputs")
    _real_output(value, "dualad.tape.grad")
    seed = np.ones((1,), dtype=_float_dtype(value))
    adj = tape.sweep(seed)
    _release(tape)
    return value, _plain_copy(_input_adjoint(tape, adj, tape.inputs[0], 1)[..., 0])


def value_and_grad_of_inputs(f: Callable, xs: Sequence[Any]) -> tuple[Any, list]:
    """``(f(*xs), [gradient for each x])`` of a scalar-valued ``f`` of several arrays, by one sweep.

    Each array is an input of its own on one tape (nothing is packed into one
    vector and cut apart again): the containers of :mod:`dualad.tape.valueforms`
    cost what the plain arrays cost.

    >>> import numpy as np
    >>> from dualad.tape.api import value_and_grad_of_inputs
    >>> value_and_grad_of_inputs(lambda a, b: np.sum(a * b), [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    (np.float64(11.0), [array([3., 4.]), array([1., 2.])])
    """
    tape = Tape()
    inputs = [watch(tape, _as_point(x, complex_ok=True)) for x in xs]
    _run(tape, f, inputs, "dualad.tape.grad")
    value = tape.value
    if value_shape(value) != ():
        raise OutputError(f"grad needs a scalar-valued function, but f returned shape {value_shape(value)}; "
                          "remedy: use tape.jacobian or tape.vjp for vector outputs")
    _real_output(value, "dualad.tape.grad")
    adj = tape.sweep(np.ones((1,), dtype=_float_dtype(value)))
    _release(tape)
    return value, [_plain_copy(_input_adjoint(tape, adj, node, 1)[..., 0]) for node in tape.inputs]


def grad(f: Callable, x: Any):
    """The gradient of a scalar-valued ``f`` at ``x`` (shape ``x.shape``), by reverse mode.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.grad(lambda v: v[0] * v[1] + np.sin(v[0]), np.array([0.0, 3.0]))
    array([4., 0.])
    """
    return value_and_grad(f, x)[1]


def vjp(f: Callable, x: Any, u: Any):
    """``(f(x), uᵀJ)``: the value and the vector-Jacobian product, in one recording and one sweep.

    ``u`` has ``f(x)``'s shape; the result has ``x``'s shape.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.vjp(lambda v: v ** 2, np.array([1.0, 2.0]), np.array([1.0, 10.0]))
    (array([1., 4.]), array([ 2., 40.]))
    """
    tape = Tape()
    xv = watch(tape, _as_point(x, complex_ok=True))
    _run(tape, f, [xv], "dualad.tape.vjp")
    value = tape.value
    # validated like x: a complex u would lose its imaginary part, a string fail deep in numpy
    if not isinstance(u, (Var, Dual)):
        u = _as_point(u, "u", True)
        if u.dtype.kind == "c" and _float_dtype(value).kind != "c":
            raise InputError(f"u is complex ({describe(u)}) but f(x) is real; remedy: pass a real cotangent")
        u = np.asarray(u, dtype=_float_dtype(value))
    if value_shape(u) != value_shape(value):
        raise InputError(f"u must have f(x)'s shape {value_shape(value)}, got {describe(u)}; "
                         "remedy: pass one cotangent shaped like the output")
    adj = tape.sweep(u[..., None])
    _release(tape)
    return value, _plain_copy(_input_adjoint(tape, adj, tape.inputs[0], 1)[..., 0])


def jacobian_rows(f: Callable, x: Any, start: int, stop: int) -> tuple[Any, np.ndarray]:
    """``(f(x), J[start:stop])``: record ``f`` and sweep rows ``start .. stop`` of the identity.

    The rows come as an ``(stop - start, n)`` array (n inputs, flattened). Each
    executor task of :func:`jacobian` calls this: the sweep is the one the serial
    chunk loop makes for the same rows, so the result is bit-for-bit the same.

    >>> import numpy as np
    >>> jacobian_rows(lambda v: v ** 2, np.array([1.0, 2.0, 3.0]), 1, 3)
    (array([1., 4., 9.]), array([[0., 4., 0.],
           [0., 0., 6.]]))
    """
    x = _as_point(x)
    tape = Tape()
    xv = watch(tape, x)
    _run(tape, f, [xv], "dualad.tape.jacobian")
    value = tape.value
    yshape, xshape = value_shape(value), value_shape(x)
    m, n = math.prod(yshape), math.prod(xshape)
    stop = min(stop, m)
    k = max(0, stop - start)
    if tape.output_node is None or k == 0:
        _release(tape)
        return np.asarray(_primal(value)), np.zeros((k, n), dtype=_float_dtype(x))
    rows = _input_adjoint(tape, tape.sweep(_identity_rows(m, start, k, _float_dtype(value), yshape)),
                          tape.inputs[0], k)
    _release(tape)
    return np.asarray(_primal(value)), np.array(np.reshape(rows, (n, k)).T)  # an array of our own, rows in C order


def weighted_rows(f: Callable, x: Any, weights: np.ndarray) -> tuple[Any, np.ndarray]:
    """``(f(x), W J)``: one recording and one sweep with the ``k`` rows of ``W`` (``(k, m)``) as cotangents.

    The result is ``(k, n)`` (n inputs, flattened): the sparse Jacobian's reverse passes
    (rows of one colour summed into one cotangent) use it.

    >>> import numpy as np
    >>> weighted_rows(lambda v: v ** 2, np.array([1.0, 2.0, 3.0]), np.array([[1.0, 0.0, 1.0]]))[1]
    array([[2., 0., 6.]])
    """
    x = _as_point(x)
    tape = Tape()
    xv = watch(tape, x)
    _run(tape, f, [xv], "dualad.tape (reverse passes of a sparse Jacobian)")
    value = tape.value
    yshape, xshape = value_shape(value), value_shape(x)
    m, n = math.prod(yshape), math.prod(xshape)
    weights = np.asarray(weights, dtype=_float_dtype(value))
    k = weights.shape[0]
    if weights.shape != (k, m):
        _release(tape)
        raise InputError(f"weights must have shape (k, {m}) for f's {m} outputs, got {weights.shape}")
    if tape.output_node is None or k == 0:
        _release(tape)
        return np.asarray(_primal(value)), np.zeros((k, n), dtype=_float_dtype(x))
    seed = np.ascontiguousarray(weights.T).reshape(yshape + (k,))
    rows = _input_adjoint(tape, tape.sweep(seed), tape.inputs[0], k)
    _release(tape)
    return np.asarray(_primal(value)), np.array(np.reshape(rows, (n, k)).T)


def jacobian(f: Callable, x: Any, *, chunk_size: int | None = None, executor: Any = None,
             holomorphic: bool = False):
    """The Jacobian of ``f`` at ``x`` by reverse mode, of shape ``f(x).shape + x.shape``.

    ``f`` is recorded once; each backward sweep carries ``chunk_size`` rows of
    the identity as a batch of cotangents (``None``: all rows at once while the
    cotangents fit in ``dualad.forward.CHUNK_BYTES``).

    ``executor`` (any ``concurrent.futures.Executor``) spreads blocks of rows over
    its workers, each recording ``f`` once and sweeping its rows; see
    :mod:`dualad.parallel`.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.jacobian(lambda v: [v[0] * v[1], np.sin(v[0])], [2.0, 3.0])
    array([[ 3.        ,  2.        ],
           [-0.41614684,  0.        ]])
    """
    if holomorphic or (not isinstance(x, (Var, Dual)) and forward.is_complex_point(x)):
        x = _as_point(x, complex_ok=True)
        forward.complex_input(x, holomorphic, "dualad.tape.jacobian")
        if executor is not None:
            raise InputError("dualad.tape.jacobian(..., holomorphic=True) runs serially; remedy: leave executor out")
        from ..wirtinger import holomorphic_only
        with holomorphic_only("dualad.tape.jacobian"):
            return _jacobian(f, x, chunk_size, holomorphic=True)
    if executor is not None:
        from ..parallel import jacobians  # lazy: the parallel machinery costs nothing unless asked for
        return jacobians.reverse_jacobian(f, x, chunk_size=chunk_size, executor=executor)
    return _jacobian(f, _as_point(x), chunk_size)


def _jacobian(f: Callable, x: Any, chunk_size: int | None, holomorphic: bool = False):
    tape = Tape()
    xv = watch(tape, x)
    _run(tape, f, [xv], "dualad.tape.jacobian")
    value = tape.value
    if not holomorphic:
        _real_output(value, "dualad.tape.jacobian")
    yshape, xshape = value_shape(value), value_shape(x)
    m, n = math.prod(yshape), math.prod(xshape)
    dtype = _float_dtype(value)
    if chunk_size is None:
        chunk = auto_chunk(tape, m, dtype.itemsize)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive int or None, got {chunk_size!r}; "
                         "remedy: pass e.g. chunk_size=8, or None for the automatic choice")
    else:
        chunk = int(chunk_size)
    if tape.output_node is None or m == 0:
        _release(tape)
        return np.zeros(yshape + xshape, dtype=_float_dtype(x))
    J = None  # rows of the Jacobian, filled chunk by chunk (m x n)
    blocks = []  # only when an adjoint is not a plain array (a Dual, in nested use)
    for start in range(0, m, chunk):
        k = min(m, start + chunk) - start
        # the sweep holds the only reference to the seed (and drops it once used): at any time
        # memory is J plus about two cotangent blocks of m x k
        rows = np.reshape(_input_adjoint(tape, tape.sweep(_identity_rows(m, start, k, dtype, yshape)),
                                         tape.inputs[0], k), (n, k))
        if isinstance(rows, np.ndarray) and not blocks:
            if J is None:
                J = np.empty((m, n), dtype=rows.dtype)
            J[start:start + k] = rows.T
        else:
            if J is not None:  # switch to blocks, keeping what was already filled
                blocks, J = [np.transpose(J[:start])], None
            blocks.append(rows)
        del rows
    _release(tape)
    if blocks:
        return np.reshape(np.transpose(blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)),
                          yshape + xshape)
    return np.reshape(J, yshape + xshape)  # our own array: no copy needed


def stop_gradient(x: Any):
    """``x`` as a constant: no derivative flows through it (like PyTorch's ``detach``).

    Every differentiable layer is removed, tape values and Duals alike.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.grad(lambda v: v * tape.stop_gradient(v), 3.0)   # d/dv (v * c) with c = v = 3
    array(3.)
    """
    if isinstance(x, (list, tuple)):
        return type(x)(stop_gradient(v) for v in x)
    value = _primal(x)
    if value is not x:
        # a plain copy of a differentiable value: what f then does with it (a branch, an index, a
        # constant factor) is invisible to a replay or a sparsity pattern, so it is a decision itself
        # (prepare refuses it; SparseJacobian detects again where the copy differs)
        decisions.note("tape.stop_gradient's plain copy", value)
    if isinstance(x, (Var, Dual)) and isinstance(value, np.ndarray):
        # a copy: the array is what the tape recorded, and a write into it would reach the backward sweep
        return value.copy()
    return value


def label(v: Any, name: str):
    """Name the tape node holding ``v`` (for :meth:`Tape.listing` and :meth:`Tape.to_dot`); returns ``v``.

    On a plain value it does nothing, so labelled code still runs without a tape.

    >>> from dualad import tape
    >>> t = tape.record(lambda x: tape.label(x * 2.0, "double"), 1.5)
    >>> t.nodes[-1].label
    'double'
    """
    if isinstance(v, Var):
        v.node.name = str(name)
    return v


def hvp(f: Callable, x: Any, v: Any):
    """The Hessian-vector product ``H(x) @ v`` of a scalar ``f``, forward over reverse.

    The gradient is taken by the tape at the Dual point ``x + ε v``; its
    tangent is ``H v``. Cost: a small constant times one gradient, and the
    Hessian is never formed.

    >>> import numpy as np, dualad
    >>> dualad.hvp(lambda w: w[0] ** 2 * w[1], np.array([1.0, 3.0]), np.array([1.0, 0.0]))
    array([6., 2.])
    """
    x = _as_point(x)
    v = _as_point(v, "v")
    if isinstance(v, (Var, Dual)) or value_shape(v) != value_shape(x):
        raise InputError(f"v must have x's shape {value_shape(x)}, got {describe(v)}; "
                         "remedy: pass one direction shaped like x")
    tag = new_tag()
    try:
        g = grad(f, Dual._make(x, v.astype(_float_dtype(x)), tag))
    finally:
        finish_tag(tag, "dualad.hvp")
    if isinstance(g, Dual) and g.tag == tag:
        return _plain_copy(g.tangent)
    return np.zeros(value_shape(x), dtype=_float_dtype(x))  # the gradient does not depend on x

