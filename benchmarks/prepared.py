"""dualad.prepare against the plain engines, jax.jit and finite differences, measured interleaved.

    OPENBLAS_NUM_THREADS=1 python benchmarks/prepared.py            # all tasks
    OPENBLAS_NUM_THREADS=1 python benchmarks/prepared.py --rounds 30 --tasks lorenz96,robertson

On a shared machine a contestant timed for a whole second at a time can meet a busy second while
another meets a quiet one. Here the contestants of one task take turns: each round times a short
batch of every contestant, and the table reports, per contestant, the fastest batch (what the code
costs when it is not preempted) and the median batch, with ratios to jax.jit(jacfwd) and to one
plain evaluation of f computed from the fastest batches. Every Jacobian is checked first.
The tasks are benchmarks/run.py's.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402  (the tasks and peers of benchmarks/run.py)

import dualad  # noqa: E402


def contestants(task):
    f = task.bound(R.NP, stack=False)
    x = task.x
    out = {"numpy f": lambda: f(x), "dualad": lambda: dualad.jacobian(f, x)}
    p = dualad.prepare(f, x)
    p(x)
    out["dualad prepare"] = lambda: p(x)
    out["tape re-record"] = lambda: dualad.tape.jacobian(f, x)
    if R.jax:
        jf = R.jax.jit(R.jax.jacfwd(task.bound(R.JX, R.jnp.asarray)))
        xj = R.jnp.asarray(x)
        jf(xj).block_until_ready()
        out["jax.jit(jacfwd)"] = lambda: jf(xj).block_until_ready()
    if R.scipy:
        from scipy.optimize._numdiff import approx_derivative  # what solve_ivp and least_squares use
        g = task.bound(R.NP)
        out["scipy FD"] = lambda: approx_derivative(g, x)
    ref = np.asarray(dualad.jacobian(f, x))
    for name, fn in out.items():
        if name in ("numpy f",):
            continue
        J = np.asarray(fn()).reshape(ref.shape)
        tol = (1e-4, 1e-3 * max(1.0, np.abs(ref).max())) if name == "scipy FD" else (1e-10, 1e-12)
        if name != "scipy FD" and not np.allclose(J, ref, rtol=tol[0], atol=tol[1]):
            raise SystemExit(f"MISMATCH: {name} on {task.name} n={task.n}")
    return out


def batch_size(fn, seconds=0.002) -> int:
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, min(2000, int(seconds / one)))


def measure(cands: dict, rounds: int) -> dict:
    sizes = {k: batch_size(fn) for k, fn in cands.items()}
    samples: dict = {k: [] for k in cands}
    pc = time.perf_counter
    gc.collect()
    for _ in range(rounds):
        for k, fn in cands.items():
            n = sizes[k]
            t0 = pc()
            for _ in range(n):
                fn()
            samples[k].append((pc() - t0) / n)
    return {k: (min(v), statistics.median(v)) for k, v in samples.items()}


def fmt(s: float) -> str:
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--tasks", default="chain,dense,lorenz96,robertson,hires")
    args = ap.parse_args(argv)
    wanted = args.tasks.split(",")
    plan = [(cls, n) for cls in R.TASKS if cls.name in wanted for n in cls.sizes if n <= 100]
    print(f"load average at start {os.getloadavg()[0]:.2f}; {args.rounds} interleaved rounds; "
          "fastest batch (median batch); ratios from the fastest batches\n")
    print("| task | n | numpy f | dualad | dualad prepare | tape re-record | jax.jit(jacfwd) | scipy FD "
          "| prepare ÷ jit | re-record ÷ prepare | FD ÷ prepare |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cls, n in plan:
        task = cls(n)
        res = measure(contestants(task), args.rounds)
        cols = ["numpy f", "dualad", "dualad prepare", "tape re-record", "jax.jit(jacfwd)", "scipy FD"]
        cells = [f"{fmt(res[c][0])} ({fmt(res[c][1])})" if c in res else "-" for c in cols]
        p = res["dualad prepare"][0]
        ratios = [f"{p / res['jax.jit(jacfwd)'][0]:.2f}" if "jax.jit(jacfwd)" in res else "-",
                  f"{res['tape re-record'][0] / p:.1f}",
                  f"{res['scipy FD'][0] / p:.1f}" if "scipy FD" in res else "-"]
        print(f"| {task.name} | {n} | " + " | ".join(cells + ratios) + " |", flush=True)
    if "mlp" in wanted or args.tasks == ap.get_default("tasks"):
        mlp(args.rounds)
    if "guard" in wanted or args.tasks == ap.get_default("tasks"):
        guard(args.rounds)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    return 0


def mlp(rounds: int) -> None:
    """value_and_grad of run.py's two-layer MLP loss against one loss evaluation."""
    n = sum(int(np.prod(s)) for s in R.mlp_sizes())
    rng = np.random.default_rng(0)
    theta = 0.1 * rng.standard_normal(n)
    X = rng.standard_normal((R.MLP_BATCH, R.MLP_SHAPE[0]))
    Y = rng.standard_normal((R.MLP_BATCH, R.MLP_SHAPE[2]))
    loss = lambda th: R.mlp_loss(th, X, Y, R.NP)  # noqa: E731
    p = dualad.prepare(loss, theta)
    value, g = p.value_and_grad(theta)
    if not np.allclose(g, R.mlp_analytic_grad(theta, X, Y), rtol=1e-9, atol=1e-12):
        raise SystemExit("MISMATCH: prepared MLP gradient")
    cands = {"numpy f": lambda: loss(theta), "dualad prepare value_and_grad": lambda: p.value_and_grad(theta),
             "dualad tape.value_and_grad": lambda: dualad.tape.value_and_grad(loss, theta)}
    if R.jax:
        Xj, Yj, thj = R.jnp.asarray(X), R.jnp.asarray(Y), R.jnp.asarray(theta)
        vg = R.jax.jit(R.jax.value_and_grad(lambda th: R.mlp_loss(th, Xj, Yj, R.JX)))
        vg(thj)[1].block_until_ready()
        cands["jax.jit(value_and_grad)"] = lambda: vg(thj)[1].block_until_ready()
    res = measure(cands, rounds)
    base = res["numpy f"][0]
    print(f"\nMLP loss ({n} parameters, batch {R.MLP_BATCH}): fastest batch (median), ratio to one loss evaluation\n")
    print("| contestant | time | ratio |\n|---|---:|---:|")
    for k, (best, med) in res.items():
        print(f"| {k} | {fmt(best)} ({fmt(med)}) | {best / base:.2f} |")


def guard(rounds: int) -> None:
    """A call whose branch was never recorded (the guard fails, the plain function answers) against one
    plain dualad.jacobian, on run.py's guard function (Lorenz-96 n=40 with a branch on x[0])."""
    n = 40

    branchy = R.problems.lorenz96_branchy
    xa = np.random.default_rng(0).uniform(0.1, 1.0, n)
    xb = xa.copy()
    xb[0] = -xb[0]
    plain, first = [], []
    for _ in range(rounds):
        p = dualad.prepare(branchy, xa)
        p(xa)
        gc.collect()
        gc.disable()  # as timeit does: a collection of the previous rounds' objects is not this call's cost
        t0 = time.perf_counter()
        dualad.jacobian(branchy, xb)
        t1 = time.perf_counter()
        p(xb)
        t2 = time.perf_counter()
        gc.enable()
        assert p.mismatches == 1
        plain.append(t1 - t0)
        first.append(t2 - t1)
    print(f"\nGuard mismatch (a branch met for the first time), {rounds} alternating samples: plain dualad.jacobian "
          f"{fmt(min(plain))} ({fmt(statistics.median(plain))}), prepared call {fmt(min(first))} "
          f"({fmt(statistics.median(first))}): ratio {min(first) / min(plain):.2f} (fastest), "
          f"{statistics.median(first) / statistics.median(plain):.2f} (median)")


if __name__ == "__main__":
    sys.exit(main())
