"""``python -m dualad``: a short demonstration; ``python -m dualad compare``: forward vs reverse cost.

Without a command it shows one Jacobian by forward mode, reverse mode and finite
differences. ``compare`` times the three methods over three families of problems
(see ``python -m dualad compare --help``).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import jacobian
from .checking import central_differences


def example(x):
    """A small vector function R^3 -> R^4 mixing elementwise ops, a product and a reduction."""
    return np.stack([
        np.sin(x[0]) * x[1],
        np.exp(x[1] - x[2]),
        x @ x,
        np.log1p(x[2] ** 2) / (1.0 + x[0] ** 2),
    ])


def demo(out=None) -> None:
    """Print the example's Jacobian by forward mode, checked against finite differences and reverse mode."""
    from . import tape

    out = sys.stdout if out is None else out
    x = np.array([0.5, -1.0, 2.0])
    with np.printoptions(precision=6, suppress=True):  # local: the demo also runs inside tests
        print("dualad demo: f(x) = [sin(x0) x1, exp(x1 - x2), x.x, log1p(x2^2) / (1 + x0^2)]", file=out)
        print(f"x = {x}\n", file=out)
        J = jacobian(example, x)
        print("Jacobian by forward mode (one pass, 3 tangent directions):", file=out)
        print(J, file=out)
        fd, _ = central_differences(example, x)
        print("\nmax |forward - central finite differences| =", f"{np.max(np.abs(J - fd)):.2e}", file=out)
        Jr = tape.jacobian(example, x)
        print("\nJacobian by reverse mode (dualad.tape: one recording, the 4 output rows swept back together):",
              file=out)
        print(Jr, file=out)
        print("max |forward - reverse| =", f"{np.max(np.abs(J - Jr)):.2e}", file=out)


COMPARE_HELP = """Measure forward mode, reverse mode and central finite differences over three families
of problems and print one table per family:
  gradient  f: R^n -> R     (extended Rosenbrock; reverse mode should win as n grows)
  square    F: R^n -> R^n   (Broyden tridiagonal residual)
  tall      c: R -> R^m     (a curve sampled at m points; forward mode should win)
Each cell is the median wall time of one Jacobian over --repeat runs. The crossover is the size where
forward and reverse mode trade places (interpolated on log-log axes)."""

DEFAULT_SIZES = (2, 8, 32, 128, 512, 2048)
QUICK_SIZES = (2, 8, 32)


def _sizes(text: str) -> list:
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return sizes


def _names(choices):
    def parse(text: str) -> list:
        names = [s for s in text.replace(" ", "").split(",") if s]
        bad = [s for s in names if s not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (comma-separated), got {text!r}")
        return names
    return parse


def run_compare(args, out=None) -> int:
    out = sys.stdout if out is None else out
    from . import cost

    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    repeat = args.repeat or (1 if args.quick else 3)
    methods = args.methods or list(cost.METHODS)
    progress = False if args.no_progress else None
    sweeps = []
    print(f"dualad compare: sizes {', '.join(map(str, sizes))}; median of {repeat} run(s) per cell",
          file=out, flush=True)
    for family in args.families or list(cost.FAMILIES):
        make_f, size_label, title = cost.FAMILIES[family]
        sweep = cost.scaling(make_f, sizes, name=title, size_label=size_label, methods=methods,
                             repeat=repeat, memory=False, progress=progress, chunk_size=args.chunk,
                             reverse_chunk_size=args.chunk)
        sweeps.append(sweep)
        print("\n" + str(sweep), file=out, flush=True)
    if "forward" in methods and "reverse" in methods:
        print("\nRule of thumb (forward mode carries n tangent directions, reverse mode m cotangent rows):",
              file=out)
        for sweep in sweeps:
            last = sweep.results[-1]
            cross = sweep.crossover()
            where = (" from " + sweep.size_label + " ~ " + ", ".join(f"{c:.0f}" for c in cross)) if cross else ""
            faster = "forward" if last["forward"].time_median < last["reverse"].time_median else "reverse"
            print(f"  {sweep.name}: {faster} mode is faster at {sweep.size_label} = {sweep.sizes[-1]}{where}",
                  file=out)
    if args.plot:
        plt = cost._pyplot()
        fig, axes = plt.subplots(1, len(sweeps), figsize=(4.6 * len(sweeps), 4.0), squeeze=False)
        for sweep, ax in zip(sweeps, axes[0]):
            sweep.plot(ax=ax)
        fig.suptitle("dualad: time per Jacobian, forward vs reverse mode vs finite differences", fontsize=11)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        plt.close(fig)
        print(f"\nfigure written to {args.plot}", file=out)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dualad", description=__doc__.replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{compare}")
    comp = commands.add_parser("compare", help="time forward vs reverse mode vs finite differences",
                               description=COMPARE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    comp.add_argument("--quick", action="store_true",
                      help=f"small sizes ({', '.join(map(str, QUICK_SIZES))}) and one run per cell, "
                           "for a fast check")
    comp.add_argument("--sizes", type=_sizes, metavar="N,N,...",
                      help=f"problem sizes to sweep (default {','.join(map(str, DEFAULT_SIZES))})")
    comp.add_argument("--repeat", type=int, metavar="R", help="timed runs per cell, median reported (default 3)")
    comp.add_argument("--families", type=_names(("gradient", "square", "tall")), metavar="F,...",
                      help="which families to run: gradient, square, tall (default all three)")
    comp.add_argument("--methods", type=_names(("forward", "reverse", "fd")), metavar="M,...",
                      help="which methods: forward, reverse, fd (default all three)")
    comp.add_argument("--chunk", type=int, metavar="K",
                      help="directions per pass in both modes (default: all at once while they fit in memory; "
                           "1 gives the textbook n forward passes and m backward sweeps)")
    comp.add_argument("--plot", metavar="FILE.png", help="also write the time-vs-size figure (needs matplotlib)")
    comp.add_argument("--no-progress", action="store_true", help="never show the progress bar on stderr")
    args = parser.parse_args(argv)
    if args.command == "compare":
        if args.repeat is not None and args.repeat < 1:
            parser.error("--repeat must be at least 1")
        if args.chunk is not None and args.chunk < 1:
            parser.error("--chunk must be at least 1")
        if args.plot:  # before the sweep, not after minutes of it
            import os
            folder = os.path.dirname(os.path.abspath(args.plot))
            if not os.path.isdir(folder):
                parser.error(f"--plot {args.plot}: the folder {folder} does not exist; remedy: create it first "
                             "or pick another path")
            if not os.access(folder, os.W_OK):
                parser.error(f"--plot {args.plot}: the folder {folder} is not writable; remedy: pick another path")
            try:
                from . import cost
                cost._pyplot()
            except Exception as err:  # matplotlib missing: say so now
                parser.error(f"--plot needs matplotlib ({err}); remedy: pip install matplotlib, or leave --plot out")
        return run_compare(args)
    demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
