"""Cost of the argnums/container layer on the single-array path: public value form vs the core it wraps.

A/B interleaved in one process (core, wrapper, core, wrapper, ...), 200 batches of 20 calls each,
minimum per side (medians shown too), so machine noise hits both sides alike. Run: ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python
benchmarks/api_overhead.py``.
"""
from __future__ import annotations

import statistics
import timeit

import numpy as np

import dualad
from dualad import forward, tape
from dualad.tape import api


def chain(x):
    return np.exp(np.sin(x) * np.cos(x)) + x ** 2


def loss(x):
    return np.sum(np.tanh(x) ** 2)


def lorenz96(x):
    """Scalar-style code returning a list of scalar Duals (the core stacks it)."""
    n = len(x)
    return [(x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + 8.0 for i in range(n)]


GRAD_LOSS = dualad.grad(loss)  # a transform is made once and called many times
x40 = np.linspace(0.1, 1.0, 40)
x10 = np.linspace(0.1, 1.0, 10)
x100 = np.linspace(0.1, 1.0, 100)
CASES = [
    ("jacobian chain n=10", lambda: forward.jacobian(chain, x10), lambda: dualad.jacobian(chain, x10)),
    ("jacobian chain n=100", lambda: forward.jacobian(chain, x100), lambda: dualad.jacobian(chain, x100)),
    ("jvp chain n=10", lambda: forward.jvp(chain, x10, x10), lambda: dualad.jvp(chain, x10, x10)),
    ("gradient n=10", lambda: forward.gradient(loss, x10), lambda: dualad.gradient(loss, x10)),
    ("tape.grad n=100", lambda: api.grad(loss, x100), lambda: tape.grad(loss, x100)),
    ("tape.jacobian n=10", lambda: api.jacobian(chain, x10), lambda: tape.jacobian(chain, x10)),
    ("transform grad n=100", lambda: api.grad(loss, x100), lambda: GRAD_LOSS(x100)),
    ("jacobian list n=40", lambda: forward.jacobian(lorenz96, x40), lambda: dualad.jacobian(lorenz96, x40)),
]


def main(rounds: int = 200, number: int = 20) -> None:
    # many short alternating batches, the minimum of each side: on a loaded machine the minimum is
    # the one statistic that both sides reach alike (the median wanders with the load)
    print(f"{'case':24s} {'core':>9s} {'public':>9s} {'diff':>8s}")
    for name, core, public in CASES:
        a, b = [], []
        for _ in range(rounds):
            a.append(timeit.timeit(core, number=number) / number)
            b.append(timeit.timeit(public, number=number) / number)
        ca, cb = min(a), min(b)
        print(f"{name:24s} {ca * 1e6:8.2f}us {cb * 1e6:8.2f}us {(cb - ca) * 1e9:+7.0f}ns"
              f"   (medians {statistics.median(a) * 1e6:.1f} / {statistics.median(b) * 1e6:.1f} us)")


def tree_vs_flat(rounds: int = 100, number: int = 20) -> None:
    """A dict of parameters against the same parameters packed by hand into one vector (MLP loss)."""
    rng = np.random.default_rng(0)
    D, M, C, N = 3, 16, 3, 32
    x, y = rng.normal(size=(N, D)), np.eye(C)[rng.integers(0, C, N)]
    params = {"V": rng.normal(size=(M, D)), "W": rng.normal(size=(C, M))}
    theta = np.concatenate([params["V"].ravel(), params["W"].ravel()])

    def loss(p, x, y):
        u = np.tanh(x @ p["V"].T) @ p["W"].T
        return -np.sum(y * (u - np.log(np.sum(np.exp(u), axis=1, keepdims=True)))) / x.shape[0]

    def flat_loss(t):
        return loss({"V": t[:M * D].reshape(M, D), "W": t[M * D:].reshape(C, M)}, x, y)

    grad = dualad.grad(loss)
    rows = [("tape.grad, dict", lambda: tape.grad(loss, params, x, y), lambda: tape.grad(flat_loss, theta)),
            ("dualad.grad(f), dict", lambda: grad(params, x, y), lambda: tape.grad(flat_loss, theta)),
            ("dualad.gradient, dict", lambda: dualad.gradient(loss, params, x, y),
             lambda: dualad.gradient(flat_loss, theta))]
    print("\ncontainer vs the flat vector unpacked by hand (MLP, 96 parameters, batch 32)")
    print(f"{'case':24s} {'dict':>9s} {'flat':>9s}")
    for name, tree, flat in rows:
        a, b = [], []
        for _ in range(rounds):
            a.append(timeit.timeit(tree, number=number) / number)
            b.append(timeit.timeit(flat, number=number) / number)
        print(f"{name:24s} {min(a) * 1e6:8.1f}us {min(b) * 1e6:8.1f}us   (ratio {min(a) / min(b):.3f})")


def layer_only(number: int = 200_000) -> None:
    """The layer's own cost, exactly: the public functions over a core that returns at once."""
    def stub(f, x, *rest, **options):
        return x
    x = np.ones(3)
    saved = forward.jacobian, api.grad
    try:
        forward.jacobian = api.grad = stub
        grad_f = dualad.grad(loss)
        rows = [("dualad.jacobian(f, x)", lambda: stub(chain, x), lambda: dualad.jacobian(chain, x)),
                ("tape.grad(f, x)", lambda: stub(loss, x), lambda: tape.grad(loss, x)),
                ("dualad.grad(f)(x)", lambda: stub(loss, x), lambda: grad_f(x))]
        print("\nlayer cost over a no-op core (min of 5 x %d calls)" % number)
        for name, core, public in rows:
            ca = min(timeit.repeat(core, number=number, repeat=5)) / number
            cb = min(timeit.repeat(public, number=number, repeat=5)) / number
            print(f"{name:24s} {(cb - ca) * 1e9:+7.0f}ns")
    finally:
        forward.jacobian, api.grad = saved


if __name__ == "__main__":
    main()
    tree_vs_flat()
    layer_only()
