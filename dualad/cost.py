"""What a Jacobian costs by forward mode, reverse mode and finite differences, measured.

:func:`compare` differentiates one function at one point by the three methods
and reports, per method, the passes made, the primitive operations executed,
the peak extra memory, the wall time and how far its Jacobian lies from the
other two. :func:`scaling` repeats that over a family of problems of growing
size and plots time against size, showing where forward and reverse mode cross.

The cost model it makes visible, for ``f: R^n -> R^m`` whose one evaluation runs
``N`` primitive numpy operations with ``S`` output elements in all (both read off
one recording of ``f`` on the tape), a forward chunk of ``k`` tangent directions
and a reverse chunk of ``r`` cotangent rows:

===================  ===================  =======================  ==============
method               passes               primitive operations     work
===================  ===================  =======================  ==============
forward mode         ceil(n/k)            N per pass               S (passes + n)
reverse mode         ceil(m/r) sweeps     N recorded, then the     S (1 + m)
                                          nodes with a recorded
                                          input once per sweep
central differences  2n evaluations       N per evaluation         S 2n
forward differences  n + 1 evaluations    N per evaluation         S (n + 1)
===================  ===================  =======================  ==============

"Work" counts elements times the directions each operation carries: a value
costs ``S`` per pass or evaluation, each tangent column or cotangent row ``S``
more (contractions such as ``matmul`` are counted by their output, so it is a
proxy for flops, not a flop count). With ``k = r = 1`` (the textbook) forward
mode makes n passes and reverse mode m sweeps; by default both engines carry
every direction in one pass while it fits in memory, so the passes hide the
difference and the work shows it: a gradient (m = 1) costs forward mode
``S (1 + n)`` and reverse mode ``2 S``.

>>> import numpy as np
>>> from dualad.cost import compare
>>> report = compare(lambda x: np.sum(np.sin(x) * x), np.linspace(0, 1, 50), repeat=1)
>>> [row["passes"] for row in report.rows]      # forward, reverse, central differences
[1, 1, 100]
"""
from __future__ import annotations

import html
import math
import os
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .errors import InputError, OptionError, OutputError, describe
from .forward import as_input, auto_chunk_size
from .forward import jacobian as forward_jacobian

__all__ = ["compare", "scaling", "Comparison", "Scaling", "MethodCost", "FAMILIES",
           "gradient_problem", "square_problem", "tall_problem", "finite_difference_jacobian"]

METHODS = ("forward", "reverse", "fd")

# tracemalloc is process-wide: this lock keeps two threads' memory measurements from
# resetting each other's peak.
_TRACE_LOCK = threading.Lock()
# ... and CPython 3.11's tracemalloc.start()/stop() race with allocations made at the same time by
# another thread (a segfault seen in tests/test_cost.py with two threads comparing at once). So
# every compare() holds this lock for its whole run: two threads' comparisons take turns, and no
# other comparison allocates while one starts or stops tracing. (It also keeps their timings apart.)
# Re-entrant: a compare() inside f's own compare() on the same thread still works.
_COMPARE_LOCK = threading.RLock()


# ----------------------------------------------------------------------------- results
@dataclass
class MethodCost:
    """The measured cost of one method on one problem (one row of a :class:`Comparison`)."""

    method: str                 # "forward", "reverse" or "fd"
    label: str                  # "forward mode", "reverse mode", "central differences", ...
    passes: int                 # forward: ceil(n/k) passes; reverse: ceil(m/r) sweeps; fd: evaluations of f
    passes_formula: str         # how ``passes`` follows from n, m and the chunk, e.g. "ceil(10/3) = 4"
    ops: int | None             # primitive numpy operations executed (see the module docstring)
    work: int | None            # elements x directions those operations touched (see the module docstring)
    peak_bytes: int | None      # tracemalloc peak of the call minus that of one plain f(x)
    times: list = field(default_factory=list)  # wall times of the repeats, seconds
    max_diff: float = math.nan  # largest |J - J_other| over the other methods
    tape_bytes: int | None = None  # reverse mode only: bytes the recorded tape holds
    jacobian: Any = field(default=None, repr=False)

    @property
    def time_median(self) -> float:
        return float(np.median(self.times))

    @property
    def time_min(self) -> float:
        return float(np.min(self.times))

    @property
    def time_max(self) -> float:
        return float(np.max(self.times))

    def row(self) -> dict:
        return {"method": self.method, "label": self.label, "passes": self.passes,
                "passes_formula": self.passes_formula, "ops": self.ops, "work": self.work,
                "peak_bytes": self.peak_bytes, "tape_bytes": self.tape_bytes, "time_median_s": self.time_median,
                "time_min_s": self.time_min, "time_max_s": self.time_max, "repeats": len(self.times),
                "max_diff": self.max_diff}


def _fmt_time(t: float) -> str:
    if not math.isfinite(t):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if t >= scale:
            return f"{t / scale:.3g} {unit}"
    return f"{t / 1e-9:.3g} ns"


def _fmt_bytes(b) -> str:
    if b is None:
        return "-"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(b) >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b} B"


def _fmt_int(v) -> str:
    return "-" if v is None else f"{v:,}"


def _table(header: Sequence[str], body: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in body])


def _html_table(header, body, caption="") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


_COST_HEADER = ("method", "passes", "prim. ops", "work", "peak mem", "time median", "[min, max]", "max diff")


@dataclass
class Comparison:
    """The result of :func:`compare`: one :class:`MethodCost` per method.

    ``str()`` is a table; ``rows`` (a list of dicts) and ``to_dict()`` (columns)
    load straight into ``pandas.DataFrame``.
    """

    n: int                      # input size
    m: int                      # output size
    chunk: int                  # forward-mode directions per pass
    reverse_chunk: int | None   # reverse-mode cotangent rows per backward sweep
    nodes: int | None           # primitive operations in one evaluation of f (tape nodes)
    methods: list
    name: str = ""

    def __getitem__(self, method: str) -> MethodCost:
        for c in self.methods:
            if c.method == method:
                return c
        raise KeyError(f"no method {method!r} in this comparison; have {[c.method for c in self.methods]}")

    @property
    def rows(self) -> list:
        return [{"name": self.name, "n": self.n, "m": self.m, **c.row()} for c in self.methods]

    def to_dict(self) -> dict:
        """Column name -> list of values, one entry per method (``pandas.DataFrame(r.to_dict())``)."""
        rows = self.rows
        return {key: [r[key] for r in rows] for key in rows[0]} if rows else {}

    @property
    def fastest(self) -> str:
        """The method with the smallest median time."""
        return min(self.methods, key=lambda c: c.time_median).method

    def _body(self):
        return [[c.label, f"{c.passes_formula}", _fmt_int(c.ops), _fmt_int(c.work), _fmt_bytes(c.peak_bytes),
                 _fmt_time(c.time_median), f"[{_fmt_time(c.time_min)}, {_fmt_time(c.time_max)}]",
                 f"{c.max_diff:.1e}"] for c in self.methods]

    def _caption(self) -> str:
        title = f"{self.name}: " if self.name else ""
        nodes = f"; {self.nodes} primitive ops per evaluation of f" if self.nodes is not None else ""
        tape = ""
        if "reverse" in [c.method for c in self.methods] and self["reverse"].tape_bytes is not None:
            tape = f"; the tape holds {_fmt_bytes(self['reverse'].tape_bytes)}"
        return f"{title}f: R^{self.n} -> R^{self.m}{nodes}{tape}"

    def __str__(self) -> str:
        return self._caption() + "\n" + _table(_COST_HEADER, self._body(), [False] + [True] * 7)

    def _repr_html_(self) -> str:
        return _html_table(_COST_HEADER, self._body(), self._caption())

    __repr__ = __str__


# ----------------------------------------------------------------------------- measuring
def _real_output(y) -> np.ndarray:
    """``y`` as a float array; None (nan), complex (imaginary part lost), strings, ragged lists raise."""
    try:
        arr = np.asarray(y) if isinstance(y, (np.ndarray, np.generic, int, float, list, tuple)) else None
    except ValueError:
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise OutputError(f"the function returned {describe(y)}, which is not an array of real numbers; "
                          "remedy: return a float, an array of floats, or a list of equally shaped ones")
    return arr.astype(float)


def finite_difference_jacobian(f: Callable, x: Any, kind: str = "central"):
    """``(J, evaluations)``: the Jacobian of ``f`` at ``x`` by finite differences.

    ``kind="central"`` makes 2n evaluations with step ``eps**(1/3) * max(1, |x_i|)``;
    ``kind="forward"`` makes n + 1 with step ``eps**(1/2) * max(1, |x_i|)``.
    Shapes follow :func:`dualad.jacobian`: ``f(x).shape + x.shape``.

    >>> import numpy as np
    >>> J, evals = finite_difference_jacobian(np.sin, np.zeros(3))
    >>> np.allclose(J, np.eye(3)), evals
    (True, 6)
    """
    if kind not in ("central", "forward"):
        raise OptionError(f"kind must be 'central' or 'forward', got {kind!r}; remedy: pass one of those")
    x = np.array(as_input(x), dtype=float)  # validated: None, complex, strings raise InputError
    flat = x.reshape(-1)
    eps = np.finfo(x.dtype).eps
    scale = np.maximum(1.0, np.abs(flat))
    h = (eps ** (1 / 3) if kind == "central" else eps ** 0.5) * scale
    h = (flat + h) - flat  # a step that is exactly representable next to x_i
    evals = 0

    def call(v):
        nonlocal evals
        evals += 1
        return _real_output(f(v.reshape(x.shape).copy()))  # f may change its input: each call gets a copy

    base = call(flat) if kind == "forward" else None
    columns = None
    for i in range(flat.size):
        up = flat.copy()
        up[i] += h[i]
        if kind == "central":
            down = flat.copy()
            down[i] -= h[i]
            col = (call(up) - call(down)) / (2 * h[i])
        else:
            col = (call(up) - base) / h[i]
        if columns is None:
            columns = np.empty(col.shape + (flat.size,))
        columns[..., i] = col
    if columns is None:  # x has no entries
        columns = np.zeros(np.shape(f(x)) + (0,))
    return columns.reshape(columns.shape[:-1] + x.shape), evals


def _traced_peak(call: Callable) -> int:
    """Bytes allocated at the peak of ``call()`` above what was allocated before it."""
    with _TRACE_LOCK:
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = call()
            peak = tracemalloc.get_traced_memory()[1] - before
            del result
        finally:
            if started:
                tracemalloc.stop()
    return int(peak)


def _timed(call: Callable, repeat: int) -> list:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def _tape():
    try:
        from . import tape
    except ImportError as err:  # the reverse-mode module is optional at import time
        raise ImportError("reverse mode needs dualad.tape, which could not be imported "
                          f"({err}); remedy: pass methods=('forward', 'fd')") from None
    return tape


@dataclass
class _Recording:
    """What one evaluation of f does, read off its tape."""

    ops: int        # primitive numpy operations (tape nodes other than the input)
    backward: int   # nodes a backward sweep visits (operations with a recorded input)
    elements: int   # output elements summed over the operations: the work of one plain evaluation
    nbytes: int     # bytes the tape holds
    auto_chunk: int  # cotangent rows per sweep that tape.jacobian(chunk_size=None) picks


def _record(f: Callable, x, m: int) -> _Recording:
    from .tape.api import auto_chunk  # the tape's own rule, so the pass count cannot drift from it
    recorded = _tape().record(f, x)
    ops = [node for node in recorded.nodes if node.func is not None]
    elements = sum(int(np.prod(node.shape)) for node in ops if not isinstance(node.value, tuple))
    return _Recording(len(ops), sum(1 for node in ops if node.inputs), elements, recorded.nbytes,
                      auto_chunk(recorded, m, 8))


def compare(f: Callable, x: Any, *, methods: Iterable[str] = METHODS, chunk_size: int | None = None,
            reverse_chunk_size: int | None = None, fd: str = "central", repeat: int = 5,
            memory: bool = True, name: str = "") -> Comparison:
    """Differentiate ``f`` at ``x`` by forward mode, reverse mode and finite differences, and
    measure each: passes, primitive operations, work, peak extra memory, wall time, agreement.

    ``methods`` picks a subset of ``("forward", "reverse", "fd")``. ``chunk_size`` goes to
    :func:`dualad.jacobian` (tangent directions per forward pass) and ``reverse_chunk_size``
    to :func:`dualad.tape.jacobian` (cotangent rows per backward sweep); ``None`` is each
    engine's automatic choice (all directions at once while they fit in memory), ``1`` the
    textbook one direction per pass, making n forward passes and m backward sweeps. ``fd``
    is ``"central"`` (2n evaluations) or ``"forward"`` (n + 1).

    Each method runs once untimed (its Jacobian is kept for the agreement column), then
    ``repeat`` timed times: the median, min and max are reported. ``memory=True`` runs
    each once more under :mod:`tracemalloc` (untimed) and reports its peak minus the peak
    of one plain ``f(x)``; the Jacobian itself (m n floats) counts for every method.

    Operation counts come from one recording of ``f`` on the tape (see the module
    docstring for the formulas): ``ops`` counts primitive numpy calls, ``work`` their
    output elements times the directions each carries.

    >>> import numpy as np
    >>> r = compare(lambda x: np.sin(x) * x[0], np.ones(3), reverse_chunk_size=1, repeat=1)
    >>> r["forward"].passes, r["reverse"].passes, r["fd"].passes
    (1, 3, 6)
    >>> r["forward"].max_diff < 1e-8
    True

    Calls from several threads run one at a time (tracemalloc is process-wide; see
    ``_COMPARE_LOCK``). Other threads of yours that allocate while a comparison with
    ``memory=True`` starts or stops tracing are outside its control on CPython 3.11:
    pass ``memory=False`` there.
    """
    with _COMPARE_LOCK:
        return _compare(f, x, methods=methods, chunk_size=chunk_size, reverse_chunk_size=reverse_chunk_size,
                        fd=fd, repeat=repeat, memory=memory, name=name)


def _compare(f, x, *, methods, chunk_size, reverse_chunk_size, fd, repeat, memory, name) -> Comparison:
    methods = tuple(methods)
    for meth in methods:
        if meth not in METHODS:
            raise OptionError(f"unknown method {meth!r}; remedy: choose from {METHODS}")
    if fd not in ("central", "forward"):
        raise OptionError(f"fd must be 'central' or 'forward', got {fd!r}; remedy: pass one of those")
    if isinstance(repeat, (bool, np.bool_)) or not isinstance(repeat, (int, np.integer)) or repeat < 1:
        raise OptionError(f"repeat must be a positive int, got {repeat!r}; remedy: pass e.g. repeat=5")
    repeat = int(repeat)
    for label, k in (("chunk_size", chunk_size), ("reverse_chunk_size", reverse_chunk_size)):
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise OptionError(f"{label} must be a positive int or None, got {k!r}; remedy: pass e.g. 1, or None")
    x = np.array(as_input(x), dtype=float)
    n = x.size
    m = int(np.size(_real_output(f(x.copy()))))
    chunk = auto_chunk_size(n) if chunk_size is None else int(chunk_size)

    rec, rchunk = None, None
    if "reverse" in methods:
        rec = _record(f, x.copy(), m)
    elif _tape_available():
        try:  # only to count operations: a function the tape cannot record still gets compared
            rec = _record(f, x.copy(), m)
        except Exception:  # noqa: BLE001
            rec = None
    if rec is not None:
        rchunk = reverse_chunk_size or rec.auto_chunk
    baseline = _traced_peak(lambda: f(x.copy())) if memory else 0

    results = []
    for meth in methods:
        extra = None
        if meth == "forward":
            call = lambda: forward_jacobian(f, x, chunk_size=chunk_size)  # noqa: E731
            passes = max(1, math.ceil(n / chunk))
            formula = f"ceil({n}/{chunk}) = {passes}"
            ops = rec and rec.ops * passes
            work = rec and rec.elements * (passes + n)  # values once per pass, n tangent columns in all
            label = "forward mode"
        elif meth == "reverse":
            tape = _tape()
            call = lambda: tape.jacobian(f, x, chunk_size=reverse_chunk_size)  # noqa: E731
            passes = max(1, math.ceil(m / rchunk))
            formula = f"ceil({m}/{rchunk}) = {passes}"
            ops = rec.ops + passes * rec.backward
            work = rec.elements * (1 + m)  # record once, m cotangent rows in all
            label, extra = "reverse mode", rec.nbytes
        else:
            call = lambda: finite_difference_jacobian(f, x, fd)[0]  # noqa: E731
            passes = 2 * n if fd == "central" else n + 1
            formula = f"2*{n} = {passes}" if fd == "central" else f"{n}+1 = {passes}"
            ops = rec and rec.ops * passes
            work = rec and rec.elements * passes
            label = f"{fd} differences"
        J = np.asarray(call(), dtype=float)
        times = _timed(call, repeat)
        peak = max(0, _traced_peak(call) - baseline) if memory else None
        results.append(MethodCost(meth, label, passes, formula, ops, work, peak, times, math.nan, extra, J))

    for c in results:
        others = [o.jacobian for o in results if o is not c]
        diffs = [float(np.max(np.abs(c.jacobian - o))) if o.size else 0.0 for o in others]
        c.max_diff = max(diffs) if diffs else 0.0
    return Comparison(n, m, chunk, rchunk, rec and rec.ops, results, name)


def _tape_available() -> bool:
    try:
        _tape()
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- problem families
def gradient_problem(n: int) -> tuple:
    """``(f, x)`` with ``f: R^n -> R``, the extended Rosenbrock function (a gradient problem).

    >>> f, x = gradient_problem(4)
    >>> x.shape, float(f(np.ones(4)))
    ((4,), 0.0)
    """
    def rosenbrock(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    return rosenbrock, np.linspace(-1.2, 1.0, n)


def square_problem(n: int) -> tuple:
    """``(F, x)`` with ``F: R^n -> R^n``, the Broyden tridiagonal residual (a square Jacobian).

    >>> F, x = square_problem(5)
    >>> F(x).shape
    (5,)
    """
    def broyden(x):
        left = np.concatenate([np.zeros(1), x[:-1]])
        right = np.concatenate([x[1:], np.zeros(1)])
        return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0
    return broyden, np.linspace(-1.0, -0.5, n)


def tall_problem(m: int) -> tuple:
    """``(c, t)`` with ``c: R -> R^m``, a damped oscillation sampled at m frequencies (a curve).

    >>> c, t = tall_problem(3)
    >>> t.shape, c(t).shape
    ((), (3,))
    """
    w = np.linspace(1.0, 3.0, m)

    def curve(t):
        return np.sin(w * t) * np.exp(-0.1 * w * t) + t ** 2 / w
    return curve, np.array(0.7)


#: The built-in sweep of ``python -m dualad compare``: name -> (make_f, which size varies).
FAMILIES = {
    "gradient": (gradient_problem, "n", "f: R^n -> R (gradient)"),
    "square": (square_problem, "n", "F: R^n -> R^n (square Jacobian)"),
    "tall": (tall_problem, "m", "c: R -> R^m (tangent of a curve)"),
}


# ----------------------------------------------------------------------------- scaling
@dataclass
class Scaling:
    """The result of :func:`scaling`: one :class:`Comparison` per size."""

    sizes: list
    results: list
    name: str = ""
    size_label: str = "size"

    @property
    def methods(self) -> list:
        return [c.method for c in self.results[0].methods] if self.results else []

    @property
    def rows(self) -> list:
        return [{"family": self.name, "size": s, **row}
                for s, r in zip(self.sizes, self.results) for row in r.rows]

    def to_dict(self) -> dict:
        """Column name -> list of values, one entry per (size, method)."""
        rows = self.rows
        return {key: [r[key] for r in rows] for key in rows[0]} if rows else {}

    def times(self, method: str, stat: str = "median") -> np.ndarray:
        """Wall times of ``method`` over the sizes (``stat``: median, min or max)."""
        return np.array([getattr(r[method], f"time_{stat}") for r in self.results])

    def crossover(self, a: str = "forward", b: str = "reverse", tie: float = 0.15):
        """Sizes where ``a`` and ``b`` trade places as the faster, interpolated on log-log axes.

        Times within a factor ``1 + tie`` of each other count as a tie, not as a lead, so timing
        noise between two near-equal methods does not show up as a crossing. Returns a list
        (empty when the same method leads at every size measured).
        """
        if a not in self.methods or b not in self.methods:
            return []
        ratio = np.log(self.times(a) / self.times(b))
        logs = np.log(np.asarray(self.sizes, dtype=float))
        band = math.log1p(tie)
        decisive = [i for i, r in enumerate(ratio) if abs(r) > band]
        found = []
        for i, j in zip(decisive, decisive[1:]):
            if np.sign(ratio[i]) == np.sign(ratio[j]):
                continue
            # the lead changes between sizes i and j: interpolate in the segment where the ratio
            # itself changes sign (near-ties in between are measurements too)
            k = next(k for k in range(i, j) if ratio[k] * ratio[k + 1] <= 0)
            r0, r1 = ratio[k], ratio[k + 1]
            t = 0.5 if r0 == r1 else r0 / (r0 - r1)
            found.append(float(np.exp(logs[k] + (logs[k + 1] - logs[k]) * t)))
        return found

    def _body(self):
        body = []
        for s, r in zip(self.sizes, self.results):
            cells = ([] if self._size_is_dim() else [str(s)]) + [str(r.n), str(r.m)]
            cells += ["/".join(str(c.passes) for c in r.methods)]
            cells += [_fmt_time(c.time_median) for c in r.methods]
            cells += [r.fastest, f"{max(c.max_diff for c in r.methods):.1e}"]
            body.append(cells)
        return body

    def _header(self):
        labels = {"forward": "forward", "reverse": "reverse", "fd": "fin. diff."}
        dims = ["n", "m"] if self._size_is_dim() else [self.size_label, "n", "m"]
        short = {"forward": "fwd", "reverse": "rev", "fd": "fd"}
        passes = "passes " + "/".join(short[mm] for mm in self.methods)
        return dims + [passes] + [labels[mm] for mm in self.methods] + ["fastest", "max diff"]

    def _size_is_dim(self) -> bool:
        """True when the size is n or m itself, so the table needs no separate size column."""
        return self.size_label in ("n", "m") and all(
            s == getattr(r, self.size_label) for s, r in zip(self.sizes, self.results))

    def _caption(self) -> str:
        cross = self.crossover()
        note = ""
        if "forward" in self.methods and "reverse" in self.methods:
            note = ("; forward = reverse near " + ", ".join(f"{self.size_label} = {c:.0f}" for c in cross)
                    if cross else "")
        return f"{self.name or 'scaling'} (median wall time per Jacobian{note})"

    def __str__(self) -> str:
        header = self._header()
        right = [True] * (len(header) - 2) + [False, True]
        return self._caption() + "\n" + _table(header, self._body(), right)

    def _repr_html_(self) -> str:
        return _html_table(self._header(), self._body(), self._caption())

    __repr__ = __str__

    def plot(self, ax=None):
        """Time against size for each method on log-log axes, min-max band shaded, crossover marked.

        Imports matplotlib only now (the Agg backend when there is no display). Returns the axes.
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4))
        styles = {"forward": ("C0", "o"), "reverse": ("C3", "s"), "fd": ("0.45", "^")}
        sizes = np.asarray(self.sizes, dtype=float)
        for meth in self.methods:
            color, marker = styles[meth]
            label = self.results[0][meth].label
            ax.plot(sizes, self.times(meth), marker=marker, color=color, label=label)
            ax.fill_between(sizes, self.times(meth, "min"), self.times(meth, "max"), color=color, alpha=0.15,
                            linewidth=0)
        for c in self.crossover():
            ax.axvline(c, color="k", linestyle=":", linewidth=1)
            ax.annotate(f"forward = reverse\n{self.size_label} ~ {c:.0f}", xy=(c, 0.97),
                        xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8,
                        bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator
        ax.xaxis.set_major_locator(FixedLocator(sizes))  # tick exactly at the sizes measured
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(self.size_label)
        ax.set_ylabel("time per Jacobian [s]")
        ax.set_title(self.name, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
        return ax


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib (an optional extra); remedy: "
                          "pip install 'dualad[plot]' or pip install matplotlib") from None
    headless = (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY"))
    if headless and not os.environ.get("MPLBACKEND") and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


class _Progress:
    """A progress bar on stderr that appears only once the work has taken ``delay`` s.

    ``tqdm`` draws it when installed (``pip install dualad[progress]``); otherwise a built-in
    one-line bar does. ``enabled``: None (after the delay), True (at once), False (never).
    """

    def __init__(self, total: int, label: str, enabled, delay: float = 1.0, stream=None, use_tqdm=None):
        self.total, self.label, self.delay = total, label, delay
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.shown = False
        self.tqdm = None
        if enabled is not False and use_tqdm is not False:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.tqdm = tqdm(total=total, desc=label, file=self.stream, leave=True, dynamic_ncols=True,
                                 delay=0.0 if enabled else delay)

    def update(self, done: int, note: str = "") -> None:
        if self.tqdm is not None:
            self.tqdm.update(done - self.tqdm.n)
            if note:
                self.tqdm.set_postfix_str(note, refresh=False)  # drawn with the next update, after the delay
            return
        elapsed = time.perf_counter() - self.start
        if self.enabled is False or (self.enabled is None and elapsed < self.delay):
            return
        width = 24
        filled = int(width * done / max(self.total, 1))
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"{note} {elapsed:.1f} s ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
            return
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def scaling(make_f: Callable[[int], tuple], sizes: Iterable[int], *, name: str = "",
            size_label: str = "size", progress: bool | None = None, executor: Any = None,
            **compare_kwargs) -> Scaling:
    """Run :func:`compare` on ``make_f(size) -> (f, x)`` for each size.

    The keyword arguments of :func:`compare` (``methods``, ``repeat``, ``chunk_size``,
    ``fd``, ``memory``) pass through. A progress bar goes to stderr once the sweep
    has run for about a second (``progress=True`` always, ``False`` never).
    ``executor`` (a ``concurrent.futures.Executor``) runs the sizes side by side,
    one per task; the times are then taken under that contention.
    Plot the result with ``.plot()``; ``.crossover()`` gives the size where forward
    and reverse mode trade places.

    >>> import numpy as np
    >>> from dualad.cost import scaling, tall_problem
    >>> s = scaling(tall_problem, [2, 8], repeat=1, memory=False, reverse_chunk_size=1)
    >>> [r.m for r in s.results], s.results[-1]["reverse"].passes
    ([2, 8], 8)
    """
    sizes = [int(s) for s in sizes]
    if executor is not None:  # one size per task (see dualad.parallel.sweeps); make_f must pickle
        from .parallel import sweeps
        results = sweeps.compare_sizes(make_f, sizes, executor=executor, name=name, size_label=size_label,
                                       progress=progress, **compare_kwargs)
        return Scaling(sizes, results, name, size_label)
    bar = _Progress(len(sizes), name or "scaling", progress)
    results = []
    try:
        for i, size in enumerate(sizes):
            f, x = make_f(size)
            results.append(compare(f, x, name=f"{name} {size_label}={size}".strip(), **compare_kwargs))
            bar.update(i + 1, f"{size_label}={size}")
    finally:
        bar.close()
    return Scaling(sizes, results, name, size_label)
