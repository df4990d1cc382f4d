"""JAX parity sweep: which numpy/numpy.linalg callables (and binary ufunc methods) JAX differentiates,
and whether dualad does too, on the call patterns of tests/test_coverage.py.

For every callable and pattern where numpy's own call works, JAX's namesake (jax.numpy, jax.numpy.linalg,
jnp.<ufunc>.<method>) is differentiated with ``jax.jacfwd`` (float64) and compared with central
differences of numpy; dualad's verdict is test_coverage's ``classify`` (forward mode). A callable counts
as differentiated when some pattern gives a nonzero derivative that matches the differences.

    OPENBLAS_NUM_THREADS=1 python benchmarks/jax_parity.py [--mode forward|reverse] [--list]

Prints the counts and, with ``--list``, the names JAX differentiates and dualad does not (and back).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))

import test_coverage as tc  # noqa: E402
from cases import central_jacobian  # noqa: E402


def jax_namesake(name: str, jnp):
    parts = name.split(".")[1:]  # drop "np"
    obj = jnp
    for p in parts:
        obj = getattr(obj, p, None)
        if obj is None:
            return None
    return obj


def jax_verdict(name, func, jfunc, pattern, jax):
    _, point, make_args = pattern
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            plain = func(*make_args(point.copy()))
        except Exception:
            return "n/a"
        if tc._object_array(plain) or not list(tc._numeric_leaves(plain)):
            return "n/a"
        if not np.all(np.isfinite(tc._flat(plain))):
            return "n/a"
        try:
            fd = central_jacobian(lambda x: tc._flat(func(*make_args(x))), point.copy())
        except Exception:
            return "nonsmooth"
        if not np.any(np.abs(fd) > 1e-8):
            return "independent"

        def g(x):
            leaves = [jax.numpy.ravel(jax.numpy.asarray(v, dtype=float)) for v in
                      jax.tree_util.tree_leaves(jfunc(*make_args(x)))]
            return jax.numpy.concatenate(leaves) if leaves else jax.numpy.zeros(0)
        try:
            J = np.asarray(jax.jacfwd(g)(jax.numpy.asarray(point)))
        except Exception:
            return "fails"
        J = J.reshape(fd.shape) if J.size == fd.size else None
        if J is None or not np.allclose(J, fd, rtol=1e-5, atol=1e-6):
            return "wrong"
        return "supported"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="forward", choices=("forward", "reverse"))
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    jnp = jax.numpy
    both, jax_only, dualad_only, jax_wrong, jax_total, dualad_total, compared = [], [], [], [], 0, 0, 0
    for name, func in tc.callables():
        jfunc = jax_namesake(name, jnp)
        if jfunc is None:
            continue
        compared += 1
        ours = {tc.classify(name, func, p, args.mode)[0] for p in tc.PATTERNS}
        theirs = {jax_verdict(name, func, jfunc, p, jax) for p in tc.PATTERNS}
        we, they = "supported" in ours, "supported" in theirs
        jax_total += they
        dualad_total += we
        if "wrong" in theirs and not they:
            jax_wrong.append(name)
        (both if we and they else jax_only if they else dualad_only if we else []).append(name)
    print(f"callables with a JAX namesake: {compared}")
    print(f"differentiated (nonzero derivative = central differences on some pattern): "
          f"JAX {jax_total}, dualad ({args.mode}) {dualad_total}, both {len(both)}")
    print(f"JAX only: {len(jax_only)}; dualad only: {len(dualad_only)}; JAX's derivative differs: {len(jax_wrong)}")
    if args.list:
        print("JAX only:", " ".join(jax_only))
        print("dualad only:", " ".join(dualad_only))
        print("JAX differs from differences:", " ".join(jax_wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main())
