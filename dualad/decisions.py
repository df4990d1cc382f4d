"""The decision log: every value-dependent choice a function makes, recorded once and checked later.

A derivative computed once and reused at another point (a sparsity pattern, a
recorded tape replayed) is only right while the function makes the same
value-dependent decisions there. Those decisions reach dualad at a few points,
and each engine reports them here:

* comparisons on differentiable values (``x[0] > 0``, ``x < c``, ``np.greater``)
  and ``bool(x)``: their results, which Python ``if``/``while`` and masks read;
* integer- or bool-valued functions of values (``argmax``, ``argmin``,
  ``argsort``, ``nonzero``, one-argument ``where``, ``searchsorted``, ``isnan``,
  ...): orders and positions, which become indices and shapes;
* composites that choose on values internally (``np.sort``'s order, a running
  maximum's positions);
* index arrays and masks used in ``x[key]`` and ``x[key] = v``, wherever they were computed
  (values used as indices).

Nothing is recorded unless a log is active in this thread, so the cost outside
:func:`recording` / :func:`checking` is one attribute read per decision.

>>> import numpy as np
>>> with recording() as log:
...     _ = note("compare", np.array([True, False]))
>>> len(log)
1
>>> with checking(log) as check:
...     _ = note("compare", np.array([True, True]))
>>> check.diverged
True
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

__all__ = ["DecisionLog", "Check", "note", "note_index", "note_composite", "note_piecewise_constant", "recording",
           "checking", "active", "unobserved"]



class _State(threading.local):
    """The decision log (or check) active in this thread, if any.

    ``target`` has a class default: reading an attribute a thread never set on a plain
    ``threading.local`` (``getattr(local, "target", None)``) raises and catches an
    AttributeError inside numpy-sized hot paths (every composite, every ``x[key] = v``),
    about 30 times the cost of reading a set one.
    """

    target: Any = None


_STATE = _State()


class DecisionLog:
    """The decisions of one run of a function, in the order it made them: ``(kind, value)`` pairs."""

    __slots__ = ("entries",)

    def __init__(self):
        self.entries: list = []

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, kind: str, value: Any, how: tuple | None) -> None:
        """Keep one decision; ``how`` (``(func, args, kwargs)`` that computed it, where the engine
        knows) is for subclasses that re-evaluate decisions later (:mod:`dualad.replay`)."""
        self.entries.append((kind, _copy(value)))

    def composite(self, func) -> None:
        """A composite (a numpy implementation in dualad.composites) is about to run on recorded values."""

    def piecewise_constant(self, node, inputs: tuple) -> None:
        """A piecewise-constant tape node (``np.floor(x)``) was computed from the recorded ``inputs``."""

    def __repr__(self) -> str:
        kinds: dict = {}
        for kind, _ in self.entries:
            kinds[kind] = kinds.get(kind, 0) + 1
        return f"DecisionLog({len(self.entries)} decisions: {kinds})"


class Check:
    """A run being compared with a :class:`DecisionLog`; ``diverged`` is set at the first difference."""

    __slots__ = ("log", "position", "diverged", "where")

    def __init__(self, log: DecisionLog):
        self.log = log
        self.position = 0
        self.diverged = False
        self.where = ""  # the first differing decision, for messages

    def finish(self) -> None:
        """A run that made fewer decisions than the log also diverged."""
        if not self.diverged and self.position != len(self.log.entries):
            self.diverged = True
            self.where = f"{len(self.log.entries) - self.position} fewer decisions than recorded"


def _same(a, b) -> bool:
    if hasattr(type(a), "same_as"):  # a recorded value that compares itself (replay.arguments.Kept)
        return a.same_as(b)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and \
            all(_same(x, y) for x, y in zip(a, b))
    try:
        a, b = np.asarray(a), np.asarray(b)
    except Exception:  # not array-like (a dtype, a string): compare as objects
        return bool(a == b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _copy(value):
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def note(kind: str, value: Any, how: tuple | None = None) -> Any:
    """Report one decision (``value`` is what the function will act on); returns ``value`` unchanged.

    ``how`` is ``(func, args, kwargs)`` with ``func(*args, **kwargs) == value`` on plain values, where
    the caller knows it: a replay (:mod:`dualad.replay`) evaluates it again at a new point.
    """
    target = getattr(_STATE, "target", None)
    if target is None:
        return value
    if type(target) is DecisionLog:
        target.entries.append((kind, _copy(value)))
    elif isinstance(target, DecisionLog):  # a log that keeps how the decision was computed
        target.add(kind, value, how)
    elif not target.diverged:
        entries = target.log.entries
        i = target.position
        target.position = i + 1
        if i >= len(entries):
            target.diverged, target.where = True, f"a {kind} decision beyond the {len(entries)} recorded"
        elif entries[i][0] != kind or not _same(entries[i][1], value):
            target.diverged, target.where = True, f"decision {i} ({kind}) differs from the recorded one"
    return value


def note_composite(func) -> None:
    """Report that the composite ``func`` runs (a replay's log refuses those that decide on plain values)."""
    target = getattr(_STATE, "target", None)
    if target is not None and isinstance(target, DecisionLog):
        target.composite(func)


def note_piecewise_constant(node, inputs: tuple) -> None:
    """Report a tape node with no derivative that was computed from recorded values (``inputs`` as in
    ``Node.inputs``): the tape does not link it, a replay must recompute it."""
    target = getattr(_STATE, "target", None)
    if target is not None and isinstance(target, DecisionLog):
        target.piecewise_constant(node, inputs)


def note_index(key) -> None:
    """Report the index arrays of ``x[key]`` / ``x[key] = v`` (values used as indices: an order
    computed on plain values, a mask); integers and slices are part of the code, not decisions."""
    if getattr(_STATE, "target", None) is None:
        return
    parts = key if isinstance(key, tuple) else (key,)
    arrays = tuple(np.asarray(k) for k in parts if isinstance(k, (np.ndarray, list)))
    if arrays:
        note("index", arrays)


def active() -> bool:
    """Is a log recording or checking in this thread?"""
    return getattr(_STATE, "target", None) is not None


@contextmanager
def recording(into: DecisionLog | None = None) -> Iterator[DecisionLog]:
    """Record the decisions made in this thread inside the block into a new :class:`DecisionLog`
    (or into ``into``, e.g. a subclass that keeps more of each decision)."""
    log = DecisionLog() if into is None else into
    previous = getattr(_STATE, "target", None)
    _STATE.target = log
    try:
        yield log
    finally:
        _STATE.target = previous


@contextmanager
def unobserved() -> Iterator[None]:
    """Make no decision inside the block: for dualad's own index reads, whose index arrays follow from
    the code's structure (a view's root positions), not from values."""
    previous = getattr(_STATE, "target", None)
    _STATE.target = None
    try:
        yield
    finally:
        _STATE.target = previous


@contextmanager
def checking(log: DecisionLog) -> Iterator[Check]:
    """Compare the decisions made in this thread inside the block with ``log`` (see :class:`Check`)."""
    check = Check(log)
    previous = getattr(_STATE, "target", None)
    _STATE.target = check
    try:
        yield check
    finally:
        _STATE.target = previous
        check.finish()
