"""Peak memory of ``dualad.jacobian`` on the elementwise chain, against the Jacobian's own size.

    python benchmarks/memory.py                 # n = 4000 (target < 3x) and n = 20000 (target < 2x)
    python benchmarks/memory.py --sizes 4000    # one size
    python benchmarks/memory.py --json mem.json
    python benchmarks/memory.py --hessian       # hessian(lambda v: np.sum(v**3), x), n = 300 and 2000 (target <= 5x)

Each size runs in a fresh subprocess. The peak is measured twice: by
``tracemalloc`` (numpy reports its array buffers to it) over the jacobian call
alone, and by the process's peak resident set (``ru_maxrss``) above what it
held just before the call. Both figures include the returned Jacobian.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

TARGETS = {4000: 3.0, 20000: 2.0}
HESSIAN_TARGETS = {300: 5.0, 2000: 5.0}

_HESSIAN_CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
import dualad

def f(v):
    return np.sum(v ** 3)

n = {n}
x = np.linspace(-1.0, 1.0, n)
dualad.hessian(f, x[:8])          # import-time and first-call costs out of the way
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
t0 = time.perf_counter()
H = dualad.hessian(f, x)
seconds = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
assert np.allclose(H, np.diag(6.0 * x))
print(json.dumps({{"n": n, "jacobian_bytes": H.nbytes, "tracemalloc_peak": peak,
                  "rss_peak_increase": max(0, rss_after - rss_before), "seconds": seconds,
                  "chunk_size": dualad.forward.auto_hessian_chunk_size(n)}}))
"""

_CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
import dualad

def f(x):
    return np.cosh(np.log1p(np.exp(np.sin(x))))

n = {n}
x = np.linspace(-1.0, 1.0, n)
dualad.jacobian(f, x[:8])          # import-time and first-call costs out of the way
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
t0 = time.perf_counter()
J = dualad.jacobian(f, x)
seconds = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# spot-check the result: the chain's Jacobian is diagonal
e = np.exp(np.sin(x))
d = np.sinh(np.log1p(e)) / (1.0 + e) * e * np.cos(x)
assert J.shape == (n, n) and np.allclose(np.diag(J), d) and np.count_nonzero(J) <= n
print(json.dumps({{"n": n, "jacobian_bytes": J.nbytes, "tracemalloc_peak": peak,
                  "rss_peak_increase": rss_after - rss_before, "seconds": seconds,
                  "chunk_size": dualad.auto_chunk_size(n)}}))
"""


def measure(n: int, hessian: bool = False) -> dict:
    """Run one size in a fresh interpreter and return its figures."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
    child = _HESSIAN_CHILD if hessian else _CHILD
    out = subprocess.run([sys.executable, "-c", child.format(root=os.path.abspath(root), n=n)],
                         check=True, capture_output=True, text=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["tracemalloc_ratio"] = rec["tracemalloc_peak"] / rec["jacobian_bytes"]
    rec["rss_ratio"] = rec["rss_peak_increase"] / rec["jacobian_bytes"]
    rec["target_ratio"] = (HESSIAN_TARGETS if hessian else TARGETS).get(n)
    return rec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="4000,20000", help="comma-separated n (default 4000,20000)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--hessian", action="store_true",
                        help="measure dualad.hessian(lambda v: np.sum(v**3), x) instead (default sizes 300,2000)")
    args = parser.parse_args(argv)
    sizes = "300,2000" if args.hessian and args.sizes == "4000,20000" else args.sizes
    rows = [measure(int(s), args.hessian) for s in sizes.split(",")]
    what = "Hessian" if args.hessian else "dense J"
    print(f"| n | {what} | chunk | peak (tracemalloc) | peak RSS increase | time | target |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    failed = False
    for r in rows:
        target = r["target_ratio"]
        worst = max(r["tracemalloc_ratio"], r["rss_ratio"])
        verdict = "-" if target is None else (f"< {target:g}x: " + ("met" if worst < target else "NOT met"))
        failed |= target is not None and worst >= target
        print(f"| {r['n']} | {r['jacobian_bytes'] / 2**20:.0f} MiB | {r['chunk_size']} | "
              f"{r['tracemalloc_peak'] / 2**20:.0f} MiB ({r['tracemalloc_ratio']:.2f}x) | "
              f"{r['rss_peak_increase'] / 2**20:.0f} MiB ({r['rss_ratio']:.2f}x) | {r['seconds']:.1f} s | {verdict} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
