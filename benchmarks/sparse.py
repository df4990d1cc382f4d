"""Sparse Jacobians (issue 7): the three targets, measured and printed as a markdown table.

    python benchmarks/sparse.py            # about a minute (the dense n = 10 000 Jacobian is the slow part)
    python benchmarks/sparse.py --json out.json

Targets
  1. Bratu 1-D, n = 10 000: ``sparse_jacobian`` (detection + colouring + one
     compressed forward pass, all included) at least 100x faster than dense
     ``dualad.jacobian``.
  2. Bratu 1-D, n = 1000: at least 10x faster than ``jax.jit(jax.jacfwd(f))``
     (compiled once, timed per call); skipped with a note if JAX is missing.
  3. Detecting the pattern (``jacobian_sparsity``) costs at most 20 evaluations
     of f, for Bratu 1-D and 2-D at n = 10 000.

Times are the best of several ``timeit`` batches (gc off, as timeit does);
the median is printed beside it. Every Jacobian is checked against dense
forward mode before it is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import dualad  # noqa: E402
from problems import bratu_1d, bratu_2d  # noqa: E402  (benchmarks/problems.py: shared with the tests)

LAM = 1.0


def measure(fn, min_batch: float = 0.05, repeat: int = 7, max_number: int = 10_000) -> dict:
    """Best and median seconds per call over ``repeat`` batches of at least ``min_batch`` seconds."""
    fn()  # warm up
    number = 1
    while number < max_number:
        if timeit.timeit(fn, number=number) >= min_batch:
            break
        number *= 2
    times = [t / number for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return {"best": min(times), "median": statistics.median(times), "number": number}


def interleaved(contestants: dict, rounds: int = 7, min_batch: float = 0.02) -> dict:
    """Best and median seconds per call of each contestant, one timeit batch of each per round."""
    numbers = {}
    for name, fn in contestants.items():
        fn()  # warm up
        number = 1
        while number < 100_000 and timeit.timeit(fn, number=number) < min_batch:
            number *= 2
        numbers[name] = number
    times: dict = {name: [] for name in contestants}
    for _ in range(rounds):
        for name, fn in contestants.items():
            times[name].append(timeit.timeit(fn, number=numbers[name]) / numbers[name])
    return {name: {"best": min(t), "median": statistics.median(t), "number": numbers[name]} for name, t in times.items()}


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


def arrow(x):
    """A dense first row (a norm), a dense first column (x[0] scales the rest) and a diagonal."""
    return np.concatenate([[np.sum(x ** 2)], x[1:] * x[0] + np.sin(x[1:])])


def arrow_only() -> int:
    print("| n | coloring | passes (forward + reverse) | build | call | max error |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for n in (200, 2000):
        x = np.linspace(0.1, 1.0, n)
        dense = dualad.jacobian(arrow, x)
        for coloring in ("greedy", "bicolor"):
            t0 = timeit.default_timer()
            sj = dualad.SparseJacobian(arrow, x, coloring=coloring)
            build = timeit.default_timer() - t0
            call = measure(lambda: sj(x), repeat=3)
            err = float(np.abs(sj(x).toarray() - dense).max())
            print(f"| {n} | {coloring} | {sj.ncolors} + {sj.reverse_colors} | {fmt(build)} | {fmt(call['best'])} | "
                  f"{err:.1e} |")
    return 0


def bundle_like(x):
    """Each output entry reads three inputs (a point's coordinates): sums, cross products, a 3x2 map."""
    a = x.reshape(-1, 3)
    b = np.cross(a, a[::-1] * 2.0)
    return np.concatenate([np.sum(a * a, axis=1), np.sum(b, axis=1), (a @ np.ones((3, 2))).ravel()])


def probe_only() -> int:
    print("| points | f | detection | detection / f |")
    print("| ---: | ---: | ---: | ---: |")
    for points in (20_000, 60_000, 182_000):
        x = np.random.default_rng(0).standard_normal(3 * points)
        f_time = measure(lambda: bundle_like(x), repeat=3)["best"]
        t0 = timeit.default_timer()
        dualad.jacobian_sparsity(bundle_like, x)
        detect = timeit.default_timer() - t0
        print(f"| {points} | {fmt(f_time)} | {fmt(detect)} | {detect / f_time:,.0f}x |")
    return 0


def ba_only(files) -> int:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from benchmarks.adbench import ba
    from benchmarks.adbench.dataio import data_path, read_ba
    import scipy.sparse  # noqa: F401  (imported before the timing: jacobian_sparsity's first call would)
    print("| file | observations | f | detection | detection / f | nnz | within ADBench's block pattern |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in files:
        b = read_ba(data_path("ba", name))
        n, m = len(b.cams), len(b.X)
        params = ba.pack(b.cams, b.X, b.w)

        def f(p):
            return ba.residuals_of_params(p, n, m, b.obs, b.feats)
        f_time = measure(lambda: f(params), repeat=3)["best"]
        t0 = timeit.default_timer()
        S = dualad.jacobian_sparsity(f, params)
        detect = timeit.default_timer() - t0
        within = S.multiply(ba.jacobian_pattern(n, m, b.obs)).nnz == S.nnz
        print(f"| {name} | {len(b.obs)} | {fmt(f_time)} | {fmt(detect)} | {detect / f_time:,.0f}x | {S.nnz} | {within} |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write the measurements to this file")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds for target 2 (default 7)")
    ap.add_argument("--only", choices=["1", "2", "3"], help="run one target only")
    ap.add_argument("--arrow", action="store_true",
                    help="only: an arrow pattern (dense row + dense column), column colouring vs bicolouring")
    ap.add_argument("--probe", action="store_true",
                    help="only: sparsity detection of a bundle-adjustment-like residual (3-source entries) by size")
    ap.add_argument("--ba", nargs="*", metavar="FILE",
                    help="only: sparsity detection of ADBench's BA residuals (benchmarks/adbench/data/ba files, "
                         "e.g. ba1_n49_m7776_p31843.txt ba3_n161_m48126_p182072.txt)")
    args = ap.parse_args(argv)
    if args.ba is not None:
        return ba_only(args.ba or ["ba1_n49_m7776_p31843.txt"])
    if args.arrow:
        return arrow_only()
    if args.probe:
        return probe_only()
    rng = np.random.default_rng(0)
    rows, notes, record = [], [], {}
    ok = True

    def row(target, what, ours, theirs, ratio, goal, higher_is_better=True):
        nonlocal ok
        met = ratio >= goal if higher_is_better else ratio <= goal
        ok &= met
        rows.append(f"| {target} | {what} | {ours} | {theirs} | {ratio:,.1f}x | "
                    f"{'>=' if higher_is_better else '<='} {goal:g}x | {'yes' if met else 'NO'} |")

    # 1. Bratu 1-D, n = 10 000: sparse vs dense forward mode -------------------------------
    if args.only in (None, "1"):
        n = 10_000
        x = rng.uniform(0.0, 0.5, n)
        J_dense = dualad.jacobian(bratu_1d, x)
        J_sparse = dualad.sparse_jacobian(bratu_1d, x)
        assert np.allclose(J_sparse.toarray(), J_dense, rtol=1e-13, atol=1e-8), "sparse != dense"
        del J_dense
        dense = measure(lambda: dualad.jacobian(bratu_1d, x), min_batch=0.0, repeat=3)
        full = measure(lambda: dualad.sparse_jacobian(bratu_1d, x))
        sj = dualad.SparseJacobian(bratu_1d, x)
        call = measure(lambda: sj(x))
        record["bratu1d_10000"] = {"dense": dense, "sparse_jacobian": full, "SparseJacobian_call": call,
                                   "ncolors": sj.ncolors}
        row("1", f"Bratu 1-D n={n}: `sparse_jacobian` (detect+colour+eval) vs dense `jacobian`",
            fmt(full["best"]), fmt(dense["best"]), dense["best"] / full["best"], 100)
        rows.append(f"|  | same, reusing a `SparseJacobian` ({sj.ncolors} colours) | {fmt(call['best'])} | "
                    f"{fmt(dense['best'])} | {dense['best'] / call['best']:,.0f}x | | |")

    # 2. Bratu 1-D, n = 1000: against jax.jit(jax.jacfwd) -----------------------------------
    if args.only in (None, "2"):
        n = 1000
        x = rng.uniform(0.0, 0.5, n)
        try:
            import jax
            jax.config.update("jax_enable_x64", True)
            jax.config.update("jax_platforms", "cpu")
            import jax.numpy as jnp
        except Exception as err:  # ImportError, or a broken install
            jax = None
            notes.append(f"JAX is not available ({type(err).__name__}: {err}); target 2 skipped "
                         "(pip install jax to run it)")
        if jax is not None:
            def bratu_jax(u, lam=LAM):
                h = 1.0 / (u.shape[0] + 1)
                up = jnp.concatenate([u[1:], jnp.zeros(1)])
                um = jnp.concatenate([jnp.zeros(1), u[:-1]])
                return (um - 2.0 * u + up) / h ** 2 + lam * jnp.exp(u)
            jac_jax = jax.jit(jax.jacfwd(bratu_jax))
            xj = jnp.asarray(x)
            J_jax = np.asarray(jac_jax(xj).block_until_ready())
            sj = dualad.SparseJacobian(bratu_1d, x)
            plain = dualad.SparseJacobian(bratu_1d, x, replay=False)  # one pass of f with Duals per call
            prepared = dualad.prepare(bratu_1d, x, sparse=True)
            # sj's first two calls go the plain way (the second compiles), the third is replayed
            for J in (dualad.sparse_jacobian(bratu_1d, x), sj(x), sj(x), sj(x), plain(x), prepared(x)):
                assert np.allclose(J.toarray(), J_jax, rtol=1e-12, atol=1e-8)
            assert sj.replays == 1, "the SparseJacobian call was not replayed"
            # contestants interleaved round by round, so that load changes hit them all alike
            times = interleaved({
                "f": lambda: bratu_1d(x),
                "SparseJacobian call": lambda: sj(x),
                "SparseJacobian call, plain path": lambda: plain(x),
                "prepare(sparse=True) call": lambda: prepared(x),
                "jax.jit(jax.jacfwd)": lambda: jac_jax(xj).block_until_ready(),
                "sparse_jacobian (one-shot)": lambda: dualad.sparse_jacobian(bratu_1d, x),
                "dense dualad.jacobian": lambda: dualad.jacobian(bratu_1d, x),
            }, rounds=args.rounds)
            t_jax, call, full = times["jax.jit(jax.jacfwd)"], times["SparseJacobian call"], times["sparse_jacobian (one-shot)"]
            record["bratu1d_1000"] = {**times, "jax_version": jax.__version__}
            row("2", f"Bratu 1-D n={n}: `SparseJacobian` call vs `jax.jit(jax.jacfwd)` call (dense)",
                fmt(call["best"]), fmt(t_jax["best"]), t_jax["best"] / call["best"], 10)
            rows.append(f"|  | same, median batches | {fmt(call['median'])} | {fmt(t_jax['median'])} | "
                        f"{t_jax['median'] / call['median']:,.1f}x | | |")
            rows.append(f"|  | same, one-shot `sparse_jacobian` (detect+colour+eval each time) | {fmt(full['best'])} | "
                        f"{fmt(t_jax['best'])} | {t_jax['best'] / full['best']:,.1f}x | | |")
            for name in ("f", "SparseJacobian call, plain path", "prepare(sparse=True) call", "dense dualad.jacobian"):
                rows.append(f"|  | {name} (jit / it) | {fmt(times[name]['best'])} | {fmt(t_jax['best'])} | "
                            f"{t_jax['best'] / times[name]['best']:,.1f}x | | |")
            rows.append(f"|  | `SparseJacobian` call / one evaluation of f | {fmt(call['best'])} | "
                        f"{fmt(times['f']['best'])} | {call['best'] / times['f']['best']:,.1f}x | | |")

    # 3. detection cost in evaluations of f --------------------------------------------------
    if args.only in (None, "3"):
        for name, f, n in (("Bratu 1-D", bratu_1d, 3000), ("Bratu 1-D", bratu_1d, 10_000), ("Bratu 2-D", bratu_2d, 10_000)):
            x = rng.uniform(0.0, 0.5, n)
            t_f = measure(lambda: f(x))
            t_s = measure(lambda: dualad.jacobian_sparsity(f, x))
            record[f"detect_{name}"] = {"f": t_f, "jacobian_sparsity": t_s}
            row("3", f"{name} n={n}: `jacobian_sparsity` / one evaluation of f", fmt(t_s["best"]), fmt(t_f["best"]),
                t_s["best"] / t_f["best"], 20, higher_is_better=False)
            t_b = measure(lambda: dualad.SparseJacobian(f, x))  # detection + decision log + colouring
            record[f"build_{name}_{n}"] = {"f": t_f, "SparseJacobian": t_b}
            rows.append(f"|  | same, building a `SparseJacobian` (detect + colour) | {fmt(t_b['best'])} | {fmt(t_f['best'])} | "
                        f"{t_b['best'] / t_f['best']:,.1f}x | | |")

    print(f"# Sparse Jacobians -- dualad {dualad.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()}\n")
    print("| target | measurement | dualad | reference | ratio | goal | met |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nTimes: best of 7 timeit batches (3 single runs for the dense n=10 000 Jacobian); "
          "ratio = reference / dualad for speed-ups, dualad / f for detection.")
    for note in notes:
        print(f"\nNote: {note}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
