"""Writing straight-line Python: names for values and constants, argument lists, guards, ``compile``.

A replay program is Python source with one line per numpy call, compiled once.
Functions, rules and constant arrays live in the namespace the source runs in,
under generated names; nothing is looked up per call but local variables.

>>> import numpy as np
>>> code = Source()
>>> code.line(f"y = {code.const(np.sin)}(x)")
>>> code.line("return y")
>>> float(code.compile("run", ["x"])(0.0))
0.0
"""
from __future__ import annotations

import itertools
import operator
import re
from typing import Any, Callable

import numpy as np

from .recording import Guard, Ref

__all__ = ["Source", "GuardFailed", "same_decision", "arguments", "guard_lines", "fitted_sum",
           "selected_argument", "SELECTING_PARTIALS", "unused_dropped", "guards_first"]

_COUNTER = itertools.count()


class GuardFailed(Exception):
    """Raised by a replay program when a decision differs from the recording (``guard`` is its number).

    A guard whose decision is not a bool also carries the decision made at the new point
    (``args[1]``); a failed bool decision is the recorded one's negation. :mod:`.prepared` uses
    them to skip, without running them, the other traces that decided differently there.
    (No ``__init__`` of its own: raised on every new branch, it costs only the exception's.)
    """

    @property
    def guard(self) -> int:
        return self.args[0]


_EXACT_SCALARS = frozenset({bool, np.bool_, int, np.int64, np.int32, np.intp})


def same_decision(new, old) -> bool:
    """Is the decision ``new`` (made at replay) the recorded ``old``? Shapes and values, NaN equal to NaN."""
    kind = type(new)
    if kind is type(old):  # the common decisions, without np.asarray and np.array_equal (a few us)
        if kind is np.ndarray:
            if new.shape != old.shape:
                return False
            if new.dtype.kind in "biu" and old.dtype.kind in "biu":  # orders, positions, masks
                if new.dtype == old.dtype:  # integers and bools: equal values are equal bytes
                    return new.tobytes() == old.tobytes()
                return bool((new == old).all())
        elif kind in _EXACT_SCALARS:  # an argmax position, a count
            return bool(new == old)
    if isinstance(old, tuple) or isinstance(new, tuple):
        return (isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new)
                and all(same_decision(a, b) for a, b in zip(new, old)))
    new, old = np.asarray(new), np.asarray(old)
    if new.shape != old.shape:
        return False
    if new.dtype.kind == "f" and old.dtype.kind == "f":
        return bool(np.array_equal(new, old, equal_nan=True))
    return bool(np.array_equal(new, old))


class Source:
    """Lines of a function body and the namespace its names refer to."""

    def __init__(self):
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"GuardFailed": GuardFailed, "same_decision": same_decision}
        self._names: dict[int, str] = {}
        self._keep: list = []  # constants named by id: keep them alive so ids stay unique

    def line(self, text: str) -> None:
        self.lines.append(text)

    def const(self, value: Any, hint: str = "c") -> str:
        """A name for ``value`` in the namespace (one name per object)."""
        key = id(value)
        name = self._names.get(key)
        if name is None:
            name = f"{hint}_{len(self._names)}"  # locals of the programs have no underscore
            self._names[key] = name
            self.namespace[name] = value
            self._keep.append(value)
        return name

    def node_value(self, j: int, varies: list, nodes: list) -> str:
        """The name of node ``j``'s value: the program's variable ``v{j}`` if it varies with x, else a
        constant (``const`` names each object once)."""
        return f"v{j}" if varies[j] else self.const(nodes[j].value, "k")

    def text(self, name: str, params: list, release: bool = False, hoist: bool = False) -> str:
        lines = guards_first(self.lines) if hoist else self.lines
        lines = released(lines, params) if release else lines
        body = "\n".join("    " + ln for ln in lines) or "    pass"
        return f"def {name}({', '.join(params)}):\n{body}\n"

    def compile(self, name: str, params: list, release: bool = False, hoist: bool = False) -> Callable:
        """The lines as ``def name(params)``, compiled. ``release``: each local is deleted after the
        line that uses it last (see :func:`released`); ``hoist``: the guards are checked as early as
        their own values allow (see :func:`guards_first`)."""
        src = self.text(name, params, release, hoist)
        filename = f"<dualad.replay {name} #{next(_COUNTER)}>"
        exec(compile(src, filename, "exec"), self.namespace)
        fn = self.namespace[name]
        fn.source = src
        return fn


_TARGET = re.compile(r"^([A-Za-z_]\w*) = ")
_NAME = re.compile(r"\b[A-Za-z_]\w*\b")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")


def released(lines: list, params: list) -> list:
    """Straight-line ``lines`` with ``del name`` after the last line that mentions each local (assigned
    names and parameters; the returned ones stay).

    A replay program holds every intermediate in a local until it returns; released as soon as they
    are dead, numpy's buffers are reused while still in cache instead of fresh memory being mapped and
    faulted in (ADBench GMM's reverse program: 20-37 % faster).
    """
    local = set(params)
    for ln in lines:
        m = _TARGET.match(ln)
        if m:
            local.add(m.group(1))
    last: dict = {}
    for k, ln in enumerate(lines):
        for name in _NAME.findall(_STRING.sub("''", ln)):
            if name in local:
                last[name] = k
    ending = len(lines) - 1 if lines and lines[-1].startswith("return") else len(lines)
    after: dict = {}
    for name, k in last.items():
        if k < ending:
            after.setdefault(k, []).append(name)
    out = []
    for k, ln in enumerate(lines):
        out.append(ln)
        if k in after and not ln.startswith(("return", "raise")):
            out.append("del " + ", ".join(sorted(after[k])))
    return out


_WALRUS = re.compile(r"\b([A-Za-z_]\w*) :=")
_MUTATED = re.compile(r"^([A-Za-z_]\w*)(?:\[|\.|\s*[-+*/@%&|^]=)")  # R[...] = / J.put(...) / R += ...


def guards_first(lines: list) -> list:
    """Straight-line ``lines`` reordered so that each guard (a line raising :class:`GuardFailed`) comes
    as early as the lines it depends on allow; the other lines keep their order after it.

    On a new branch a replay runs until its first failed guard, and all it computed is thrown away
    before the plain path answers: tangent lines written before a guard (a Jacobian's diagonal, a
    product rule) are pure cost there. Only the lines a guard needs (its value slice) stay in front.

    Dependencies are read from the text. A plain assignment ``name = ...`` writes ``name``; a line
    ``R[...] = ...``, ``R.put(...)`` or ``R += ...`` writes R and every name that may share its memory
    (assigned from an expression reading R: a view such as ``v = R[1:3]``, transitively); any other
    line may write every name it mentions. A line goes after every earlier line that writes what it
    reads or writes, and after every earlier line that reads what it writes; so the reordered
    program computes the same values. Guards keep their order (a failed guard says the ones before it
    held).

    >>> guards_first(["v1 = f(x)", "d1 = g(x)", "v2 = h(v1)", "if v2 > 0: raise GuardFailed(0)", "return d1"])
    ['v1 = f(x)', 'v2 = h(v1)', 'if v2 > 0: raise GuardFailed(0)', 'd1 = g(x)', 'return d1']
    """
    guards = [k for k, ln in enumerate(lines) if "raise GuardFailed(" in ln]
    if not guards or guards[-1] == len(guards) - 1:
        return lines
    parsed = []  # (kind, target, names): kind "assign", "check" (if/return/raise), "mutate" or "other"
    mutated: set = set()
    for ln in lines:
        names = set(_NAME.findall(_STRING.sub("''", ln)))
        if ln.startswith(("if ", "return ", "raise ")):
            parsed.append(("check", None, names))
        elif (m := _TARGET.match(ln)) is not None:
            parsed.append(("assign", m.group(1), names))
        elif (m := _MUTATED.match(ln)) is not None:
            parsed.append(("mutate", m.group(1), names))
            mutated.add(m.group(1))
        else:
            parsed.append(("other", None, names))
            mutated |= names
    roots: dict = {}  # name -> the mutated names whose memory it may share
    sharing: dict = {}  # mutated name -> the names that may share its memory
    before: list = [[] for _ in lines]  # line -> the earlier lines it must follow
    last_write: dict = {}
    reads_since: dict = {}  # name -> lines that read it since its last write
    for k, (kind, target, names) in enumerate(parsed):
        if kind == "check":
            writes = set(_WALRUS.findall(lines[k]))  # a guard's `decided := ...`
        elif kind == "assign":
            writes = {target}
            shared = set()
            for name in names:
                if name in mutated:
                    shared.add(name)
                shared |= roots.get(name, set())
            roots[target] = shared
            for r in shared:
                sharing.setdefault(r, set()).add(target)
        elif kind == "mutate":
            writes = {target} | roots.get(target, set())
            for r in list(writes):
                writes |= sharing.get(r, set())
        else:
            writes = set(names)
            for r in names:
                writes |= sharing.get(r, set())
        # (an assignment's target read on its right-hand side: its last write is a dependency through writes)
        reads = names - writes if kind == "assign" else names
        deps = before[k]
        for name in reads | writes:
            w = last_write.get(name)
            if w is not None:
                deps.append(w)
        for name in writes:
            deps.extend(reads_since.pop(name, ()))
            last_write[name] = k
        for name in reads:
            if name not in writes:
                reads_since.setdefault(name, []).append(k)
    placed = [False] * len(lines)
    order: list = []
    for g in guards:
        stack, slice_ = [g], []
        while stack:
            j = stack.pop()
            if not placed[j]:
                placed[j] = True
                slice_.append(j)
                stack.extend(before[j])
        order.extend(sorted(slice_))
    order.extend(k for k in range(len(lines)) if not placed[k])
    return [lines[k] for k in order]


def unused_dropped(lines: list, removable: set) -> list:
    """Straight-line ``lines`` without the assignments ``name = ...`` (``name`` in ``removable``) that no
    other line reads, repeated until none is left (dropping one may leave its arguments unread).

    >>> unused_dropped(["a = f(x)", "b = g(a)", "c = h(x)", "return c"], {"a", "b"})
    ['c = h(x)', 'return c']
    """
    names = [_NAME.findall(_STRING.sub("''", ln)) for ln in lines]
    reads: dict = {}
    target = []
    for k, ln in enumerate(lines):
        m = _TARGET.match(ln)
        target.append(m.group(1) if m and m.group(1) in removable else None)
        for k2, name in enumerate(names[k]):
            if not (k2 == 0 and target[k] is not None):
                reads[name] = reads.get(name, 0) + 1
    line_of: dict = {}  # a removable name assigned exactly once -> its line
    for k, name in enumerate(target):
        if name is not None:
            line_of[name] = None if name in line_of else k
    dropped = [False] * len(lines)
    work = [k for k in line_of.values() if k is not None]
    while work:
        k = work.pop()
        if dropped[k] or reads.get(target[k], 0):
            continue
        dropped[k] = True
        for other in names[k][1:]:
            reads[other] -= 1
            if not reads[other] and line_of.get(other) is not None:
                work.append(line_of[other])
    return [ln for k, ln in enumerate(lines) if not dropped[k]]


def _literal(items: list, kind: type) -> str:
    if kind is tuple:
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return "[" + ", ".join(items) + "]"


def expression(obj: Any, code: Source, value_of: Callable[[int], str]) -> str:
    """Source text for an argument template: a :class:`Ref` is the node's value, lists and tuples
    are literals, anything else a named constant."""
    if isinstance(obj, Ref):
        return value_of(obj.node)
    if type(obj) in (list, tuple):
        return _literal([expression(o, code, value_of) for o in obj], type(obj))
    if obj is None or obj is True or obj is False or (type(obj) is int):
        return repr(obj)
    return code.const(obj)


def arguments(node, code: Source, value_of: Callable[[int], str], inputs=None) -> list:
    """Source texts of ``node``'s positional arguments, recorded values replaced by the replay's."""
    links = node.inputs if inputs is None else inputs
    top: dict = {}
    subs: dict = {}
    for pos, sub, parent in links:
        if sub is None:
            top[pos] = parent.index
        else:
            subs.setdefault(pos, {})[sub] = parent.index
    out = []
    for pos, a in enumerate(node.args):
        if pos in top:
            out.append(value_of(top[pos]))
        elif pos in subs:
            items = [value_of(subs[pos][s]) if s in subs[pos] else expression(item, code, value_of)
                     for s, item in enumerate(a)]
            out.append(_literal(items, tuple if type(a) is tuple else list))
        else:
            out.append(expression(a, code, value_of))
    return out


def keywords(node, code: Source) -> str:
    return f", **{code.const(node.kwargs)}" if node.kwargs else ""


#: comparisons (ufuncs and Python's operators) and the operator that decides the same for two scalars
#: (NaN compares False, as in numpy)
_INFIX_COMPARISONS = {np.greater: ">", np.greater_equal: ">=", np.less: "<", np.less_equal: "<=", np.equal: "==",
                      np.not_equal: "!=", operator.gt: ">", operator.ge: ">=", operator.lt: "<", operator.le: "<=",
                      operator.eq: "==", operator.ne: "!="}


def _plain_number(obj) -> bool:
    return type(obj) in (int, float) or (isinstance(obj, np.generic) and obj.dtype.kind in "biuf")


#: decisions that are an ndarray method with the same arguments after the array (fromnumeric's wrappers
#: cost 1-2 us a call on a short array; a guard runs at every replay)
_DECISION_METHODS = {np.argsort: "argsort", np.argmax: "argmax", np.argmin: "argmin", np.nonzero: "nonzero"}


def guard_lines(number: int, guard: Guard, code: Source, value_of: Callable[[int], str],
                scalar: Callable[[int], bool] | None = None, nodes: list | None = None) -> None:
    """Lines evaluating guard ``number`` and raising :class:`GuardFailed` if it differs.

    A comparison whose recorded decision is a bool is written as Python's operator. ``scalar(j)``, if
    given: is node j's value in the program a Python or numpy scalar (scalar-style code, where x itself
    is an array)? Then only comparisons of those are. ``nodes``, if given (the recorded nodes): an
    argsort, argmax, argmin or nonzero of an ndarray is written as its method.
    """
    args = [expression(a, code, value_of) for a in guard.args]
    kw = f", **{code.const(dict(guard.kwargs))}" if guard.kwargs else ""
    call = f"{code.const(guard.func, 'g')}({', '.join(args)}{kw})"
    method = _DECISION_METHODS.get(guard.func) if nodes is not None and guard.args else None
    if method is not None and isinstance(guard.args[0], Ref) and type(nodes[guard.args[0].node].value) is np.ndarray:
        # (the value at replay is an ndarray too: the same calls on arrays of the guarded shapes and dtypes)
        rest = ", ".join(args[1:])
        call = f"{args[0]}.{method}({rest}{', ' if rest and kw else ''}{kw[2:] if kw else ''})"
    old = guard.value
    op = _INFIX_COMPARISONS.get(guard.func) if isinstance(guard.func, (np.ufunc, type(operator.gt))) else None
    # Python's operator on a numpy or Python operand is the ufunc's decision, without a ufunc call (0.5 us
    # on scalars); not on a list literal (a Python comparison of lists, or a TypeError)
    if op is not None and len(guard.args) == 2 and not guard.kwargs and isinstance(old, (bool, np.bool_)) \
            and all((scalar is None or scalar(a.node)) if isinstance(a, Ref) else _plain_number(a)
                    for a in guard.args):
        call = f"{args[0]} {op} {args[1]}"
    if isinstance(old, (bool, np.bool_)):
        # a Python bool or numpy bool scalar: its truth (`np.True_ != True` is a numpy comparison with a
        # Python bool, about 1 us; `not np.True_` is a few ns)
        code.line(f"if {'not ' if old else ''}({call}): raise GuardFailed({number})")
    else:
        code.line(f"if not same_decision(decided := {call}, {code.const(old, 'd')}): "
                  f"raise GuardFailed({number}, decided)")


def tangent_slots(node, inputs, tangent_of: Callable[[Any], Any], missing: Any = None) -> list:
    """A Custom rule's ``tangents`` argument for ``node``: one slot per argument, ``tangent_of(parent)``
    for each ``(pos, sub, parent)`` of ``inputs`` (a list, with ``missing`` in the other places, for a
    list argument such as concatenate's), None for the arguments not differentiated."""
    slots: list = [None] * len(node.args)
    for pos, sub, parent in inputs:
        t = tangent_of(parent)
        if sub is None:
            slots[pos] = t
        else:
            if slots[pos] is None:
                slots[pos] = [missing] * len(node.args[pos])
            slots[pos][sub] = t
    return slots


def custom_jvp_call(node, code: Source, args: list, value: str, inputs, tangent_of: Callable[[Any], str]) -> str:
    """The text of a Custom rule's JVP on ``node``: ``jvp(value, args, kwargs, tangents)``, fitted to the
    node's shape unless it has several outputs. ``inputs`` are the ``(pos, sub, parent)`` whose tangents
    are passed (``tangent_of(parent)`` names each); the other slots are None, as the rule expects."""
    slots = tangent_slots(node, inputs, tangent_of, "None")
    items = ["None" if s is None else s if isinstance(s, str) else "[" + ", ".join(s) + "]" for s in slots]
    call = (f"{code.const(node.rule.jvp, 'J')}({value}, ({', '.join(args)}{',' if len(args) == 1 else ''}), "
            f"{code.const(node.kwargs)}, [{', '.join(items)}])")
    if isinstance(node.value, tuple):
        return call
    return f"fit({call}, {tuple(np.shape(node.value))!r})"


def fitted_sum(terms: list, shapes: list, shape: tuple) -> str:
    """``terms`` summed as one expression, wrapped in ``fit(..., shape)`` unless their broadcast
    shapes already give ``shape`` (a sum of partial tangents of a node of that shape)."""
    expr = " + ".join(terms)
    try:
        covered = np.broadcast_shapes(*shapes) == shape
    except ValueError:
        covered = False
    return expr if covered else f"fit({expr}, {shape!r})"


#: Elementwise partials that return one of their arguments (0: the node's value, k: its k-th argument),
#: reviewed in rules.py; :func:`selected_argument` also checks each one at the recorded values.
SELECTING_PARTIALS = {(np.multiply, 0): 2, (np.multiply, 1): 1, (np.exp, 0): 0}


def selected_argument(node, pos: int, probe) -> int | None:
    """Which argument the partial of ``node`` at ``pos`` returns (see :data:`SELECTING_PARTIALS`), or None."""
    k = SELECTING_PARTIALS.get((node.func, pos))
    if k is None or len(node.args) != (2 if node.func is np.multiply else 1) or node.kwargs:
        return None
    picked = node.value if k == 0 else node.args[k - 1]
    return k if probe is picked else None
