"""What NaN-safe propagation costs: an elementwise chain with and without the 0 * inf check.

    python benchmarks/nan_safety.py              # jacobian n = 500, 1000, 2000 and jvp n = 10**6
    python benchmarks/nan_safety.py --quick      # smaller sizes, fewer repeats

Forward mode multiplies each local partial into the tangent (``dispatch._scale``)
and first asks whether the partial is all finite (``dispatch._all_finite``, one
pass over the *value*, not over the n x k tangent); only if it is not does it
replace ``0 * inf`` by 0 with an ``np.where``. Reverse mode (``tape.graph``)
checks the product instead (one pass over the n x k cotangent contribution).
"unchecked" monkeypatches the check to always say "finite", which is what an
engine without NaN safety does. A third forward variant, "symmetric", also
zeroes an infinite *tangent* meeting a zero partial (what reverse mode does for
an infinite cotangent), so both modes would agree on compositions such as
``sqrt(x) ** 2`` at 0; it needs a pass over the n x k product.

Times are the minimum over interleaved repeats (the machine may be shared).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import dualad  # noqa: E402
from dualad import dispatch, tape  # noqa: E402
from dualad.tape import graph  # noqa: E402


def chain(x):
    """Ten elementwise operations, all smooth at the benchmark points (no inf partial anywhere)."""
    y = np.sin(x) * x
    y = np.exp(-y * y) + np.tanh(y)
    y = np.sqrt(y * y + 1.0) * np.log1p(y * y)
    return np.cos(y) / (1.0 + y * y)


def kinked(x):
    """The same chain behind np.where(x > 0, sqrt(x), 0): inf partials at the zeros of x."""
    return chain(np.where(x > 0, np.sqrt(np.abs(x)), 0.0))


def _symmetric_scale(partial, tangent, batched):
    if batched and dispatch._ndim(partial) > 0:
        partial = partial[..., None]
    with np.errstate(invalid="ignore"):
        c = partial * tangent
    if not dispatch._all_finite(c):
        c = np.where((tangent == 0) | (partial == 0), 0.0, c)
    return c


def _variants():
    original_all_finite = dispatch._all_finite
    original_graph_all_finite = graph._all_finite
    original_scale = dispatch._scale

    def checked():
        dispatch._all_finite, graph._all_finite, dispatch._scale = (original_all_finite, original_graph_all_finite,
                                                                    original_scale)

    def unchecked():
        checked()
        dispatch._all_finite = graph._all_finite = lambda p: True

    def symmetric():
        checked()
        dispatch._scale = _symmetric_scale

    return {"checked": checked, "unchecked": unchecked, "symmetric": symmetric}


def _time(call, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(label, make_call, variants, repeat, rounds=3):
    """Interleave the variants ``rounds`` times; keep each one's best time."""
    set_variant = _variants()
    best = {v: float("inf") for v in variants}
    for _ in range(rounds):
        for v in variants:
            set_variant[v]()
            best[v] = min(best[v], _time(make_call(), repeat))
    set_variant["checked"]()
    base = best["unchecked"]
    cells = "  ".join(f"{v} {best[v] * 1e3:8.2f} ms ({(best[v] / base - 1) * 100:+5.1f}%)" for v in variants)
    print(f"{label:42s} {cells}")
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # sqrt(0), and inf * 0 in the unchecked variant
    sizes = (300, 600) if args.quick else (500, 1000, 2000)
    repeat = 2 if args.quick else 5
    big = 10 ** 5 if args.quick else 10 ** 6
    print(f"numpy {np.__version__}, {os.cpu_count()} cpus; times are the best of {3 * repeat} "
          "(percentages against 'unchecked')")
    fwd = ("unchecked", "checked", "symmetric")
    rev = ("unchecked", "checked")
    for n in sizes:
        x = np.linspace(0.1, 2.0, n)
        measure(f"forward jacobian, chain, n={n}", lambda: (lambda: dualad.jacobian(chain, x)), fwd, repeat)
    for n in sizes:
        x = np.linspace(0.1, 2.0, n)
        measure(f"reverse jacobian, chain, n={n}", lambda: (lambda: tape.jacobian(chain, x)), rev, repeat)
    n = sizes[-1]
    xk = np.linspace(-1.0, 2.0, n)
    xk[::10] = 0.0  # every tenth entry at the kink: the np.where replacement runs
    measure(f"forward jacobian, where-sqrt, n={n}", lambda: (lambda: dualad.jacobian(kinked, xk)), fwd, repeat)
    measure(f"reverse jacobian, where-sqrt, n={n}", lambda: (lambda: tape.jacobian(kinked, xk)), rev, repeat)
    xb = np.linspace(0.1, 2.0, big)
    vb = np.ones(big)
    measure(f"forward jvp, chain, n={big}", lambda: (lambda: dualad.jvp(chain, xb, vb)), fwd, repeat)
    measure(f"reverse grad, sum(chain), n={big}", lambda: (lambda: tape.grad(lambda v: np.sum(chain(v)), xb)),
            rev, repeat)


if __name__ == "__main__":
    main()
