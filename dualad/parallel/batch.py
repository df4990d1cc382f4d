"""Jacobians and gradients at many points: every row of a batch ``X``, stacked.

Without an executor the batch is *vectorised* where ``f`` allows it: ``f`` runs
once on the whole batch ``X`` (shape ``(B,) + x.shape``), its tangent carrying
the identity seed for every row at once, so one forward pass yields all B
Jacobians. That is right only if ``f`` is *batch-polymorphic*: ``f(X)[b] ==
f(X[b])`` for every row, which elementwise code, ``x @ A``, ``x[..., i]`` and
reductions over ``axis=-1`` are, and code that reads ``x[0]``, ``len(x)``,
``A @ x`` or sums over all axes is not. dualad does not guess; it checks, and
runs ``f`` row by row (the loop) when any check fails:

1. ``f(X)`` has shape ``(B,) + f(x).shape``;
2. no output row depends on another input row: one extra tangent direction,
   weighted differently on every row (``w_b * u`` for pseudo-random w and u), must
   come out as ``w_b`` times row b's own Jacobian applied to ``u`` (to 1e-8
   relative);
3. no row's function depends on its position: ``f`` on the batch with its rows
   shifted by one (a plain call) gives the same rows, shifted (to 1e-9 relative);
4. the first and the last row, differentiated alone with ``dualad.jacobian``, give
   the same value and Jacobian as in the batch (1e-9 and 1e-8 relative).

Checks 3 and 4 cost one plain call of ``f`` and two Jacobians. Together they
leave only functions that treat a row by its position in the batch *and* agree
with themselves exactly where they are checked, which no numpy idiom does.
A check can only send work to the loop, never change
a result; ``vectorize=True`` raises instead, naming the check that failed.

With an executor, blocks of rows go to the workers, each computing its rows the
same way (vectorised where f allows, unless ``vectorize=False``).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .. import forward
from ..arraylike import ArrayLike
from ..errors import InputError, OutputError, describe
from .engine import Block, check_executor, executor_workers, run_blocks
from .jacobians import BLOCKS_PER_WORKER, spans

__all__ = ["batch_jacobian", "batch_gradient", "vectorized_jacobians"]

# Tolerances of the checks: far above rounding (a few ulps per operation), far below any real mismatch.
_DERIVATIVE_RTOL = 1e-8
_VALUE_RTOL = 1e-9
# The check direction: fixed pseudo-random numbers, so a run is reproducible.
_CHECK_SEED = 20261127


@functools.lru_cache(maxsize=64)
def _check_direction(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, 0) and (|u|, 0): a fixed pseudo-random direction u of n entries, for reading J_b u off the tangent."""
    rng = np.random.default_rng(_CHECK_SEED + n)
    u = rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
    u0, abs_u0 = np.append(u, 0.0), np.append(np.abs(u), 0.0)
    u0.flags.writeable = abs_u0.flags.writeable = False  # shared by every call
    return u0, abs_u0


@functools.lru_cache(maxsize=64)
def _row_weights(count: int) -> np.ndarray:
    """Distinct pseudo-random weights in [1, 2), one per row of a pass."""
    weights = np.random.default_rng(_CHECK_SEED - count).uniform(1.0, 2.0, count)
    weights.flags.writeable = False
    return weights


def _batch_input(X: Any) -> np.ndarray:
    X = forward.as_input(X, "X")
    if isinstance(X, ArrayLike):
        raise InputError(f"X is a value of an outer differentiation ({describe(X)}); batch Jacobians take plain "
                         "arrays; remedy: call them on plain arrays")
    if X.ndim == 0:
        raise InputError("X must have a leading batch axis (one point per row), got a scalar; remedy: pass "
                         "np.atleast_1d(X), or an array of shape (points,) + x.shape")
    return X


def _check_vectorize(vectorize: Any) -> bool | None:
    if vectorize not in (None, True, False):
        raise InputError(f"vectorize must be None (where f allows), True or False, got {vectorize!r}")
    return vectorize


def vectorized_jacobians(f: Callable, X: np.ndarray) -> np.ndarray | str:
    """All B Jacobians of ``f`` at the rows of ``X`` in one batched pass, or the reason it cannot be done.

    Returns an array of shape ``(B,) + f(x).shape + x.shape``, or a string naming
    the check (see the module docstring) that ``f`` failed.

    >>> import numpy as np
    >>> vectorized_jacobians(lambda v: v ** 2, np.array([[1.0, 2.0], [3.0, 4.0]]))[1]
    array([[6., 0.],
           [0., 8.]])
    >>> vectorized_jacobians(lambda v: v * v[0], np.ones((2, 2)))
    'f mixes rows of the batch (an output row depends on another input row)'
    """
    B, xshape = X.shape[0], X.shape[1:]
    n = math.prod(xshape)
    dtype = X.dtype
    if B < 2:
        return "the batch has fewer than 2 rows"
    u0, abs_u0 = _check_direction(n)
    # rows per pass: the seed (rows x n x (n + 1)) stays within the serial path's memory budget
    per_pass = max(2, forward.CHUNK_BYTES // max(1, n * (n + 1) * dtype.itemsize))
    out: np.ndarray | None = None
    yshape: tuple = ()
    for start, stop in spans(B, per_pass):
        if stop - start < 2:
            start = stop - 2  # the last pass shares a row with the previous one: every pass can be checked
        rows = X[start:stop]
        count = stop - start
        weights = _row_weights(count)
        seed = np.zeros((count, n, n + 1), dtype=dtype)
        seed[:, np.arange(n), np.arange(n)] = 1.0
        seed[:, :, n] = weights[:, None] * u0[None, :n]
        try:
            value, tangent = forward.push_forward(f, rows, seed.reshape((count,) + xshape + (n + 1,)))
        except Exception as err:  # any failure on the batch is f not being batch-polymorphic
            return f"f raised {type(err).__name__} on the whole batch ({err})"
        vshape = np.shape(value)
        if isinstance(value, ArrayLike) or not isinstance(tangent, np.ndarray):
            return "f returned a value of another differentiation on the batch"
        if vshape[:1] != (count,):
            return f"f returned shape {vshape} on a batch of {count} rows, not ({count}, ...)"
        if out is not None and vshape[1:] != yshape:
            return "f returned different shapes on different parts of the batch"
        yshape = vshape[1:]
        m = math.prod(yshape)
        flat = tangent.reshape(count * m, n + 1)  # 2-D products below: much faster than batched strided ones
        extra = flat[:, n].reshape(count, m)
        # check 2: with a block-diagonal batched Jacobian the weighted direction is w_b * J_b u, exactly up to rounding
        expected = (flat @ u0).reshape(count, m) * weights[:, None]
        scale = (np.abs(flat) @ abs_u0).reshape(count, m) * weights[:, None]
        tol = _DERIVATIVE_RTOL * scale + 1e-12 * (np.max(scale) if scale.size else 0.0) + 1e-300
        with np.errstate(invalid="ignore"):
            if not np.all(np.abs(extra - expected) <= tol):
                if not np.all(np.isfinite(flat)):
                    return "the batched derivatives are not all finite (checked row by row instead)"
                return "f mixes rows of the batch (an output row depends on another input row)"
        # check 3: no row's function depends on its position in the batch. f on the batch shifted by one row
        # (plain floats, one call) must give the same rows, shifted: row b then goes through what row b + 1 did
        value = np.asarray(value)
        shift = np.roll(np.arange(count), 1)
        try:
            shifted = np.asarray(f(rows[shift].copy()), dtype=float)
        except Exception as err:
            return f"f raised {type(err).__name__} on the reordered batch ({err})"
        if shifted.shape != value.shape or not _close(shifted, value[shift], _VALUE_RTOL):
            return "f treats rows differently by their position in the batch (values change when rows are reordered)"
        if out is None:
            out = np.empty((B,) + yshape + xshape, dtype=tangent.dtype)
            batch_values = np.empty((B,) + yshape, dtype=float)
        batch_values[start:stop] = value
        out[start:stop] = tangent.reshape(count, m, n + 1)[..., :n].reshape((count,) + yshape + xshape)
    assert out is not None
    # check 4: the first and last rows, differentiated alone (value and Jacobian)
    for b in sorted({0, B - 1}):
        value_alone, block = forward.jacobian_columns(f, X[b], 0, n)
        value_alone = np.asarray(value_alone, dtype=float)
        if value_alone.shape != yshape or not _close(value_alone, np.asarray(batch_values[b]), _VALUE_RTOL):
            return f"f on row {b} alone gives another value than on the batch"
        if not isinstance(block, np.ndarray) or not _close(block.reshape(out.shape[1:]), out[b], _DERIVATIVE_RTOL):
            return f"the batched Jacobian of row {b} differs from its Jacobian alone"
    return out


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    """Equal up to ``rtol`` times the largest magnitude of ``a`` (NaN where both are NaN)."""
    if a.shape != b.shape:
        return False
    limit = rtol * (float(np.max(np.abs(a))) if a.size else 0.0) + 1e-300
    with np.errstate(invalid="ignore"):
        return bool(np.all((np.abs(a - b) <= limit) | (np.isnan(a) & np.isnan(b))))


def _loop(f: Callable, X: np.ndarray) -> np.ndarray:
    out: np.ndarray | None = None
    for b in range(X.shape[0]):
        J = np.asarray(forward.jacobian(f, X[b]))
        if out is None:
            out = np.empty((X.shape[0],) + J.shape, dtype=J.dtype)
        elif J.shape != out.shape[1:]:
            raise OutputError(f"the Jacobian at row {b} has shape {J.shape}, at row 0 {out.shape[1:]}; "
                              "remedy: make f's output shape independent of the point")
        out[b] = J
    if out is None:  # no rows: the shape of one Jacobian is unknown without calling f
        raise InputError("X has no rows; remedy: pass at least one point")
    return out


def _local(f: Callable, X: np.ndarray, vectorize: bool | None) -> np.ndarray:
    """The Jacobians at X's rows in this process: vectorised if allowed and f passes the checks, else the loop."""
    if vectorize is not False and X.shape[0] >= 2:
        result = vectorized_jacobians(f, X)
        if not isinstance(result, str):
            return result
        if vectorize:
            raise InputError(f"vectorize=True, but f is not batch-polymorphic: {result}; remedy: write f for a "
                             "leading batch axis (x[..., i], axis=-1, x @ A) or pass vectorize=None")
    return _loop(f, X)


def _rows_task(f: Callable, vectorize: bool | None, rows: np.ndarray) -> np.ndarray:
    return _local(f, rows, vectorize)


def batch_jacobian(f: Callable, X: Any, *, executor: Any = None, chunk_size: int | None = None,
                   vectorize: bool | None = None, progress: bool | None = None) -> np.ndarray:
    """The Jacobian of ``f`` at every row of ``X``, stacked: shape ``(B,) + f(x).shape + x.shape``.

    ``X`` has shape ``(B,) + x.shape``: one point per row. Without ``executor``
    the rows go through ``f`` in one batched pass where ``f`` allows it (see
    :mod:`dualad.parallel.batch` for the checks), else one by one;
    ``vectorize=False`` always loops, ``True`` raises if ``f`` fails a check.
    With ``executor``, blocks of ``chunk_size`` rows (default: 2 blocks per
    worker) are computed on its workers the same way; the result is bit-for-bit
    the serial one with ``vectorize=False``.

    >>> import numpy as np, dualad
    >>> J = dualad.batch_jacobian(lambda v: np.sin(v) * v[..., :1], np.ones((64, 3)))
    >>> J.shape
    (64, 3, 3)
    """
    vectorize = _check_vectorize(vectorize)
    X = _batch_input(X)
    if executor is None:
        return _local(f, X, vectorize)
    executor = check_executor(executor)
    B = X.shape[0]
    if B == 0:
        raise InputError("X has no rows; remedy: pass at least one point")
    if chunk_size is None:
        size = max(1, math.ceil(B / (executor_workers(executor) * BLOCKS_PER_WORKER)))
    else:
        size = forward.check_chunk_size(chunk_size)
    blocks = [Block(span, X[span[0]:span[1]], f"rows {span[0]}:{span[1]} of X") for span in spans(B, size)]
    holder: dict[str, np.ndarray] = {}

    def receive(block: Block, part: np.ndarray) -> None:
        out = holder.get("out")
        if out is None:
            out = holder["out"] = np.empty((B,) + part.shape[1:], dtype=part.dtype)
        elif part.shape[1:] != out.shape[1:]:
            raise OutputError(f"the Jacobians for {block.label} have shape {part.shape[1:]}, others "
                              f"{out.shape[1:]}; remedy: make f's output shape independent of the point")
        out[block.key[0]:block.key[1]] = part

    run_blocks(executor, functools.partial(_rows_task, f, vectorize), blocks, receive, what="batch_jacobian",
               progress=progress)
    return holder["out"]


def batch_gradient(f: Callable, X: Any, *, executor: Any = None, chunk_size: int | None = None,
                   vectorize: bool | None = None, progress: bool | None = None) -> np.ndarray:
    """The gradient of a scalar-valued ``f`` at every row of ``X``: shape ``X.shape``.

    Same keywords as :func:`batch_jacobian`.

    >>> import numpy as np, dualad
    >>> dualad.batch_gradient(lambda v: np.sum(v ** 3, axis=-1), np.array([[1.0, 2.0], [0.5, -1.0]]))
    array([[ 3.  , 12.  ],
           [ 0.75,  3.  ]])
    """
    G = batch_jacobian(f, X, executor=executor, chunk_size=chunk_size, vectorize=vectorize, progress=progress)
    X_ndim = np.ndim(X)
    if G.ndim != X_ndim:
        raise OutputError(f"batch_gradient needs a scalar-valued function, but f returned shape "
                          f"{G.shape[1:G.ndim - X_ndim + 1]}; remedy: use batch_jacobian for vector outputs")
    return G
