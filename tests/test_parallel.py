"""executor= on the Jacobian functions and batch Jacobians (dualad.parallel).

One process pool and one dask LocalCluster (processes, 2 workers) serve the whole module. Every
parallel result is compared with the serial one bit for bit; the serial functions themselves are
checked against finite differences, JAX and closed forms elsewhere, and again here where the
batch path could go wrong (closed forms below).
"""
import _thread
import concurrent.futures as cf
import logging
import multiprocessing
import os
import sys
import threading
import time

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.errors import InputError, SerializationError, WorkerError
from dualad.parallel import batch as batch_module
from dualad.parallel import engine, progress

RNG = np.random.default_rng(18)
A = RNG.normal(size=(12, 12)) / 4
X0 = np.linspace(-1.0, 1.5, 12)


def residual(x):
    """A dense R^12 -> R^12 map with a matrix product, a reduction and indexing: every column differs."""
    return np.tanh(A @ x) * np.sin(x) + x[0] * x ** 2 - np.sum(x ** 3) / 10


def loss(x):
    return np.sum(np.cos(A @ x) * x) + x[0] * x[-1] ** 3


def _fork_context():
    # fork starts a worker in milliseconds; spawn would re-import numpy and dualad in each
    return multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


@pytest.fixture(scope="module")
def process_pool():
    with cf.ProcessPoolExecutor(2, mp_context=_fork_context()) as pool:
        yield pool


@pytest.fixture(scope="module")
def thread_pool():
    with cf.ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    import dask
    # one failure of a task's worker is final (no retries on fresh workers): the dying-worker test stays quick
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.CRITICAL)
        client = distributed.Client(cluster)
        try:
            yield client.get_executor()
        finally:
            client.close()
            cluster.close()


@pytest.fixture(params=["process", "thread", "dask"])
def executor(request):
    return request.getfixturevalue({"process": "process_pool", "thread": "thread_pool",
                                    "dask": "dask_executor"}[request.param])


def _bits(a):
    return np.asarray(a).dtype, np.shape(a), np.asarray(a).tobytes()


# ----------------------------------------------------------------------------- equality with serial
def test_forward_jacobian_equals_serial(executor):
    J = dualad.jacobian(residual, X0, executor=executor)
    assert _bits(J) == _bits(dualad.jacobian(residual, X0))  # the one-pass serial default
    J3 = dualad.jacobian(residual, X0, executor=executor, chunk_size=5)
    assert _bits(J3) == _bits(dualad.jacobian(residual, X0, chunk_size=5))


def test_reverse_jacobian_and_hessian_equal_serial(executor):
    J = tape.jacobian(residual, X0, executor=executor, chunk_size=5)
    assert _bits(J) == _bits(tape.jacobian(residual, X0, chunk_size=5))
    np.testing.assert_allclose(J, dualad.jacobian(residual, X0), rtol=1e-13, atol=1e-13)  # reverse vs forward
    H = dualad.hessian(loss, X0, executor=executor)
    assert _bits(H) == _bits(dualad.hessian(loss, X0))
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)


def test_shapes_dtypes_and_corner_cases(process_pool):
    x = np.arange(6.0).reshape(2, 3)
    f = lambda v: np.stack([v * v[0, 0], np.cos(v)])  # noqa: E731  (output (2, 2, 3))
    J = dualad.jacobian(f, x, executor=process_pool, chunk_size=2)
    assert J.shape == (2, 2, 3, 2, 3) and _bits(J) == _bits(dualad.jacobian(f, x, chunk_size=2))
    x32 = X0.astype(np.float32)
    J32 = dualad.jacobian(np.sin, x32, executor=process_pool)
    assert J32.dtype == np.float32 and _bits(J32) == _bits(dualad.jacobian(np.sin, x32))
    scalar = dualad.jacobian(lambda v: v ** 3, 2.0, executor=process_pool)
    assert scalar == 12.0 and np.shape(scalar) == ()
    assert dualad.jacobian(lambda v: np.zeros(3), X0, executor=process_pool).shape == (3, 12)
    assert tape.jacobian(lambda v: v ** 2, np.zeros(0), executor=process_pool).shape == (0, 0)


def test_sparse_jacobian_colour_groups_equal_serial(executor):
    pytest.importorskip("scipy")

    def bratu(u):
        h = 1.0 / (len(u) + 1)
        up = np.concatenate([u[1:], np.zeros(1)])
        um = np.concatenate([np.zeros(1), u[:-1]])
        return (um - 2 * u + up) / h ** 2 + np.exp(u)

    x = np.linspace(0.0, 1.0, 30)
    serial = dualad.sparse_jacobian(bratu, x)
    J = dualad.sparse_jacobian(bratu, x, executor=executor)
    assert J.nnz == serial.nnz and _bits(J.data) == _bits(serial.data)
    assert np.array_equal(J.indices, serial.indices) and np.array_equal(J.indptr, serial.indptr)
    np.testing.assert_allclose(J.toarray(), dualad.jacobian(bratu, x), rtol=1e-15, atol=0)
    sj = dualad.SparseJacobian(bratu, x, executor=executor)
    assert _bits(sj(x + 0.5).data) == _bits(dualad.SparseJacobian(bratu, x)(x + 0.5).data)


def test_cost_scaling_sizes_on_the_executor(process_pool):
    from dualad.cost import scaling, tall_problem
    s = scaling(tall_problem, [2, 8], repeat=1, memory=False, reverse_chunk_size=1, executor=process_pool)
    serial = scaling(tall_problem, [2, 8], repeat=1, memory=False, reverse_chunk_size=1)
    assert [r.m for r in s.results] == [r.m for r in serial.results] == [2, 8]
    assert s.results[-1]["reverse"].passes == serial.results[-1]["reverse"].passes == 8


def test_f_writing_into_its_input_and_nondeterministic_f(process_pool):
    pytest.importorskip("scipy")

    def writes(v):
        v = v * 1.0
        v[0] = v[0] ** 2  # a write into the function's own array: each block must start from clean seeds
        return v[1:] * v[:-1]

    for chunk in (1, 2):
        assert _bits(dualad.jacobian(writes, X0, executor=process_pool, chunk_size=chunk)) == _bits(
            dualad.jacobian(writes, X0, chunk_size=chunk))
    J = dualad.sparse_jacobian(writes, X0, executor=process_pool)
    np.testing.assert_array_equal(J.toarray(), dualad.sparse_jacobian(writes, X0).toarray())

    def noisy(v):
        return v * np.random.default_rng().normal()  # a fresh random number every call

    with pytest.raises(dualad.errors.NondeterministicError, match="not deterministic"):
        dualad.jacobian(noisy, X0, executor=process_pool, chunk_size=3)


# ----------------------------------------------------------------------------- closures and pickling
def test_closures_and_lambdas_travel(executor):
    scale = np.arange(1.0, 13.0)

    def make(power):
        return lambda v: scale * v ** power  # a closure over a local array and an int

    J = dualad.jacobian(make(3), X0, executor=executor)
    np.testing.assert_allclose(J, np.diag(3 * scale * X0 ** 2), rtol=1e-15, atol=0)  # closed form
    assert _bits(J) == _bits(dualad.jacobian(make(3), X0))


def test_function_from_main_reaches_other_processes(dask_executor):
    """As in a script or a notebook: a function of __main__, which the dask workers (spawned) do not have."""
    namespace = {"np": np}
    exec("def f(v):\n    return np.sin(v) * v[0]\n", namespace)
    f = namespace["f"]
    f.__module__ = "__main__"
    import pickle
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(f)  # by name only: the standard pickle cannot send it
    assert _bits(dualad.jacobian(f, X0, executor=dask_executor)) == _bits(dualad.jacobian(f, X0))


def test_standard_pickle_names_the_remedy(process_pool, monkeypatch):
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # as if it were not installed
    with pytest.raises(SerializationError, match="pip install cloudpickle"):
        dualad.jacobian(lambda v: v * 2, X0, executor=process_pool)
    # a function importable by name still goes with the standard pickle
    assert _bits(dualad.jacobian(np.sin, X0, executor=process_pool)) == _bits(dualad.jacobian(np.sin, X0))


def test_unpicklable_closure_names_the_remedy(process_pool):
    lock = threading.Lock()

    def f(v):
        with lock:
            return v * 2

    with pytest.raises(SerializationError, match="ThreadPoolExecutor"):
        dualad.jacobian(f, X0, executor=process_pool)


# ----------------------------------------------------------------------------- faults
def _fails_in_block_with_column(column, exc_type):
    def f(v):
        if isinstance(v, dualad.Dual) and np.any(v.tangent.reshape(v.size, -1)[column]):
            raise exc_type(f"boom at column {column}")
        return np.sin(v)
    return f


def test_failing_task_sends_the_original_exception_and_its_block(executor):
    with pytest.raises(ZeroDivisionError, match="boom at column 7") as info:
        dualad.jacobian(_fails_in_block_with_column(7, ZeroDivisionError), X0, executor=executor, chunk_size=3)
    assert "Jacobian columns 6:9" in info.value.dualad_block
    if sys.version_info >= (3, 11):
        assert any("columns 6:9" in note for note in info.value.__notes__)


def test_failing_row_block_of_a_batch(process_pool):
    def f(v):
        if np.any(v > 100):
            raise ValueError("bad point")
        return np.sin(v)

    X = np.ones((6, 3))
    X[4, 1] = 200.0
    with pytest.raises(ValueError, match="bad point") as info:
        dualad.batch_jacobian(f, X, executor=process_pool, chunk_size=2)
    assert "rows 4:6" in info.value.dualad_block


def _dies(v):
    os._exit(3)


def test_dying_process_worker_is_a_worker_error():
    with cf.ProcessPoolExecutor(2, mp_context=_fork_context()) as pool:  # broken afterwards: its own pool
        with pytest.raises(WorkerError, match=r"died.*Jacobian columns \d+:\d+"):
            dualad.jacobian(_dies, X0, executor=pool, chunk_size=4)


class _Recording(cf.Executor):
    """Delegates to another executor and keeps every future it hands out."""

    def __init__(self, inner):
        self.inner, self.futures = inner, []
        self._max_workers = 2

    def submit(self, fn, *args, **kwargs):
        future = self.inner.submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_ctrl_c_cancels_outstanding_tasks(kind, request, tmp_path):
    inner = request.getfixturevalue("process_pool" if kind == "process" else "dask_executor")
    recording = _Recording(inner)
    marks = str(tmp_path)

    def slow(v):
        with open(os.path.join(marks, f"{os.getpid()}-{time.time_ns()}"), "w"):
            pass
        time.sleep(0.4)
        return v * 2

    timer = threading.Timer(0.6, _thread.interrupt_main)  # Ctrl-C while the first blocks run
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dualad.jacobian(slow, np.ones(12), executor=recording, chunk_size=1)
    finally:
        timer.cancel()
    submitted = len(recording.futures)
    assert submitted < 12  # no block is sent after Ctrl-C
    for future in recording.futures:  # every task either finished or was cancelled; none is left waiting
        try:
            future.result(timeout=10)
        except cf.CancelledError:
            pass
    if kind == "dask":  # queued dask tasks are cancelled (a process pool has already queued its few)
        assert any(f.cancelled() for f in recording.futures)
    time.sleep(0.5)
    assert len(os.listdir(marks)) <= submitted  # blocks never sent never run


# ----------------------------------------------------------------------------- progress
def test_progress_bar_on_stderr(thread_pool, monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    dualad.batch_jacobian(np.sin, np.ones((4, 3)), executor=thread_pool, chunk_size=1, progress=True)
    assert "batch_jacobian" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the one-line fallback
    dualad.batch_jacobian(np.sin, np.ones((4, 3)), executor=thread_pool, chunk_size=1, progress=True)
    assert "4/4 blocks" in capsys.readouterr().err
    monkeypatch.setattr(progress, "DELAY", 1.0)
    dualad.jacobian(np.sin, X0, executor=thread_pool)  # quick work: no bar
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- batch Jacobians
def poly_exact(v):
    return np.tanh(v @ A) * v[..., :1] + np.exp(-v ** 2)


@pytest.mark.parametrize("f", [
    poly_exact,
    lambda v: np.sin(v) * np.sum(v ** 2, axis=-1, keepdims=True),
    lambda v: np.stack([v[..., 0] * v[..., 1], np.cos(v[..., 2])], axis=-1),
], ids=["matmul", "reduction", "stack"])
def test_batch_vectorises_polymorphic_functions(f):
    X = RNG.normal(size=(9, 12))
    assert not isinstance(batch_module.vectorized_jacobians(f, X), str)  # the one-pass path is taken
    J = dualad.batch_jacobian(f, X)
    loop = np.stack([dualad.jacobian(f, x) for x in X])
    np.testing.assert_allclose(J, loop, rtol=1e-13, atol=1e-14)


def test_batch_closed_form_and_gradient():
    X = RNG.normal(size=(7, 5))
    G = dualad.batch_gradient(lambda v: np.sum(v ** 3, axis=-1), X)
    np.testing.assert_allclose(G, 3 * X ** 2, rtol=1e-15)
    J = dualad.batch_jacobian(lambda v: np.sin(v) * v[..., :1], X)
    expected = np.zeros((7, 5, 5))
    for b in range(7):
        expected[b] = np.diag(np.cos(X[b]) * X[b, 0])
        expected[b, :, 0] += np.sin(X[b])
    np.testing.assert_allclose(J, expected, rtol=1e-14, atol=1e-15)
    with pytest.raises(dualad.OutputError, match="scalar-valued"):
        dualad.batch_gradient(np.sin, X)


n5 = 5
DIAG = np.diag(np.arange(1.0, n5 + 1))
WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 5.0])
NOT_POLYMORPHIC = {
    "x[0]": lambda v: v * v[0],
    "sum all": lambda v: np.sum(v ** 2),
    "A @ x, B == n, diagonal A": lambda v: DIAG @ v,
    "transpose weighting, B == n": lambda v: (v.T * WEIGHTS).T ** 2,
    "len(x)": lambda v: v ** 2 / len(v),
    "reshape": lambda v: v.reshape(n5, 1) * v,
    "scalar list": lambda v: [v[0] * v[1], v[1] ** 2, v[4]],
    "python loop": lambda v: np.stack([v[i] * v[(i + 1) % len(v)] for i in range(len(v))]),
    "value branch": lambda v: v ** 2 if v[0] > 0 else -v,
}


@pytest.mark.parametrize("rows", [n5, n5 + 2])
@pytest.mark.parametrize("name", list(NOT_POLYMORPHIC))
def test_batch_falls_back_when_f_is_not_batch_polymorphic(name, rows):
    """Functions written for one point; rows == n on purpose too, where shapes alone cannot tell."""
    f = NOT_POLYMORPHIC[name]
    if name == "transpose weighting, B == n" and rows != n5:
        f = lambda v: v ** 2 * WEIGHTS  # noqa: E731  (the transpose form needs B == n to run at all)
    X = RNG.uniform(0.5, 2.0, size=(rows, n5))
    loop = np.stack([dualad.jacobian(f, x) for x in X])
    np.testing.assert_allclose(dualad.batch_jacobian(f, X), loop, rtol=1e-14, atol=0)  # never a wrong result
    reason = batch_module.vectorized_jacobians(f, X)
    if name == "len(x)" and rows == n5:
        return  # v / len(v) with len(X) == n IS every row's value: vectorising is right
    if "transpose" in name and rows != n5:
        return
    assert isinstance(reason, str), name
    assert _bits(dualad.batch_jacobian(f, X)) == _bits(loop)  # the loop itself
    with pytest.raises(InputError, match="not batch-polymorphic"):
        dualad.batch_jacobian(f, X, vectorize=True)


def test_batch_on_executors_equals_the_serial_loop(executor):
    X = RNG.normal(size=(10, 12))
    loop = dualad.batch_jacobian(poly_exact, X, vectorize=False)
    assert _bits(dualad.batch_jacobian(poly_exact, X, executor=executor, vectorize=False)) == _bits(loop)
    vec = dualad.batch_jacobian(poly_exact, X, executor=executor, chunk_size=4)
    np.testing.assert_allclose(vec, loop, rtol=1e-13, atol=1e-14)
    f = NOT_POLYMORPHIC["x[0]"]
    assert _bits(dualad.batch_jacobian(f, X, executor=executor)) == _bits(
        dualad.batch_jacobian(f, X, vectorize=False))


# ----------------------------------------------------------------------------- misuse
def test_bad_executors_and_nested_points(process_pool):
    with pytest.raises(InputError, match="concurrent.futures.Executor"):
        dualad.jacobian(np.sin, X0, executor=4)

    class Client:  # what a dask Client looks like from here
        def submit(self, *a):
            pass

        def get_executor(self):
            pass

    with pytest.raises(InputError, match=r"client.get_executor\(\)"):
        dualad.jacobian(np.sin, X0, executor=Client())
    with pytest.raises(InputError, match="outermost"):
        dualad.jacobian(lambda y: dualad.jacobian(np.sin, y * 2, executor=process_pool).sum(), X0)
    with pytest.raises(InputError, match="batch axis"):
        dualad.batch_jacobian(np.sin, 1.0)
    with pytest.raises(InputError, match="vectorize"):
        dualad.batch_jacobian(np.sin, X0[:, None], vectorize="yes")


def test_loky_executor_if_installed():
    loky = pytest.importorskip("loky")
    executor = loky.get_reusable_executor(max_workers=2)
    offset = np.arange(12.0)
    f = lambda v: np.sin(v + offset) * v[0]  # noqa: E731  (a closure, sent by loky's own cloudpickle too)
    assert _bits(dualad.jacobian(f, X0, executor=executor)) == _bits(dualad.jacobian(f, X0))


def test_worker_count_and_block_sizes(process_pool, thread_pool, dask_executor):
    assert engine.executor_workers(process_pool) == 2 == engine.executor_workers(thread_pool)
    assert engine.executor_workers(dask_executor) == 2
    from dualad.parallel.jacobians import block_size
    assert block_size(1000, 2, None) == 500 and block_size(1000, 2, 7) == 7


def test_dying_dask_worker_is_a_worker_error(dask_executor):
    with pytest.raises(WorkerError, match=r"died.*Jacobian columns \d+:\d+"):
        dualad.jacobian(_dies, np.ones(2), executor=dask_executor, chunk_size=2)
    # the other worker is alive (the nanny restarts the dead one): the same executor still works
    assert _bits(dualad.jacobian(np.sin, X0, executor=dask_executor)) == _bits(dualad.jacobian(np.sin, X0))
