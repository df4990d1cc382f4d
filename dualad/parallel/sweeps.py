"""Independent derivative work beyond Jacobian blocks: colour groups of a sparse Jacobian, sizes of a cost sweep."""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterable

import numpy as np

from .. import forward
from ..errors import OutputError, describe
from .engine import Block, check_executor, executor_workers, run_blocks
from .jacobians import block_size, spans

__all__ = ["compressed_tangent", "compare_sizes"]


def _colour_group(f: Callable, x: np.ndarray, seed: np.ndarray, span: tuple[int, int]):
    start, stop = span
    # a fresh copy of the group's seed: f may write into its input, and the cached task serves several groups
    group_seed = np.array(seed[:, start:stop]).reshape(x.shape + (stop - start,))
    value, tangent = forward.push_forward(f, x, group_seed)
    if not isinstance(tangent, np.ndarray):
        raise OutputError(f"the function returned {describe(tangent)} as a tangent; sparse Jacobians do not nest")
    return np.shape(value), tangent.reshape(-1, stop - start)


def compressed_tangent(f: Callable, x: np.ndarray, seed: np.ndarray, *, executor: Any,
                       chunk_size: int | None = None, progress: bool | None = None) -> tuple[tuple, np.ndarray]:
    """``(f(x).shape, J @ seed)`` with the k columns of ``seed`` (n x k, one per colour) in groups on ``executor``.

    Each group is one forward pass with its colours as tangent directions, the
    same arithmetic per colour as the single serial pass, so the compressed
    Jacobian is the serial one.
    """
    executor = check_executor(executor)
    k = seed.shape[1]
    size = block_size(k, executor_workers(executor), chunk_size, x.dtype.itemsize)
    blocks = [Block(span, span, f"colours {span[0]}:{span[1]}") for span in spans(k, size)]
    state: dict[str, Any] = {}

    def receive(block: Block, result: tuple) -> None:
        shape, part = result
        if "out" not in state:
            state["shape"] = tuple(shape)
            state["out"] = np.empty((math.prod(shape), k), dtype=part.dtype)
        elif tuple(shape) != state["shape"]:
            raise OutputError(f"f returned shape {tuple(shape)} for {block.label}, {state['shape']} for another")
        state["out"][:, block.key[0]:block.key[1]] = part

    run_blocks(executor, functools.partial(_colour_group, f, x, seed), blocks, receive, what="sparse_jacobian",
               progress=progress)
    return state["shape"], state["out"]


def _compare_at(make_f: Callable, name: str, size_label: str, compare_kwargs: dict, size: int):
    from .. import cost  # in the worker: cost imports matplotlib lazily only for plots
    f, x = make_f(size)
    return cost.compare(f, x, name=f"{name} {size_label}={size}".strip(), **compare_kwargs)


def compare_sizes(make_f: Callable, sizes: Iterable[int], *, executor: Any, name: str = "", size_label: str = "size",
                  progress: bool | None = None, **compare_kwargs) -> list:
    """``[cost.compare(*make_f(size)) for size in sizes]``, one size per task on ``executor``, in order of sizes.

    Wall times are measured inside the workers, which run side by side: on a
    machine with fewer free cores than workers they include that contention.
    """
    executor = check_executor(executor)
    sizes = list(sizes)
    results: list = [None] * len(sizes)
    blocks = [Block(i, size, f"{size_label}={size}") for i, size in enumerate(sizes)]

    def receive(block: Block, result: Any) -> None:
        results[block.key] = result

    run_blocks(executor, functools.partial(_compare_at, make_f, name, size_label, dict(compare_kwargs)), blocks,
               receive, what=name or "scaling", window=len(sizes) or 1, progress=progress)
    return results
