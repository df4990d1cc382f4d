"""Past one machine (issue 18): executor speed-ups, the batch path, the break-even, caller memory.

    OPENBLAS_NUM_THREADS=1 python benchmarks/parallel.py            # a few minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/parallel.py --quick    # fewer repeats
    OPENBLAS_NUM_THREADS=1 python benchmarks/parallel.py --quick --alone   # target 1, one executor at a time

Every figure is a ratio of times measured in ONE run, A and B interleaved
(serial, pool, dask, serial, pool, dask, ...), so machine load hits both; the
load average is printed before and after. Each parallel result is checked bit
for bit against the serial one before it is timed.

Targets
  1. A dense Jacobian whose f costs >= 50 ms per pass, on 2 processes: >= 1.7x
     faster than serial (ProcessPoolExecutor and a dask LocalCluster). Two problems: a
     compute-bound simulation (dense coupling: the tangent work is matrix-matrix products) and a
     memory- and overhead-bound stencil, where splitting the columns costs as much as it saves.
  2. 64 Jacobians of a 20-input function through ``batch_jacobian`` without an
     executor: >= 5x faster than a Python loop of ``dualad.jacobian``.
  3. Overhead for a cheap f: the fixed cost of one parallel call (round trips,
     pickling) and the serial Jacobian time where an executor starts to pay.
  4. Caller memory (tracemalloc): peak over the Jacobian's own size.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
import multiprocessing
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import dualad  # noqa: E402
from dualad.parallel import jacobians, progress  # noqa: E402

progress.DELAY = float("inf")  # no progress bars in the measurements


def reaction_diffusion(u, steps=40, dt=0.2):
    """A simulation: explicit steps of u_t = u_xx + u (1 - u) sin(u) on a periodic grid of len(u) points."""
    for _ in range(steps):
        lap = np.roll(u, 1) - 2 * u + np.roll(u, -1)
        u = u + dt * (lap + u * (1 - u) * np.sin(u))
    return u


def small_model(x):
    """R^20 -> R^20, batch-polymorphic (a leading batch axis passes through)."""
    h = np.tanh(x @ W20)
    return np.sin(h) * x[..., :1] + np.exp(-x ** 2) * np.sum(h ** 2, axis=-1, keepdims=True)


W20 = np.random.default_rng(0).normal(size=(20, 20)) / 5


def coupled_network(u, steps=280, dt=0.1):
    """A simulation with dense coupling: explicit steps of u_t = tanh(A u) - u, A dense n x n.

    Its forward pass is matrix-matrix work (A times the tangent block), so it is compute-bound and
    its cost grows with the columns of a block; a plain pass costs >= 50 ms at n = 1024, 280 steps."""
    coupling = _coupling(len(u))
    for _ in range(steps):
        u = u + dt * (np.tanh(coupling @ u) - u)
    return u


_COUPLINGS = {}


def _coupling(n):
    if n not in _COUPLINGS:
        _COUPLINGS[n] = np.random.default_rng(0).normal(size=(n, n)) / np.sqrt(n)
    return _COUPLINGS[n]


def cheap(x):
    return np.sin(x) * np.cos(x[::-1]) + x ** 2


def _time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleaved(named, repeat):
    """{name: [seconds, ...]} with the candidates run in turn, ``repeat`` rounds."""
    out = {name: [] for name in named}
    for _ in range(repeat):
        for name, fn in named.items():
            out[name] += _time(fn, 1)
    return out


def fmt(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} us"


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def start_dask(workers, malloc_trim=True):
    """A LocalCluster of ``workers`` processes. ``malloc_trim=False`` unsets the MALLOC_TRIM_THRESHOLD_=65536
    that dask's nanny puts in each worker's environment by default: setting it switches off glibc's
    dynamic mmap threshold, so every array above 128 KiB is a fresh mmap whose pages are zeroed on first
    touch; a forward pass over 4 MiB tangent blocks then spends ~1.7x the CPU (measured in the README)."""
    import dask
    from dask.distributed import Client, LocalCluster
    settings = {"distributed.worker.daemon": False}
    if not malloc_trim:
        settings["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] = None  # None unsets it
    with dask.config.set(settings):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.CRITICAL)
    return cluster, Client(cluster)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid):
    """User + system CPU seconds of one process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def worker_pids(executor):
    if isinstance(executor, cf.ProcessPoolExecutor):
        dualad.jacobian(cheap, np.ones(4), executor=executor)  # make sure the workers exist
        return list(executor._processes)
    client = executor._client
    return list(client.run(os.getpid).values())


def cpu_profile(fn, pids):
    """(wall, caller CPU, [worker CPU ...]) of one call: the CPU seconds each process spent on it."""
    before = [_cpu_seconds(p) for p in pids]
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, [_cpu_seconds(p) - b for p, b in zip(pids, before)]


def target_dense(executors, repeat, n, problem):
    """Parallel vs serial. Two serial baselines: the SAME blocks (same arithmetic, bit-identical results)
    and the one-pass default; the speed-up is against the faster of the two (on this machine a chunked
    serial Jacobian can beat the one-pass default, cache)."""
    if problem == "network":
        x = np.linspace(-1.0, 1.0, n)
        f = coupled_network
        title = f"coupled network (dense A, compute-bound) n = {n}, 280 steps"
        blockings = (1,)
    else:
        x = np.linspace(0.1, 0.9, n)
        f = reaction_diffusion
        title = f"reaction-diffusion (stencil, memory- and overhead-bound) n = {n}, 40 steps"
        blockings = (1, 2)
    plain = min(_time(lambda: f(x.copy()), 5))
    reference = dualad.jacobian(f, x)
    print(f"\n### 1. Dense Jacobian, {title} ({load()})")
    for per_worker in blockings:
        chunk = -(-n // (2 * per_worker))
        runs = {f"serial, chunk_size={chunk}": lambda chunk=chunk: dualad.jacobian(f, x, chunk_size=chunk),
                "serial, one pass": lambda: dualad.jacobian(f, x)}
        for name, ex in executors.items():
            J = dualad.jacobian(f, x, executor=ex, chunk_size=chunk)
            assert J.tobytes() == dualad.jacobian(f, x, chunk_size=chunk).tobytes()
            assert np.array_equal(J, reference)
            runs[name] = lambda ex=ex, chunk=chunk: dualad.jacobian(f, x, executor=ex, chunk_size=chunk)
        block = min(_time(lambda: dualad.forward.jacobian_columns(f, x, 0, chunk), 2))
        print(f"\n{per_worker} block(s) per worker: {n // chunk} blocks of {chunk} columns; plain f {fmt(plain)}, "
              f"one forward pass (one block) {fmt(block)}\n")
        # CPU seconds, which machine load does not inflate: the serial pass, and per process in parallel.
        # On an idle machine the parallel wall time is the busiest process's CPU time, so
        # serial CPU / max(worker CPU) + caller CPU projects the speed-up the load hides.
        cpu_repeats = 1 if problem == "network" else 2  # a network Jacobian takes seconds
        serial_cpu = min(cpu_profile(runs[next(iter(runs))], [])[1] for _ in range(cpu_repeats))
        projections = {}
        for name, ex in executors.items():
            pids = worker_pids(ex)
            best = min((cpu_profile(runs[name], pids) for _ in range(cpu_repeats)), key=lambda r: max(r[2]) + r[1])
            _, caller, workers = best
            projections[name] = (serial_cpu / (max(workers) + caller), caller, workers)
        times = interleaved(runs, repeat)
        # The baseline is the faster serial way, paired round by round.
        serial = [min(pair) for pair in zip(times[f"serial, chunk_size={chunk}"], times["serial, one pass"])]
        base = statistics.median(serial)
        print("| run | median | min | max | speed-up (median) | range of paired ratios |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, ts in times.items():
            ratios = [s / t for s, t in zip(serial, ts)]
            print(f"| {name} | {fmt(statistics.median(ts))} | {fmt(min(ts))} | {fmt(max(ts))} | "
                  f"{base / statistics.median(ts):.2f}x | {min(ratios):.2f}-{max(ratios):.2f}x |")
        print(f"\nCPU seconds: serial {serial_cpu:.2f} s")
        for name, (projected, caller, workers) in projections.items():
            print(f"- {name}: caller {caller:.2f} s, workers " + ", ".join(f"{w:.2f} s" for w in workers)
                  + f" (total {caller + sum(workers):.2f} s): projected idle-machine speed-up "
                  f"{projected:.2f}x")
    print(load())


def target_batch(repeat):
    X = np.random.default_rng(1).normal(size=(64, 20))
    loop = np.stack([dualad.jacobian(small_model, r) for r in X])
    B = dualad.batch_jacobian(small_model, X)
    assert np.allclose(B, loop, rtol=1e-13, atol=1e-14)
    from dualad.parallel.batch import vectorized_jacobians
    assert not isinstance(vectorized_jacobians(small_model, X), str)
    runs = {"loop of dualad.jacobian": lambda: [dualad.jacobian(small_model, r) for r in X],
            "batch_jacobian": lambda: dualad.batch_jacobian(small_model, X)}
    times = interleaved(runs, repeat)
    ratios = [a / b for a, b in zip(*times.values())]
    print(f"\n### 2. 64 Jacobians of a 20-input function ({load()})\n")
    for name, ts in times.items():
        print(f"- {name}: median {fmt(statistics.median(ts))} (min {fmt(min(ts))})")
    print(f"- speed-up: median {statistics.median(ratios):.1f}x, range {min(ratios):.1f}-{max(ratios):.1f}x")


def target_overhead(executors, repeat):
    print(f"\n### 3. Overhead and break-even ({load()})\n")
    print("| n (cheap f) | serial | " + " | ".join(executors) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in executors) + " |")
    rows = []
    for n in (50, 200, 400, 800, 1600):
        x = np.linspace(0, 1, n)
        runs = {"serial": lambda x=x: dualad.jacobian(cheap, x)}
        for name, ex in executors.items():
            runs[name] = lambda ex=ex, x=x: dualad.jacobian(cheap, x, executor=ex)
        times = interleaved(runs, repeat)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((n, med))
        print(f"| {n} | {fmt(med['serial'])} | " + " | ".join(
            f"{fmt(med[k])} ({med['serial'] / med[k]:.2f}x)" for k in executors) + " |")
    x64 = np.linspace(0, 1, 64)
    for name, ex in executors.items():
        trivial = statistics.median(_time(lambda: dualad.jacobian(cheap, np.ones(2), executor=ex), repeat * 2))
        many = statistics.median(_time(lambda: dualad.jacobian(cheap, x64, executor=ex, chunk_size=1), repeat))
        few = statistics.median(_time(lambda: dualad.jacobian(cheap, x64, executor=ex, chunk_size=32), repeat))
        print(f"- {name}: fixed cost of one parallel call (n = 2): {fmt(trivial)}; each extra block (task round "
              f"trip, 64 blocks vs 2): {fmt((many - few) / 62)}; an executor pays once the serial Jacobian takes "
              f"more than about 2x the fixed cost ({fmt(2 * trivial)}) on 2 workers")


def target_memory(pool, n):
    x = np.linspace(0.0, 1.0, n)
    f = cheap
    jbytes = n * n * 8
    chunk = jacobians.block_size(n, 2, None)
    tracemalloc.start()
    dualad.jacobian(f, x, executor=pool)
    peak_pool = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    dualad.jacobian(f, x)
    serial_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\n### 4. Caller memory, n = {n} (Jacobian {jbytes / 2**20:.1f} MiB, blocks of {chunk} columns = "
          f"{n * chunk * 8 / 2**20:.1f} MiB)\n")
    print(f"- process pool (2 workers): caller peak {peak_pool / 2**20:.1f} MiB = J + "
          f"{(peak_pool - jbytes) / (n * chunk * 8):.2f} blocks")
    print(f"- serial (one pass, for comparison): peak {serial_peak / 2**20:.1f} MiB = "
          f"{serial_peak / jbytes:.2f} J")


def executor_factories(with_dask):
    """{name: start()}, start() -> (executor, close()). The trim-unset dask cluster comes first: dask's nanny
    also writes its pre-spawn variables into the environment of the process that starts it, and later
    clusters inherit them from there."""
    def pool():
        ex = cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
        return ex, ex.shutdown

    def dask_cluster(trim):
        def start():
            cluster, client = start_dask(2, malloc_trim=trim)
            seen = set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values())
            print(f"- dask cluster started: workers' MALLOC_TRIM_THRESHOLD_ = {', '.join(map(str, seen))}")

            def close():
                client.close()
                cluster.close()
            return client.get_executor(), close
        return start

    factories = {"process pool": pool}
    if with_dask:
        factories["dask, malloc trim unset"] = dask_cluster(False)
        factories["dask LocalCluster"] = dask_cluster(True)
    return factories


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--only", default="1234")
    parser.add_argument("--alone", action="store_true",
                        help="target 1 with one executor alive at a time (an idle LocalCluster's scheduler and "
                             "nannies run threads in this process and take CPU from the others' runs)")
    parser.add_argument("--n", type=int, default=512, help="inputs of the stencil Jacobian (target 1)")
    parser.add_argument("--network-n", type=int, default=1024, help="inputs of the coupled network (target 1)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    print(f"# benchmarks/parallel.py: {os.cpu_count()} cores, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, {load()}")
    factories = executor_factories(not args.no_dask)
    if args.alone:
        for name, start in factories.items():
            ex, close = start()
            try:
                dualad.jacobian(cheap, np.ones(8), executor=ex)  # warm up
                print(f"\n## {name} alone")
                target_dense({name: ex}, repeat, args.network_n, "network")
                target_dense({name: ex}, repeat, args.n, "stencil")
            finally:
                close()
        return
    executors, closers = {}, []
    for name, start in factories.items():
        ex, close = start()
        executors[name] = ex
        closers.append(close)
    for ex in executors.values():  # warm up: worker start-up and imports are not part of a call
        dualad.jacobian(cheap, np.ones(8), executor=ex)
    try:
        if "2" in args.only:
            target_batch(repeat * 3)
        if "1" in args.only:
            target_dense(executors, repeat, args.network_n, "network")
            target_dense(executors, repeat, args.n, "stencil")
        if "3" in args.only:
            target_overhead(executors, repeat)
        if "4" in args.only:
            target_memory(executors["process pool"], 3000)
    finally:
        for close in closers:
            close()


if __name__ == "__main__":
    main()
