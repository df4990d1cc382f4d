"""Run independent blocks of derivative work on a ``concurrent.futures.Executor``.

One call of :func:`run_blocks` is one parallel derivative: a *task* (a callable
holding ``f`` and the point) is serialised ONCE, with cloudpickle when it is
installed, and every block is sent as ``run_task(token, payload, block_args)``.
Workers keep the last few loaded tasks by token, so ``f`` and ``x`` are unpickled
once per worker, not once per block. Results come back to the caller, which
hands each to ``receive`` (it writes the block into a preallocated output) and
drops it.

Faults, in the caller:

- a task that raises: the ORIGINAL exception is re-raised (same type, the
  worker's traceback chained by the executor), with a note naming the block;
- a worker that dies (``BrokenProcessPool``, dask's ``KilledWorker``) or a
  cancelled task: :class:`~dualad.errors.WorkerError` naming the blocks that were
  running;
- Ctrl-C (``KeyboardInterrupt``) while waiting: every task not yet finished is
  cancelled, then the interrupt propagates.

In every case the outstanding tasks are cancelled and nothing partial is returned.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import pickle
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import InputError, SerializationError, WorkerError
from .progress import Progress

__all__ = ["Block", "run_blocks", "run_task", "executor_workers", "check_executor", "serialise"]


@dataclass(frozen=True)
class Block:
    """One unit of work: ``args`` go to the worker, ``label`` names it in errors and ``key`` places its result."""

    key: Any
    args: Any
    label: str


def check_executor(executor: Any) -> cf.Executor:
    """``executor`` if it is a ``concurrent.futures.Executor``; else an :class:`InputError` with the remedy."""
    if isinstance(executor, cf.Executor):
        return executor
    kind = type(executor).__name__
    if kind == "Client" and hasattr(executor, "get_executor"):
        raise InputError("executor= got a dask Client; dualad needs its concurrent.futures face; "
                         "remedy: pass client.get_executor()")
    raise InputError(f"executor must be a concurrent.futures.Executor, got a {kind}; remedy: pass e.g. "
                     "concurrent.futures.ProcessPoolExecutor(2), a ThreadPoolExecutor, "
                     "or dask's client.get_executor()")


def executor_workers(executor: cf.Executor) -> int:
    """How many tasks ``executor`` runs at once (used to size the blocks).

    Thread and process pools (and loky) say so in ``_max_workers``; a dask
    executor asks its client for the threads of all workers. Anything else is
    taken to have ``os.cpu_count()`` workers.
    """
    count = getattr(executor, "_max_workers", None)  # stdlib pools and loky; no public accessor exists
    if isinstance(count, int) and count > 0:
        return count
    client = getattr(executor, "_client", None)  # distributed.cfexecutor.ClientExecutor
    if client is not None and hasattr(client, "nthreads"):
        try:
            threads = sum(client.nthreads().values())
        except Exception:  # a client that cannot answer now: fall through to the guess
            threads = 0
        if threads > 0:
            return int(threads)
    return os.cpu_count() or 1


def _in_process(executor: cf.Executor) -> bool:
    """Threads share the caller's memory: the task is handed over as is, nothing is pickled."""
    return isinstance(executor, cf.ThreadPoolExecutor)


def serialise(task: Callable) -> bytes:
    """``task`` as bytes a worker can load: cloudpickle if installed, else the standard pickle.

    cloudpickle sends lambdas, closures and functions defined in ``__main__`` or a
    notebook by value; the standard pickle sends functions by name only, so those
    fail here, with the remedy.
    """
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    try:
        if cloudpickle is not None:
            return cloudpickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # PicklingError, AttributeError ("Can't pickle local object"), TypeError
        if cloudpickle is None:
            raise SerializationError(
                f"cannot send the function to the executor's workers: the standard pickle failed ({err}); it "
                "cannot send lambdas, closures or functions defined in __main__ or a notebook; remedy: "
                "pip install cloudpickle (or dualad[dask]), or define f at module level in an importable "
                "module") from err
        raise SerializationError(
            f"cannot send the function or the point to the executor's workers: cloudpickle failed ({err}); "
            "f must not hold locks, open files, sockets or generators; remedy: create such objects inside "
            "f, or use a ThreadPoolExecutor (nothing is pickled)") from err


# Loaded tasks in this (worker) process, by token: f and x are unpickled once per worker, not per block.
_LOADED: dict[str, Callable] = {}
_LOADED_LOCK = threading.Lock()
_LOADED_MAX = 4


def run_task(token: str, payload: Any, args: Any) -> Any:
    """Worker side: load the task serialised as ``payload`` (cached by ``token``) and run it on ``args``.

    ``payload`` is the task itself for thread pools (nothing was pickled).
    """
    if not isinstance(payload, bytes):
        return payload(args)
    with _LOADED_LOCK:
        task = _LOADED.get(token)
    if task is None:
        task = pickle.loads(payload)
        with _LOADED_LOCK:
            while len(_LOADED) >= _LOADED_MAX:
                _LOADED.pop(next(iter(_LOADED)))  # oldest first: dicts keep insertion order
            _LOADED[token] = task
    return task(args)


def _add_note(err: BaseException, note: str) -> None:
    if hasattr(err, "add_note"):  # Python >= 3.11
        err.add_note(note)
    try:
        err.dualad_block = note  # type: ignore[attr-defined]  (readable on 3.10 too)
    except AttributeError:  # an exception type with __slots__
        pass


def _is_dead_worker(err: BaseException) -> bool:
    # BrokenProcessPool (and loky's) derive from BrokenExecutor; dask raises KilledWorker after retries.
    return isinstance(err, cf.BrokenExecutor) or type(err).__name__ == "KilledWorker"


def run_blocks(executor: Any, task: Callable, blocks: Iterable[Block], receive: Callable[[Block, Any], None], *,
               what: str, window: int | None = None, progress: bool | None = None) -> None:
    """Run ``task(block.args)`` for every block on ``executor``; ``receive(block, result)`` as each completes.

    At most ``window`` tasks (default: workers + 1) are in flight, so the
    caller holds at most that many finished blocks before ``receive`` stores
    them. ``what`` names the work in errors and on the progress bar.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> out = {}
    >>> with ThreadPoolExecutor(2) as pool:
    ...     run_blocks(pool, lambda a: a * a, [Block(i, i, f"item {i}") for i in range(4)],
    ...                lambda b, r: out.__setitem__(b.key, r), what="squares")
    >>> sorted(out.items())
    [(0, 0), (1, 1), (2, 4), (3, 9)]
    """
    executor = check_executor(executor)
    blocks = list(blocks)
    payload = task if _in_process(executor) else serialise(task)
    token = uuid.uuid4().hex
    window = max(1, window if window is not None else executor_workers(executor) + 1)
    queue = iter(blocks)
    running: dict[cf.Future, Block] = {}
    bar = Progress(len(blocks), what, progress)
    done_count = 0

    def fill() -> None:
        while len(running) < window:
            block = next(queue, None)
            if block is None:
                return
            running[executor.submit(run_task, token, payload, block.args)] = block

    try:
        fill()
        while running:
            # a timeout, so the bar appears after ~1 s even while the first blocks still run
            finished, _ = cf.wait(list(running), timeout=0.25, return_when=cf.FIRST_COMPLETED)
            bar.update(done_count)
            for future in finished:
                block = running.pop(future)
                try:
                    result = future.result()
                except cf.CancelledError as err:
                    raise WorkerError(f"the task computing {block.label} of {what} was cancelled outside "
                                      "dualad (executor shut down?); nothing is returned; remedy: keep the "
                                      "executor open until the call returns") from err
                except Exception as err:
                    if _is_dead_worker(err):
                        labels = ", ".join([block.label] + [b.label for b in running.values()])
                        raise WorkerError(
                            f"a worker of the executor died while computing {what} (blocks running: {labels}); "
                            f"no partial result is returned ({type(err).__name__}: {err}); remedy: look for "
                            "a crash in f (os._exit, a segfault in an extension, running out of memory), "
                            "then retry on a new executor (a broken process pool cannot be reused)") from err
                    _add_note(err, f"dualad: raised while computing {block.label} of {what} on an executor")
                    raise
                receive(block, result)
                del result, future  # the block now lives only in the output
                done_count += 1
                bar.update(done_count)
            fill()
    except BaseException:  # errors above, and KeyboardInterrupt while waiting: cancel what has not started
        for future in running:
            future.cancel()
        raise
    finally:
        bar.close()
