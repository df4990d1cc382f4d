"""The forward-mode API: ``jvp``, ``derivative``, ``jacobian``, ``gradient``, ``hessian``.

Shapes follow JAX's ``jacfwd``: the Jacobian of ``f`` at ``x`` has shape
``f(x).shape + x.shape``.
"""
from __future__ import annotations

import functools
import gc
import math
from typing import Any, Callable

import numpy as np

from .arraylike import ArrayLike, primal as _primal
from .common import as_real_array, ndim as _ndim
from .diagonal import DiagonalTangent, dense as _dense
from .dual import Dual, new_tag
from .errors import InputError, NondeterministicError, OutputError, UnsupportedFunctionError, describe
from .lifetime import check_tag, escaped, finish_tag

__all__ = ["jvp", "derivative", "jacobian", "gradient", "hessian", "auto_chunk_size", "CHUNK_BYTES",
           "jacobian_columns", "push_forward", "check_chunk_size", "same_value", "array_jacobian"]

#: Byte budget of the seed tangent block (n inputs x chunk directions) in one pass.
#: Below it every column is seeded at once; above it the columns go in chunks, so
#: memory stays bounded by the Jacobian itself plus a few chunk-sized temporaries.
CHUNK_BYTES = 1 << 25


def auto_chunk_size(n: int, itemsize: int = 8) -> int:
    """Directions per pass chosen by ``jacobian(..., chunk_size=None)``.

    All ``n`` columns at once while the ``n x n`` seed fits in :data:`CHUNK_BYTES`
    (n <= 2048 in float64); otherwise ``CHUNK_BYTES // (n * itemsize)`` columns.

    >>> auto_chunk_size(100), auto_chunk_size(20_000)
    (100, 209)
    """
    for name, v, low in (("n", n, 0), ("itemsize", itemsize, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise InputError(f"auto_chunk_size needs {name} an int >= {low}, got {v!r}")
    return _chunk_for(n, itemsize)


def _chunk_for(n: int, itemsize: int) -> int:
    if n * n * itemsize <= CHUNK_BYTES:
        return max(n, 1)
    return max(1, CHUNK_BYTES // (n * itemsize))


def as_input(x: Any, name: str = "x", complex_ok: bool = False):
    """A float (or, with ``complex_ok``, complex) array copy of ``x`` (or ``x`` itself if it is a Dual or a
    tape value, for nesting)."""
    if isinstance(x, ArrayLike):
        return x
    if type(x) is np.ndarray and x.dtype.kind == "f":
        return x.copy()  # the common case, without the checks below
    return as_real_array(x, name, complex_ok)


def complex_input(x, holomorphic: bool, caller: str) -> bool:
    """Vet a complex ``x`` (or ``holomorphic=True``) for a Jacobian-like call; True when x is complex.

    A Jacobian of a complex input is a complex matrix only for a holomorphic ``f``
    (``holomorphic=True``); otherwise there is no complex Jacobian to return.
    """
    is_complex = _dtype(x).kind == "c"
    if holomorphic and not is_complex:
        raise InputError(f"{caller}(..., holomorphic=True) needs a complex x, got {describe(x)}; remedy: pass "
                         "x.astype(complex), or leave holomorphic out for a real x")
    if is_complex and not holomorphic:
        raise InputError(
            f"{caller} got a complex x ({describe(x)}): a complex Jacobian df/dz exists only for a holomorphic f; "
            f"remedy: pass holomorphic=True if f is holomorphic (dualad raises if it meets abs, conj, real, "
            "imag, angle, ...), use dualad.jvp for the real-linear map df = f_z dz + f_zbar conj(dz) along a "
            "direction, dualad.tape.grad for a real-valued f (JAX's convention: dL/dx - i dL/dy), or pass "
            "the real and imaginary parts as separate real inputs for the 2m x 2n real Jacobian")
    return is_complex


def is_complex_point(x) -> bool:
    """True for a complex point (cheap for the usual float ndarray)."""
    if type(x) is np.ndarray:
        return x.dtype.kind == "c"
    if isinstance(x, complex):
        return True
    try:
        return np.asarray(_primal(x)).dtype.kind == "c"
    except (TypeError, ValueError):  # ragged lists and the like: as_input names the problem
        return False


def _dtype(x) -> np.dtype:
    return np.asarray(_primal(x)).dtype


def _stack_output(y):
    """Turn a list/tuple output into one array or Dual (nested lists become nested axes)."""
    items = [_stack_output(v) if isinstance(v, (list, tuple)) else v for v in y]
    if not any(isinstance(v, Dual) for v in items):
        for v in items:
            _plain_output(v)  # a string or None in the list: OutputError, not numpy's conversion error
        shapes = {np.shape(v) for v in items}
        if len(shapes) > 1:  # ragged constants: numpy's own ValueError would name no remedy
            raise OutputError(f"the function returned a list of arrays of different shapes {sorted(shapes)}; "
                              "remedy: return one array, or a list of equally shaped arrays")
        return _plain_output(np.array(items) if items else np.zeros(0))
    if not items:
        return np.zeros(0)
    parts = [v if isinstance(v, Dual) else _plain_output(v) for v in items]
    shapes = {p.shape if isinstance(p, Dual) else np.shape(p) for p in parts}
    if len(shapes) > 1:
        raise OutputError(f"the function returned a list of arrays of different shapes {sorted(shapes)}; "
                          "remedy: return one array, or a list of equally shaped arrays")
    return np.stack(parts)


def _plain_output(y):
    arr = np.asarray(y) if not isinstance(y, Dual) else y
    if not isinstance(arr, Dual) and arr.dtype.kind not in "biuf":
        raise OutputError(f"the function returned {describe(arr)}, which is not numeric; "
                          "remedy: return a float, an array, a Dual, or a list/tuple of those")
    return arr


_NUMBERS = (int, float, np.integer, np.floating, np.bool_)


def _scalar_rows(y, tag: int, k: int):
    """(values, (m, k) tangent) of a flat list of scalar Duals and numbers, or None if it is not one.

    Scalar-style code returns such lists; one ``np.array`` per part is much
    cheaper than stacking m Duals through the dispatch.
    """
    values, rows, dtype = [], [], None
    row_shape = (k,)
    for v in y:
        if type(v) is Dual and v.tag == tag:
            t = v.tangent
            value = v.value
            if type(t) is not np.ndarray or t.shape != row_shape or not (
                    type(value) is np.float64 or isinstance(value, (float, np.floating))):
                return None
            values.append(value)
            rows.append(t)
            dtype = t.dtype
        elif isinstance(v, _NUMBERS):
            values.append(v)
            rows.append(None)  # a constant output: a zero row
        else:
            if type(v) is Dual:
                check_tag(v.tag, "in the function's return value")
            return None
    if dtype is None:
        return None  # no Dual at all: the general path decides the constant output's dtype
    if len(values) != sum(r is not None for r in rows):
        zero = np.zeros(k, dtype)
        rows = [zero if r is None else r for r in rows]
    return np.array(values), np.array(rows)


def split_output(y, tag: int, k: int, dtype):
    """(value, batched tangent of shape value.shape + (k,)) of an output at ``tag``."""
    if isinstance(y, (list, tuple)):
        fast = _scalar_rows(y, tag, k)
        if fast is not None:
            return fast
        y = _stack_output(y)
    if isinstance(y, Dual) and y.tag == tag:
        t = y.tangent
        if _ndim(t) == _ndim(y.value):
            t = t[..., None]
        return y.value, t
    if isinstance(y, Dual):  # a Dual of an outer differentiation: constant here
        check_tag(y.tag, "as the function's return value")
        value = y
    elif isinstance(y, (np.ndarray, np.generic, int, float, bool)):
        value = _plain_output(y)
    else:
        closed = getattr(getattr(y, "tape", None), "closed", None)
        if closed is not None:  # a tape value kept from a finished reverse-mode call
            raise escaped("a tape value", closed, "as the function's return value")
        raise OutputError(f"the function returned a {type(y).__name__}, which dualad cannot differentiate; "
                          "remedy: return a float, an array, a Dual, or a list/tuple of those")
    shape = value.shape if isinstance(value, Dual) else np.shape(value)
    return value, np.zeros(shape + (k,), dtype=np.result_type(dtype, np.float64 if np.asarray(
        _primal(value)).dtype.kind != "f" else np.asarray(_primal(value)).dtype))


#: Smallest 1-D input whose full identity seed is kept as its diagonal
#: (:class:`dualad.diagonal.DiagonalTangent`); below it the dense seed is cheaper.
DIAGONAL_SEED_MIN = 16


#: Largest n whose n x n identity seed is kept (read-only) for copying; copying it is
#: cheaper than zeros plus a strided write, which matters only for small n.
_IDENTITY_MAX = 64


@functools.lru_cache(maxsize=None)  # at most _IDENTITY_MAX sizes per float dtype; thread-safe
def _identity(n: int, dtype: np.dtype) -> np.ndarray:
    eye = np.eye(n, dtype=dtype)
    eye.flags.writeable = False  # shared by every call: only ever copied
    return eye


def _seed(x, start: int, stop: int, tag: int) -> Dual:
    n = math.prod(x.shape)
    k = stop - start
    if type(x) is np.ndarray and x.ndim == 1 and k == n:  # the whole identity of a vector (the common seed)
        if n >= DIAGONAL_SEED_MIN:
            return Dual._make(x, DiagonalTangent.eye(n, x.dtype), tag)
        if n <= _IDENTITY_MAX:  # (n, n) already: no reshape
            return Dual._make(x, _identity(n, x.dtype).copy(), tag)  # a fresh, writable seed: f may write into x
    dtype = _dtype(x)
    if k == n and n <= _IDENTITY_MAX:
        block = _identity(n, dtype).copy()  # a fresh, writable seed: f may write into x
    else:
        block = np.zeros((n, k), dtype=dtype)
        block[start:stop].reshape(-1)[::k + 1] = 1.0  # the ones at (start + i, i): a strided view, no index arrays
    shape = x.shape if isinstance(x, Dual) else x.shape
    return Dual._make(x, block.reshape(shape + (k,)), tag)


def _columns_pass(f: Callable, x, start: int, stop: int, dtype, outputs=None) -> tuple[Any, Any]:
    """One pass seeding columns ``start .. stop``: ``(f(x), J[:, start:stop] as an (m, k) block)``
    (``outputs``: see :func:`array_jacobian`)."""
    # a tag per pass: a Dual kept from an earlier pass (seeded with other columns) raises
    tag = new_tag()
    try:
        seed = _seed(x, start, stop, tag)
        y = f(seed)
        if outputs is not None and type(y) is not Dual:
            y = outputs(seed, y)
    finally:
        finish_tag(tag, "dualad.jacobian")
    value, t = split_output(y, tag, stop - start, dtype)
    return value, t.reshape((math.prod(t.shape[:-1]), stop - start))  # -1 fails when empty


def jacobian_columns(f: Callable, x: Any, start: int, stop: int) -> tuple[Any, Any]:
    """``(f(x), J[:, start:stop])``: one pass seeding columns ``start .. stop`` of the identity.

    The block is an ``(m, stop - start)`` array (m outputs, flattened). The serial
    chunk loop of :func:`jacobian` makes the same pass, so a Jacobian assembled
    from blocks (on an executor) is bit-for-bit the serial one.

    >>> import numpy as np
    >>> jacobian_columns(lambda v: v ** 2, np.array([1.0, 2.0, 3.0]), 1, 3)
    (array([1., 4., 9.]), array([[0., 0.],
           [4., 0.],
           [0., 6.]]))
    """
    x = as_input(x)
    return _columns_pass(f, x, start, stop, _dtype(x))


def push_forward(f: Callable, x: Any, seed: Any) -> tuple[Any, Any]:
    """``(f(x), tangent)`` with ``seed`` (``x.shape + (k,)``) as the k tangent directions of ``x``.

    The tangent has shape ``f(x).shape + (k,)``: ``J @ seed`` in one pass, for any
    seed (colour groups of a sparse Jacobian, batched identities).

    >>> import numpy as np
    >>> push_forward(lambda v: v * v[::-1], np.array([1.0, 2.0]), np.eye(2))[1]
    array([[2., 1.],
           [2., 1.]])
    """
    x = as_input(x)
    tag = new_tag()
    try:
        y = f(Dual._make(x, np.asarray(seed, dtype=_dtype(x)), tag))
    finally:
        finish_tag(tag, "dualad.push_forward")
    return split_output(y, tag, np.shape(seed)[-1], _dtype(x))


def check_chunk_size(chunk_size: Any) -> int:
    """``chunk_size`` as a positive int, or an :class:`InputError` naming the remedy."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive int or None, got {chunk_size!r}; "
                         "remedy: pass e.g. chunk_size=8, or None for the automatic choice")
    return int(chunk_size)


def jacobian(f: Callable, x: Any, *, chunk_size: int | None = None, executor: Any = None,
             holomorphic: bool = False):
    """The Jacobian of ``f`` at ``x`` by forward mode, of shape ``f(x).shape + x.shape``.

    Each pass seeds ``chunk_size`` columns of the identity as tangent directions;
    ``None`` picks the size by :func:`auto_chunk_size`. Outputs that do not depend
    on ``x`` give zero rows.

    ``executor`` (any ``concurrent.futures.Executor``: a process pool, a thread
    pool, dask's ``client.get_executor()``) spreads blocks of columns over its
    workers; see :mod:`dualad.parallel`. The result is bit-for-bit the serial one
    with the same blocks (``chunk_size``).

    ``holomorphic=True`` (complex ``x``): the complex Jacobian df/dz of a holomorphic ``f``;
    a non-holomorphic operation met on the way raises :class:`~dualad.errors.NonHolomorphicError`.

    >>> import numpy as np, dualad
    >>> dualad.jacobian(lambda v: [v[0] * v[1], np.exp(v[0])], [2.0, 3.0])
    array([[3.       , 2.       ],
           [7.3890561, 0.       ]])
    >>> dualad.jacobian(lambda z: z ** 2, np.array([1j]), holomorphic=True)
    array([[0.+2.j]])
    """
    if type(x) is np.ndarray and x.dtype.kind == "f" and executor is None and not holomorphic:
        return _jacobian(f, x.copy(), chunk_size, None)  # the common call: a private copy (as_input), nothing to vet
    if holomorphic or is_complex_point(x):
        x = as_input(x, complex_ok=True)
        complex_input(x, holomorphic, "dualad.jacobian")
        if executor is not None:
            raise InputError("dualad.jacobian(..., holomorphic=True) runs serially; remedy: leave executor out")
        from .wirtinger import holomorphic_only
        with holomorphic_only("dualad.jacobian"):
            return _jacobian(f, x, chunk_size, None)
    if executor is not None:
        from .parallel import jacobians  # lazy: the parallel machinery costs nothing unless asked for
        return jacobians.forward_jacobian(f, x, chunk_size=chunk_size, executor=executor)
    return _jacobian(f, as_input(x), chunk_size, None)


def array_jacobian(f: Callable, x: Any, outputs: Callable[[Any, Any], Any], **options: Any):
    """``jacobian(f, x, **options)`` with ``outputs(seed, y)`` applied to each output of ``f`` that is
    not a Dual (the value forms flatten containers there); a Dual output goes to the core as it is.

    The value forms' single-array call (:func:`dualad.valueforms.jacobian`): for a float ndarray no
    wrapper runs around ``f``, so the common call pays nothing for the containers it does not return.

    >>> import numpy as np
    >>> array_jacobian(np.sin, np.zeros(2), lambda seed, y: y)
    array([[1., 0.],
           [0., 1.]])
    """
    if type(x) is np.ndarray and x.dtype.kind == "f" and options.get("executor") is None \
            and not options.get("holomorphic"):
        return _jacobian(f, x.copy(), options.get("chunk_size"), outputs)  # (as jacobian's own short path)
    return jacobian(lambda z: _through(outputs, z, f(z)), x, **options)


def _through(outputs, z, y):
    return y if type(y) is Dual else outputs(z, y)


def _jacobian(f: Callable, x: Any, chunk_size: int | None, outputs):
    xshape = x.shape
    n = math.prod(xshape)
    dtype = x.dtype if type(x) is np.ndarray else _dtype(x)
    if chunk_size is None:
        chunk = _chunk_for(n, dtype.itemsize)  # n and itemsize are ints here: no argument checks
    else:
        chunk = check_chunk_size(chunk_size)
    if chunk >= n:  # every column in one pass (the common case): f(x)'s tangent is J already
        tag = new_tag()
        try:
            seed = _seed(x, 0, n, tag)
            y = f(seed)
            if outputs is not None and type(y) is not Dual:
                y = outputs(seed, y)
        finally:
            finish_tag(tag, "dualad.jacobian")
        t = None
        if type(y) is Dual and y.tag == tag and type(y.value) is np.ndarray:  # an array output (split_output inline)
            t = y.tangent
            if type(t) is not np.ndarray:  # a storage format (DiagonalTangent) as its dense array
                t = _dense(t) if t.ndim == y.value.ndim + 1 else None
            elif t.ndim != y.value.ndim + 1:
                t = None
        if t is None:  # anything else: lists, constants, scalars, nested Duals
            t = split_output(y, tag, n, dtype)[1]
        # (a 1-D x: J is the tangent itself, t.shape[:-1] + xshape being its shape)
        J = t if len(xshape) == 1 and type(t) is np.ndarray else t.reshape(t.shape[:-1] + xshape)
        if type(J) is np.ndarray and not J.flags.writeable:
            J = J.copy()  # a broadcast tangent is a read-only view; the caller gets an array of its own
        return J
    starts = list(range(0, n, chunk)) or [0]
    value = first = None
    blocks = []
    J = None
    for start in starts:
        stop = min(n, start + chunk)
        value, t = _columns_pass(f, x, start, stop, dtype, outputs)
        if start == 0:
            first = value
        else:
            same_value(first, value, start, stop)
        if len(starts) == 1:
            blocks.append(t)
        elif isinstance(t, np.ndarray):
            if J is None:
                J = np.empty((t.shape[0], n), dtype=t.dtype)
            J[:, start:stop] = t
        else:
            blocks.append(t)
    out_shape = value.shape if isinstance(value, (Dual, np.ndarray)) else np.shape(value)
    if J is None:
        J = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=-1)
    return J.reshape(out_shape + xshape)


def same_value(first, value, start: int, stop: int) -> None:
    """Every pass of one Jacobian evaluates f at the same x: its value must not change."""
    a, b = np.asarray(_primal(first)), np.asarray(_primal(value))
    if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
        raise NondeterministicError(
            f"f returned a different value in the pass for Jacobian columns {start}..{stop - 1} than in the "
            "first pass, at the same x; f is not deterministic (it draws random numbers, or reads state "
            "that it or someone else changes between calls), so the columns would belong to different "
            "functions; remedy: make f a pure function of x (fix the random seed inside f, e.g. "
            "np.random.default_rng(0), and do not mutate captured state), or compute the Jacobian in one "
            "pass (chunk_size=None on a small x) or by dualad.tape.jacobian")


def jvp(f: Callable, x: Any, v: Any):
    """``(f(x), J @ v)``: the value and the directional derivative along ``v``, in one pass.

    >>> import numpy as np, dualad
    >>> dualad.jvp(np.sin, 0.0, 2.0)
    (np.float64(0.0), np.float64(2.0))
    """
    x = as_input(x, complex_ok=True)
    v = as_input(v, "v", complex_ok=True)
    xshape = x.shape if isinstance(x, Dual) else np.shape(x)
    if isinstance(v, Dual) or np.shape(v) != xshape:
        raise InputError(f"v must have x's shape {xshape}, got {describe(v)}; remedy: pass one direction "
                         "shaped like x (use jacobian for many directions)")
    if _dtype(v).kind == "c" and _dtype(x).kind != "c":
        raise InputError(f"v is complex ({describe(v)}) but x is real: a real x moves along real directions only; "
                         "remedy: pass a real v, or x.astype(complex) if x is a complex variable")
    return _jvp(f, x, v, "dualad.jvp")


def _jvp(f: Callable, x, v, caller: str):
    tag = new_tag()
    try:
        y = f(Dual._make(x, v.astype(_dtype(x)), tag))
    finally:
        finish_tag(tag, caller)
    value, t = split_output(y, tag, 1, _dtype(x))
    t = t[..., 0]
    return value, (t[()] if isinstance(t, np.ndarray) and t.ndim == 0 else t)


def derivative(f: Callable, x: Any, *, holomorphic: bool = False):
    """d f / d x for a scalar ``x``; the result has ``f(x)``'s shape.

    >>> import numpy as np, dualad
    >>> float(dualad.derivative(lambda t: t ** 3, 2.0))
    12.0
    """
    x = as_input(x, complex_ok=True)
    if (x.ndim if isinstance(x, Dual) else np.ndim(x)) != 0:
        raise InputError(f"derivative needs a scalar x, got {describe(x)}; remedy: use jacobian or gradient")
    if holomorphic or _dtype(x).kind == "c":
        complex_input(x, holomorphic, "dualad.derivative")
        from .wirtinger import holomorphic_only
        with holomorphic_only("dualad.derivative"):
            return _jvp(f, x, np.ones((), dtype=_dtype(x)), "dualad.derivative")[1]
    return _jvp(f, x, np.ones((), dtype=_dtype(x)), "dualad.derivative")[1]


def gradient(f: Callable, x: Any):
    """The gradient of a scalar-valued ``f`` at ``x`` (shape ``x.shape``), by forward mode.

    >>> import numpy as np, dualad
    >>> dualad.gradient(lambda v: np.sum(v ** 2), np.array([1.0, 2.0]))
    array([2., 4.])
    """
    J = jacobian(f, x)
    x_ndim = len(x.shape) if isinstance(x, Dual) else np.ndim(x)
    if J.ndim != x_ndim:
        raise OutputError(f"gradient needs a scalar-valued function, but f returned shape "
                          f"{J.shape[:J.ndim - x_ndim]}; remedy: use jacobian for vector outputs")
    return J


def _reverse_gradient(f: Callable, x: Any):
    """The gradient of scalar ``f`` by reverse mode, run on a Dual ``x`` (a Hessian's columns).

    One pass leaves a few reference cycles between the tape and its values: collecting the
    youngest generation here frees each pass's arrays before the next pass allocates its own,
    so memory stays near the Hessian's size (see :func:`hessian`).
    """
    from .tape import grad
    g = grad(f, x)
    gc.collect(0)
    return g


def auto_hessian_chunk_size(n: int) -> int:
    """Columns per pass of :func:`hessian`: about n/16 (at least 8), so one pass's Dual arrays stay a
    small fraction of the n x n result."""
    return max(1, min(n, max(8, n // 16)))


def hessian(f: Callable, x: Any, *, chunk_size: int | None = None, executor: Any = None):
    """The Hessian of a scalar-valued ``f`` at ``x`` (shape ``x.shape + x.shape``), forward over reverse.

    Forward mode seeds ``chunk_size`` columns per pass (default
    :func:`auto_hessian_chunk_size`) through a reverse-mode gradient, so memory
    is the Hessian plus one pass: ``hessian(lambda v: np.sum(v**3), x)`` peaks
    near 4x the Hessian's bytes at n = 300 and 2000, where forward over forward
    needed n^3 (208 MB at n = 300; ``python benchmarks/memory.py --hessian``).
    A function reverse mode refuses is differentiated forward over forward.
    ``executor`` spreads blocks of Hessian columns over its workers (see :func:`jacobian`).

    >>> import numpy as np, dualad
    >>> dualad.hessian(lambda v: v[0] ** 2 * v[1], np.array([1.0, 3.0]))
    array([[6., 2.],
           [2., 0.]])
    """
    x = as_input(x)
    n = math.prod(np.shape(_primal(x)))
    chunk = auto_hessian_chunk_size(n) if chunk_size is None else check_chunk_size(chunk_size)
    try:
        # a partial of a module-level function, not a lambda: it pickles whenever f does
        return jacobian(functools.partial(_reverse_gradient, f), x, chunk_size=chunk, executor=executor)
    except UnsupportedFunctionError:  # something reverse mode cannot record: forward over forward
        return jacobian(functools.partial(gradient, f), x, chunk_size=chunk, executor=executor)
