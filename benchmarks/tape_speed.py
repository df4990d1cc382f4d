"""Reverse-mode (dualad.tape) cost: gradient / plain evaluation, the 100k chain, hvp / gradient.

    python benchmarks/tape_speed.py            # all three measurements
    python benchmarks/tape_speed.py --quick    # fewer repeats

1. The two-layer MLP loss of the lecture notes (logistic hidden layer, softmax
   output, mean cross-entropy) with N=256 samples, D=64 inputs, M=128 hidden
   units, C=10 classes: D*M + M*C = 9472 parameters. Times one plain numpy
   evaluation, ``tape.grad``, the hand-written backprop of the lecture, and
   ``dualad.hvp``; prints the ratios.
2. A chain of 100 000 scalar operations (x = x * a + b, 50 000 times):
   recording time and backward time.

Times are the best of repeated runs (gc disabled while timing, as timeit
does): on a shared machine the minimum is the least disturbed estimate of the
cost; the median is printed beside it. Set OPENBLAS_NUM_THREADS=1 (or the MKL
equivalent) for steadier matmul timings.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import numpy as np

import dualad
from dualad import tape

N, D, M, C = 256, 64, 128, 10


def _time(fn, repeat: int, number: int = 1) -> tuple[float, float]:
    """(best, median) seconds per call over ``repeat`` batches of ``number`` calls."""
    fn()  # warm up
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - t0) / number)
    finally:
        gc.enable()
    return min(times), statistics.median(times)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _softmax(a):
    e = np.exp(a - np.max(a, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def make_mlp(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D))
    y = np.eye(C)[rng.integers(0, C, N)]
    theta = rng.normal(0.0, 0.1, D * M + M * C)

    def loss(t):
        V, W = t[:D * M].reshape(D, M), t[D * M:].reshape(M, C)
        z = _sigmoid(x @ V)
        yhat = _softmax(z @ W)
        return -np.sum(y * np.log(yhat)) / N

    def hand_grad(t):  # the lecture's backprop: dW = zᵀ(ŷ - y)/N, dV = xᵀ[((ŷ - y)Wᵀ) ⊙ z(1 - z)]/N
        V, W = t[:D * M].reshape(D, M), t[D * M:].reshape(M, C)
        z = _sigmoid(x @ V)
        delta = _softmax(z @ W) - y
        dW = z.T @ delta / N
        dV = x.T @ ((delta @ W.T) * z * (1 - z)) / N
        return np.concatenate([dV.ravel(), dW.ravel()])

    return loss, hand_grad, theta


def mlp(repeat: int) -> None:
    loss, hand_grad, theta = make_mlp()
    g = tape.grad(loss, theta)
    err = float(np.max(np.abs(g - hand_grad(theta))))
    v = np.random.default_rng(1).standard_normal(theta.size)
    t_plain = _time(lambda: loss(theta), repeat, 20)
    t_hand = _time(lambda: hand_grad(theta), repeat, 20)
    t_grad = _time(lambda: tape.grad(loss, theta), repeat, 10)
    t_hvp = _time(lambda: dualad.hvp(loss, theta, v), repeat, 5)
    nodes = len(tape.record(loss, theta).nodes)
    print(f"MLP loss, N={N} D={D} M={M} C={C}: {theta.size} parameters, {nodes} tape nodes")
    print(f"  max |tape.grad - hand backprop| = {err:.1e}")
    print("  best (median) per call:")
    rows = [("plain evaluation", t_plain, ""), ("hand-written backprop", t_hand, "value + gradient"),
            ("tape.grad", t_grad, "records, then one backward sweep"),
            ("dualad.hvp", t_hvp, f"{t_hvp[0] / t_grad[0]:.2f}x tape.grad")]
    for name, (best, med), note in rows:
        print(f"  {name:22s} {best * 1e3:7.3f} ms ({med * 1e3:7.3f})  {best / t_plain[0]:5.2f}x plain  {note}")


def chain(repeat: int, steps: int = 50_000) -> None:
    a, b = 1.00001, 1e-9

    def f(x):
        for _ in range(steps):
            x = x * a + b
        return x

    records, backwards = [], []  # best of ``repeat`` runs, like the MLP timings
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        t = tape.record(f, 0.5)
        t1 = time.perf_counter()
        (g,) = t.backward()
        t2 = time.perf_counter()
        records.append(t1 - t0)
        backwards.append(t2 - t1)
        assert abs(float(g) / a ** steps - 1.0) < 1e-10
    n = len(t.nodes) - 1
    rec, back = min(records), min(backwards)
    print(f"chain of {n} operations (x = x * a + b, {steps} times), best of {repeat}:")
    print(f"  record {rec:.3f} s ({rec / n * 1e6:.1f} us/op), backward {back:.3f} s ({back / n * 1e6:.1f} us/node), "
          f"tape {t.nbytes / 1e6:.1f} MB after backward")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} cpus, OPENBLAS_NUM_THREADS={threads}")
    mlp(repeat=3 if args.quick else 30)
    chain(repeat=1 if args.quick else 5)


if __name__ == "__main__":
    main()
