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


# ----------------------------------------------------------------------------- guard mismatches
def _chain_branch(v):
    """An elementwise chain whose formula depends on the sign of v[0] (a guard at the top)."""
    if v[0] > 0:
        return np.log1p(np.exp(np.sin(v) * np.cos(v)))
    return np.tanh(v) * np.cosh(v)


def _late_branch(v):
    """The decision comes after most of the work (the failed replay runs nearly all of its program)."""
    y = np.sin(v) * np.exp(-v * v) + np.cos(v) * v
    z = y * np.tanh(y) + np.log1p(v * v)
    return z * 2.0 if y.sum() > 0 else z ** 2


def _signs(v):
    """Scalar style, one branch per entry (2**n branches)."""
    return [v[i] ** 2 if v[i] > 0 else -v[i] * v[(i + 1) % len(v)] for i in range(len(v))]


def _sorted(v):
    """An order: n! branches."""
    return np.sort(v) * np.arange(1.0, v.size + 1.0) + 0.1 * np.sin(v)


def _argmax(v):
    """An index chosen by value: n branches."""
    return v * v[np.argmax(v)] + np.cos(v)


def guard_functions():
    """(name, f, xa, xb): f prepared at xa; xb lies on another branch."""
    rng = np.random.default_rng(0)
    out = []
    xa = rng.uniform(0.1, 1.0, 40)
    out.append(("lorenz96 n=40 (branch on x[0])", R.problems.lorenz96_branchy, xa))
    out.append(("chain n=10 (branch on x[0])", _chain_branch, rng.uniform(0.1, 1.0, 10)))
    out.append(("late decision n=100", _late_branch, rng.uniform(0.1, 1.0, 100)))
    out.append(("signs n=8 (scalar style)", _signs, rng.uniform(0.1, 1.0, 8)))
    out.append(("sort n=6", _sorted, np.linspace(0.1, 0.6, 6)))
    out.append(("argmax n=8", _argmax, np.linspace(0.1, 0.8, 8)))
    result = []
    for name, f, xa in out:
        xb = xa.copy()
        if name.startswith(("lorenz", "chain")):
            xb[0] = -xb[0]
        elif name.startswith("late"):
            xb = -xb
        else:
            xb = xb[::-1].copy() * np.where(np.arange(xb.size) % 2, -1.0, 1.0)
        result.append((name, f, xa, xb))
    return result


def _timed(fn, calls) -> float:
    gc.disable()  # as timeit does: a collection of earlier objects is not these calls' cost
    try:
        t0 = time.perf_counter()
        for c in calls:
            fn(c)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def guard(rounds: int) -> None:
    """What a guard mismatch costs against one plain dualad.jacobian at the same points.

    First meetings: per round, a batch of freshly prepared objects (each called once at the recorded
    point, so its program is compiled) each meets the other branch once; the batch of plain calls at
    that point is timed right before or right after it, the order alternating round by round; both
    warmed first. Streams: a prepared object followed through random points of functions with many
    branches (warmed on the first points), chunks of calls timed against plain calls at the same
    points, alternating. Ratios of the fastest and of the median batches."""
    print("\nGuard mismatch vs one plain dualad.jacobian at the same point (ratio < 1: the mismatch is cheaper); "
          f"{rounds} rounds, order alternating\n")
    print("| function | plain dualad.jacobian | prepared, branch met the first time | ratio fastest | ratio median |")
    print("|---|---:|---:|---:|---:|")
    batch = 5
    for name, f, xa, xb in guard_functions():
        with np.errstate(all="ignore"):
            want = dualad.jacobian(f, xb)
            check = dualad.prepare(f, xa)
            if not np.allclose(check(xb), want, rtol=1e-12, atol=1e-12) or check.mismatches != 1:
                raise SystemExit(f"MISMATCH: guard function {name}")
            for _ in range(3):  # warm both paths
                dualad.jacobian(f, xb)
                q = dualad.prepare(f, xa)
                q(xa)
                q(xb)
            plain, first = [], []
            for r in range(rounds):
                fresh = [dualad.prepare(f, xa) for _ in range(batch)]
                for p in fresh:
                    p(xa)
                gc.collect()
                if r % 2:
                    plain.append(_timed(lambda p: dualad.jacobian(f, xb), fresh) / batch)
                    first.append(_timed(lambda p: p(xb), fresh) / batch)
                else:
                    first.append(_timed(lambda p: p(xb), fresh) / batch)
                    plain.append(_timed(lambda p: dualad.jacobian(f, xb), fresh) / batch)
                assert all(p.mismatches == 1 and p.retapes == 0 for p in fresh)
        print(f"| {name} | {fmt(min(plain))} ({fmt(statistics.median(plain))}) | {fmt(min(first))} "
              f"({fmt(statistics.median(first))}) | {min(first) / min(plain):.3f} | "
              f"{statistics.median(first) / statistics.median(plain):.3f} |", flush=True)
    print("\n(A first meeting is answered by the plain dualad.jacobian itself; on top come the replay that failed "
          "its guard and the bookkeeping.)")
    guard_streams(rounds)


def guard_streams(rounds: int) -> None:
    """Random points of many-branch functions: p(x) against dualad.jacobian(f, x), per call."""
    print("\nStreams of random points (mostly branches not met before): per call, chunks of 20 alternating\n")
    print("| function | plain dualad.jacobian | prepared | ratio fastest | ratio median | counters |")
    print("|---|---:|---:|---:|---:|---|")
    rng = np.random.default_rng(1)
    for name, f, n in [("sort n=6", _sorted, 6), ("signs n=8", _signs, 8), ("argmax n=8", _argmax, 8),
                       ("signs n=14", _signs, 14)]:
        warm = [rng.uniform(-1, 1, n) for _ in range(100)]
        p = dualad.prepare(f, warm[0])
        for x in warm:
            np.testing.assert_allclose(p(x), dualad.jacobian(f, x), rtol=1e-12, atol=1e-12)
        plain, prepared = [], []
        for r in range(rounds):
            chunk = [rng.uniform(-1, 1, n) for _ in range(20)]
            gc.collect()
            if r % 2:
                plain.append(_timed(lambda x: dualad.jacobian(f, x), chunk) / 20)
                prepared.append(_timed(p, chunk) / 20)
            else:
                prepared.append(_timed(p, chunk) / 20)
                plain.append(_timed(lambda x: dualad.jacobian(f, x), chunk) / 20)
        print(f"| {name} | {fmt(min(plain))} ({fmt(statistics.median(plain))}) | {fmt(min(prepared))} "
              f"({fmt(statistics.median(prepared))}) | {min(prepared) / min(plain):.2f} | "
              f"{statistics.median(prepared) / statistics.median(plain):.2f} | {p!r} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
