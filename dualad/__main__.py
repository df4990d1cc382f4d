"""``python -m dualad``: a short demonstration (see ``--help``)."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import jacobian


def example(x):
    """A small vector function R^3 -> R^4 mixing elementwise ops, a product and a reduction."""
    return np.stack([
        np.sin(x[0]) * x[1],
        np.exp(x[1] - x[2]),
        x @ x,
        np.log1p(x[2] ** 2) / (1.0 + x[0] ** 2),
    ])


def central_differences(f, x, rel_step=1e-6):
    x = np.asarray(x, dtype=float)
    columns = []
    for i in range(x.size):
        h = rel_step * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        columns.append((np.asarray(f(up)) - np.asarray(f(down))) / (2 * h))
    return np.stack(columns, axis=-1)


def demo(out=sys.stdout) -> None:
    x = np.array([0.5, -1.0, 2.0])
    np.set_printoptions(precision=6, suppress=True)
    print("dualad demo: f(x) = [sin(x0) x1, exp(x1 - x2), x.x, log1p(x2^2) / (1 + x0^2)]", file=out)
    print(f"x = {x}\n", file=out)
    J = jacobian(example, x)
    print("Jacobian by forward mode (one pass, 3 tangent directions):", file=out)
    print(J, file=out)
    fd = central_differences(example, x)
    print("\nmax |forward - central finite differences| =", f"{np.max(np.abs(J - fd)):.2e}", file=out)
    try:
        from . import tape
    except ImportError:
        return
    Jr = tape.jacobian(example, x)
    print("Jacobian by reverse mode (dualad.tape, one sweep per output):", file=out)
    print(Jr, file=out)
    print("max |forward - reverse| =", f"{np.max(np.abs(J - Jr)):.2e}", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dualad", description=__doc__)
    parser.parse_args(argv)
    demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
