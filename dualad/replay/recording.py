"""Record ``f`` once on a tape, together with every value-dependent decision it made and how.

A replay runs the recorded numpy calls again at a new point without running
``f``. That is only right while ``f`` would make the same decisions there, so
the recording keeps, for each decision, the numpy call that computed it
(``x[0] > 0``, ``np.argsort(v)``, ``bool(v)``) with its arguments linked to the
tape's nodes: the replay evaluates the same call on its own values and compares
(:class:`Guard`). Decisions an engine reports without saying how it computed
them (a composite that reads plain values itself) cannot be guarded: the
recording lists them in ``unguarded`` and :func:`dualad.prepare` refuses; so does a
composite whose implementation reads plain values (found by reading its code once).

Piecewise-constant nodes (``np.floor(x)``) have no tape inputs, since no
derivative flows through them; the recording links them to the nodes they read
(``sources``), so that a replay recomputes them.

>>> import numpy as np
>>> rec = record(lambda v: v ** 2 if v[0] > 0 else -v, (np.array([1.0, 2.0]),), 0)
>>> [g.value for g in rec.guards]
[np.True_]
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import decisions
from . import plain_reads
from .arguments import snapshot
from ..dual import Dual
from ..errors import DualadError
from ..rules import TABLE, Composite
from ..tape.api import finish, watch
from ..tape.graph import Tape
from ..tape.var import Var

__all__ = ["Ref", "Guard", "Recording", "GuardLog", "record", "ReplayRefused", "value_reading_composites",
           "kind_of_argument"]


class ReplayRefused(DualadError, TypeError):
    """``f`` makes a decision that a replay could not check: it cannot be prepared."""


@dataclass(frozen=True)
class Ref:
    """A place in a call's arguments where a recorded value goes (the node's value at replay)."""
    node: int


@dataclass
class Guard:
    """One decision: ``func(*args, **kwargs)`` (``Ref``s filled in) must equal ``value`` again.

    ``position`` is the number of tape nodes that existed when it was made: a
    replay evaluates it right after those nodes.
    """
    kind: str
    func: Callable
    args: tuple
    kwargs: dict
    value: Any
    position: int


def _template(obj, tape: Tape, depth: int = 0):
    """``obj`` with this tape's values replaced by :class:`Ref` (one level into lists and tuples).

    Returns None for a value of another differentiation level (a Dual, an outer tape's value),
    which a replay could not fill in.
    """
    if isinstance(obj, Var):
        if obj.tape is not tape or isinstance(obj.value, (Var, Dual)):
            return None
        return Ref(obj.node.index)
    if isinstance(obj, Dual):
        return None
    if isinstance(obj, (list, tuple)) and depth < 2:
        items = []
        for item in obj:
            t = _template(item, tape, depth + 1)
            if t is None and item is not None:
                return None
            items.append(t)
        return type(obj)(items) if not hasattr(obj, "_fields") else type(obj)(*items)
    if type(obj) is np.ndarray:
        return obj.copy()  # f may write into it later; the decision read it as it was
    return obj


_MISSING = object()


class GuardLog(decisions.DecisionLog):
    """A decision log that also keeps how each decision was computed, as :class:`Guard` s."""

    __slots__ = ("tape", "guards", "unguarded", "sources")

    def __init__(self, tape: Tape):
        super().__init__()
        self.tape = tape
        self.guards: list[Guard] = []
        self.unguarded: list[str] = []
        self.sources: dict = {}  # node index -> inputs of a piecewise-constant node

    def composite(self, func) -> None:
        if _reads_values(func):
            name = getattr(func, "__name__", str(func))
            self.unguarded.append(f"np.{name} (it decides on values inside dualad)")

    def piecewise_constant(self, node, inputs: tuple) -> None:
        nodes = self.tape.nodes
        if node.index < len(nodes) and nodes[node.index] is node:
            self.sources[node.index] = inputs

    def add(self, kind: str, value: Any, how: tuple | None) -> None:
        super().add(kind, value, how)
        if kind == "index":
            # index arrays are plain arrays f computed from earlier decisions (guarded themselves)
            # and constants: the replay holds them as constants of the recorded indexing
            return
        if how is None:
            self.unguarded.append(kind)
            return
        func, args, kwargs = how
        targs = _template(tuple(args), self.tape)
        tkwargs = _template(tuple(kwargs.items()), self.tape) if kwargs else ()
        if targs is None or tkwargs is None:
            self.unguarded.append(f"{kind} on a value of another differentiation level")
            return
        self.guards.append(Guard(kind, func, targs, dict(tkwargs), decisions_copy(value), len(self.tape.nodes)))


def decisions_copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(decisions_copy(v) for v in value)
    return value


# ------------------------------------------------------------------ composites that read plain values
_READERS = {"primal", "_primal", "plain", "_plain"}
# helpers that read only a dtype or a number of dimensions, never a value
_SHAPE_ONLY = {"_float_dtype", "_side", "_ediff1d", "_average", "_fill_diagonal", "_linspace", "_tril", "_triu",
               "_copyto", "_memory_order"}
_VERDICTS: dict = {}


def _names(code: types.CodeType) -> set:
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _names(c)
    return out


def _readers(fn, seen: set) -> set:
    """Names of the dualad functions reachable from ``fn`` that read plain values of their arguments."""
    if id(fn) in seen:
        return set()
    seen.add(id(fn))
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    found = set()
    for name in _names(code):
        if name in _READERS:
            found.add(fn.__name__)
            continue
        obj = fn.__globals__.get(name)
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").startswith("dualad"):
            found |= _readers(obj, seen)
    return found


def value_reading_composites() -> dict:
    """``{numpy function: reader names}`` for the composites whose implementation reads plain values
    (a decision no engine reports with the call that made it): a replay cannot guard them."""
    out = {}
    for func, rule in list(TABLE.items()):
        if type(rule) is Composite and rule.impl is not None:
            bad = _readers(rule.impl, set()) - _SHAPE_ONLY
            if bad:
                out[func] = bad
    return out


def _reads_values(func) -> bool:
    verdict = _VERDICTS.get(func)
    if verdict is None:
        rule = TABLE.get(func)
        impl = getattr(rule, "impl", None)
        verdict = bool(impl is not None and (_readers(impl, set()) - _SHAPE_ONLY))
        _VERDICTS[func] = verdict
    return verdict


# ------------------------------------------------------------------ the recording
@dataclass
class Recording:
    """One run of ``f`` on a tape: the nodes, the guards, the inputs, what could not be guarded."""
    tape: Tape
    guards: list
    sources: dict           # node index -> inputs ((pos, sub, parent) like Node.inputs) of a ZeroDerivative node
    unguarded: list
    x_node: int             # index of the differentiated input's node
    extra_nodes: dict       # position among the extra arguments -> node index (extras recorded as values)
    plain_extras: dict = field(default_factory=dict)  # position -> a snapshot of what f saw (a guard of its own)
    # position -> the type (and dtype) of an extra recorded as a value: f may decide on it (isinstance(t,
    # float), np.isscalar(t)), so a call with another type (an int where a float was) is another recording
    extra_types: dict = field(default_factory=dict)


def _float_like(a) -> bool:
    """Can an extra argument be recorded as a (non-differentiated) tape value?"""
    if isinstance(a, (bool, np.bool_)):
        return False
    if isinstance(a, (float, int, np.floating, np.integer)):
        return True
    return type(a) is np.ndarray and a.dtype.kind == "f"


def record(f: Callable, args: tuple, argnum: int, extras_as_values: bool = True) -> Recording:
    """Run ``f(*args)`` on a new tape, ``args[argnum]`` the differentiated input.

    Float extra arguments are recorded as inputs too (not differentiated), so a
    replay takes new values of them; with ``extras_as_values=False`` (or for other
    types) they are constants of the recording, and a replay checks they are equal.
    """
    tape = Tape()
    log = GuardLog(tape)
    call_args = list(args)
    x_node = -1
    extra_nodes: dict = {}
    plain_extras: dict = {}
    extra_types: dict = {}
    for pos, a in enumerate(args):
        if pos == argnum:
            var = watch(tape, a, "x")
            x_node = var.node.index
            call_args[pos] = var
        elif extras_as_values and _float_like(a):
            value = np.array(a, dtype=np.float64) if not isinstance(a, np.ndarray) else a.copy()
            if not isinstance(a, np.ndarray):
                value = value[()]
            var = watch(tape, value, f"arg{pos}")
            extra_nodes[pos] = var.node.index
            extra_types[pos] = kind_of_argument(a)
            call_args[pos] = var
        else:
            plain_extras[pos] = snapshot(a)  # a deep copy: the caller may change its object in place
    with decisions.recording(log), plain_reads.watching(log):
        try:
            finish(tape, f(*call_args))
        finally:
            tape.close("dualad.prepare")
    return Recording(tape, log.guards, log.sources, log.unguarded, x_node, extra_nodes, plain_extras, extra_types)


def kind_of_argument(a) -> tuple:
    """An extra argument's type (and dtype for arrays and numpy scalars): what f may decide on besides
    its value. A numpy float64 counts as a Python float (its subclass, the same number; scipy's solvers
    pass the time as either), the one difference, its numpy attributes (``hasattr(t, "shape")``), aside."""
    kind = type(a)
    if kind is float or kind is np.float64:
        return float, None
    return kind, getattr(a, "dtype", None)

