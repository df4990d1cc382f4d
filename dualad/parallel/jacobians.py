"""Jacobians on an executor: column blocks (forward mode), row blocks (reverse mode), colour groups (sparse).

Each block is one independent pass; the caller preallocates the output and
writes every block into it as it arrives, so the caller's memory stays near the
Jacobian's own size plus the few blocks in flight (at most workers + 1).

Block sizing (:func:`block_size`): without ``chunk_size``, the n columns (or m
rows) are cut into :data:`BLOCKS_PER_WORKER` (one) block per worker. Every
block repeats the primal work of ``f`` and pays one round trip to a worker
(measured: about 1 ms on a local process pool, 15-50 ms through a dask
scheduler), so the fewest blocks that keep every worker busy amortise both; in
CPU seconds, one block per worker projected 1.70x on 2 processes where two per
worker projected 0.69x (``benchmarks/parallel.py``). Pass a smaller
``chunk_size`` for balance on uneven workers. A block never exceeds the memory
budget of the serial path (:func:`dualad.auto_chunk_size`). With
``chunk_size`` given, every block has that many columns (rows), exactly as the
serial chunk loop, so the two results are bit-for-bit equal.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .. import forward
from ..arraylike import ArrayLike
from ..errors import InputError, NondeterministicError, OutputError, describe
from ..tape import api as tape_api
from .engine import Block, check_executor, executor_workers, run_blocks

__all__ = ["forward_jacobian", "reverse_jacobian", "block_size", "spans", "BLOCKS_PER_WORKER"]

#: Blocks per worker when ``chunk_size`` is not given (see the module docstring).
BLOCKS_PER_WORKER = 1


def block_size(count: int, workers: int, chunk_size: int | None, itemsize: int = 8) -> int:
    """Columns (or rows) per task: ``chunk_size`` if given, else ``count`` over the workers, within the memory budget.

    >>> block_size(1000, 2, None), block_size(1000, 2, 64), block_size(3, 8, None)
    (500, 64, 1)
    """
    if chunk_size is not None:
        return forward.check_chunk_size(chunk_size)
    per_task = math.ceil(count / max(1, workers * BLOCKS_PER_WORKER))
    return max(1, min(per_task, forward.auto_chunk_size(count, itemsize)))


def spans(count: int, size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(count)`` in steps of ``size`` (one empty span if count is 0).

    >>> spans(5, 2), spans(0, 3)
    ([(0, 2), (2, 4), (4, 5)], [(0, 0)])
    """
    return [(start, min(count, start + size)) for start in range(0, count, size)] or [(0, 0)]


def _plain_point(x: Any, what: str) -> np.ndarray:
    x = forward.as_input(x)
    if isinstance(x, ArrayLike):
        raise InputError(f"{what} with executor= needs a plain array x, got {describe(x)} (a value of an outer "
                         "differentiation); remedy: pass executor= to the outermost call only")
    return x


def _columns(f: Callable, x: np.ndarray, span: tuple[int, int]):
    return forward.jacobian_columns(f, x, *span)


def _rows(f: Callable, x: np.ndarray, span: tuple[int, int]):
    return tape_api.jacobian_rows(f, x, *span)


class _Assembler:
    """Writes blocks into one preallocated (m, n) array as they arrive.

    Every block evaluated f at the same x, so every block's value of f must be
    the same: a different one means f is not deterministic, and the blocks
    would belong to different functions.
    """

    def __init__(self, n: int, axis: int, what: str):
        self.n, self.axis, self.what = n, axis, what
        self.out: np.ndarray | None = None
        self.value: np.ndarray | None = None

    def __call__(self, block: Block, result: tuple) -> None:
        value, part = result
        value = np.asarray(value)
        if not isinstance(part, np.ndarray):
            raise OutputError(f"{block.label} of {self.what} came back as {describe(part)}, not an array; "
                              "remedy: run without executor= to see why")
        if self.out is None:
            self.value = value
            self.out = np.empty((value.size, self.n), dtype=part.dtype)  # the only full-size allocation
        elif value.shape != self.value.shape or not np.array_equal(value, self.value, equal_nan=True):
            raise NondeterministicError(
                f"f returned a different value for {block.label} than for another block, at the same x; f is "
                "not deterministic (random numbers, or state that changes between calls), so the blocks would "
                "belong to different functions; remedy: make f a pure function of x (e.g. "
                "np.random.default_rng(0) inside f)")
        start, stop = block.key
        if self.axis == 1:
            self.out[:, start:stop] = part
        else:
            self.out[start:stop, :] = part

    def result(self, xshape: tuple) -> np.ndarray:
        assert self.out is not None and self.value is not None
        return self.out.reshape(self.value.shape + xshape)


def forward_jacobian(f: Callable, x: Any, *, chunk_size: int | None = None, executor: Any,
                     progress: bool | None = None) -> np.ndarray:
    """``dualad.jacobian(f, x, executor=...)``: blocks of columns, one forward pass each, on the executor.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> import numpy as np
    >>> with ThreadPoolExecutor(2) as pool:
    ...     forward_jacobian(np.sin, np.zeros(3), executor=pool)
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    executor = check_executor(executor)
    x = _plain_point(x, "jacobian")
    n = x.size
    size = block_size(n, executor_workers(executor), chunk_size, x.dtype.itemsize)
    blocks = [Block(span, span, f"Jacobian columns {span[0]}:{span[1]}") for span in spans(n, size)]
    assemble = _Assembler(n, axis=1, what="the Jacobian")
    run_blocks(executor, functools.partial(_columns, f, x), blocks, assemble, what="jacobian", progress=progress)
    return assemble.result(x.shape)


def _output_size(f: Callable, x: np.ndarray) -> int:
    """Entries of f(x), from one plain evaluation (or, if that fails, a recording that explains why)."""
    try:
        return int(np.asarray(f(x.copy()), dtype=float).size)
    except Exception:  # a recording raises the real, explained error (or finds the shape)
        return int(np.size(tape_api.jacobian_rows(f, x, 0, 0)[0]))


def reverse_jacobian(f: Callable, x: Any, *, chunk_size: int | None = None, executor: Any,
                     progress: bool | None = None) -> np.ndarray:
    """``dualad.tape.jacobian(f, x, executor=...)``: blocks of rows; each task records ``f`` once and sweeps its rows.

    The caller evaluates ``f(x)`` once on plain floats to learn the number of rows.
    """
    executor = check_executor(executor)
    x = _plain_point(x, "tape.jacobian")
    m = _output_size(f, x)
    size = block_size(m, executor_workers(executor), chunk_size, x.dtype.itemsize)
    blocks = [Block(span, span, f"Jacobian rows {span[0]}:{span[1]}") for span in spans(m, size)]
    assemble = _Assembler(x.size, axis=0, what="the Jacobian")
    run_blocks(executor, functools.partial(_rows, f, x), blocks, assemble, what="tape.jacobian", progress=progress)
    J = assemble.result(x.shape)
    if J.size != m * x.size:
        raise OutputError(f"f returned {J.size // max(x.size, 1)} entries on a tape but {m} on plain floats; "
                          "remedy: make f's output shape independent of the input type")
    return J
