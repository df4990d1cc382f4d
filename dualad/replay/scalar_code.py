"""The Jacobian of scalar-style code as plain Python float arithmetic, its sparsity known when written.

A right-hand side written entry by entry (``[-k1 * y[0] + k3 * y[1] * y[2], ...]``,
Lorenz-96's loop) records only scalar operations between entries of x. For
such a recording the tangent of every node is a short list of entries
``{input j: expression}`` known when the program is written: ``y[0]`` has
``{0: 1}``, ``k1 * y[0]`` has ``{0: k1}`` (a constant, folded now), and
``a * b`` has ``b * da + a * db`` entry by entry. The program computes the
values it needs as Python floats (``x.tolist()``: each operation costs tens
of nanoseconds, not a numpy call), then each nonzero of the Jacobian as one
expression, and writes them into a zero matrix in one assignment.

Arithmetic (``+ - * /``, powers) is Python's, which is IEEE double arithmetic
like numpy's; every other function (``np.exp``...) is numpy's own, so values
and derivatives are those of the plain engines. Partials are the rule
table's (``multiply``: the other factor; ``divide``: ``1/b`` and ``-out/b``;
``power``: ``p x**(p-1)``; any other: the rule's own function).

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> rec = record(lambda y: [-0.04 * y[0] + 1e4 * y[1] * y[2], 3e7 * y[1] ** 2], (np.ones(3),), 0)
>>> run = scalar_program(rec)
>>> run(np.array([1.0, 2e-5, 0.5]))
array([[-4.0e-02,  5.0e+03,  2.0e-01],
       [ 0.0e+00,  1.2e+03,  0.0e+00]])
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, Elementwise
from ..tape.graph import value_shape
from .analysis import Flow
from .codegen import Source, guard_lines
from .inline import inlined
from .forward_code import guard_refs, live_values, parameters
from .recording import Recording

__all__ = ["scalar_program", "MAX_NODES"]

#: above this many scalar nodes the vectorised program (:mod:`.vectorize`) is used instead
MAX_NODES = 2000

_INFIX = {np.add: "+", np.subtract: "-", np.multiply: "*", np.divide: "/", np.true_divide: "/"}


def _is_int(key) -> bool:
    return type(key) is int or isinstance(key, np.integer)


def _number(a) -> bool:
    return type(a) in (float, int) or (isinstance(a, np.generic) and a.dtype.kind in "fiu")


class _Unsupported(Exception):
    pass


def scalar_program(rec: Recording, flow: Flow | None = None, with_value: bool = False) -> Callable | None:
    """Compile ``run(x, *extras) -> J`` for a recording made only of scalar operations on entries of a
    1-D x (and 0-d extra arguments), returning a list of scalars or one scalar; None otherwise.

    ``with_value``: ``run`` returns ``(f(x), J)`` (the output's entries computed as Python floats too):
    what a prepared ``jvp``/``vjp`` of scalar-style code needs besides J, without a per-node numpy program."""
    flow = flow or Flow(rec)
    try:
        return _Writer(rec, flow, with_value).program()
    except _Unsupported:
        return None


class _Writer:
    def __init__(self, rec: Recording, flow: Flow, with_value: bool = False):
        self.rec, self.flow = rec, flow
        self.with_value = with_value
        self.nodes = rec.tape.nodes
        self.code = Source()
        x = self.nodes[rec.x_node].value
        if type(x) is not np.ndarray or x.ndim != 1 or x.dtype != np.float64:
            raise _Unsupported
        self.n = x.shape[0]
        self.value: dict = {}    # node -> expression of its value (a name, or a literal)
        self.tangent: dict = {}  # node -> {input entry: expression or float constant}
        self.lines: dict = {}    # node -> the line computing its value (written if needed)
        self.reads: dict = {}    # node -> nodes whose values its line reads
        self.wanted: set = set()

    # ---------------------------------------------------------------- expressions
    def const(self, v) -> str:
        return repr(float(v))

    def operand(self, node, pos: int):
        """``(expression, parent index or None)`` of argument ``pos``."""
        for p, sub, parent in node.inputs:
            if p == pos and sub is None:
                j = parent.index
                if j not in self.value:
                    raise _Unsupported
                return self.value[j], j
            if p == pos:
                raise _Unsupported
        a = node.args[pos]
        if not _number(a):
            raise _Unsupported
        return self.const(a), None

    def name(self, node_index: int) -> str:
        return f"s{node_index}"

    # ---------------------------------------------------------------- nodes
    def visit(self, node) -> None:
        i = node.index
        kind = node.func
        if node.func is None:  # an input
            if i == self.rec.x_node:
                return
            if value_shape(node.value) != ():
                raise _Unsupported
            pos = next(p for p, k in self.rec.extra_nodes.items() if k == i)
            self.value[i] = self.name(i)
            self.lines[i] = f"{self.name(i)} = float(e{pos})"
            self.reads[i] = ()
            self.tangent[i] = {}
            return
        if value_shape(node.value) != () and not (kind is np.reshape and value_shape(node.value) == (1,)):
            raise _Unsupported
        if kind is operator.getitem:
            (pos, sub, parent), = node.inputs
            if parent.index != self.rec.x_node or not _is_int(node.args[1]):
                raise _Unsupported
            k = int(node.args[1]) % self.n
            self.value[i] = f"xs[{k}]"
            self.tangent[i] = {k: 1.0} if self.flow.active[i] else {}
            return
        if kind is np.reshape:  # a scalar as a one-entry array (np.stack's pieces): the same number
            (_, _, parent), = node.inputs
            if parent.index not in self.value:
                raise _Unsupported
            self.value[i] = self.value[parent.index]
            self.tangent[i] = self.tangent[parent.index]
            self.alias = getattr(self, "alias", {})
            self.alias[i] = parent.index
            return
        if type(node.rule) is not Elementwise or not isinstance(kind, np.ufunc) or node.kwargs:
            raise _Unsupported
        ops = [self.operand(node, pos) for pos in range(len(node.args))]
        texts = [t for t, _ in ops]
        parents = [j for _, j in ops]
        if kind in _INFIX and len(ops) == 2:
            line = f"({texts[0]}) {_INFIX[kind]} ({texts[1]})"
        elif kind is np.negative:
            line = f"-({texts[0]})"
        elif kind is np.power and parents[1] is None and float(node.args[1]).is_integer():
            line = f"({texts[0]}) ** {texts[1]}"  # an integral exponent: real for every base, like numpy
        else:
            line = f"{self.code.const(kind, 'f')}({', '.join(texts)})"
        self.value[i] = self.name(i)
        self.lines[i] = f"{self.name(i)} = {line}"
        self.reads[i] = tuple(j for j in parents if j is not None)
        # the tangent: partial times each parent's entries, summed in input order
        entries: dict = {}
        for pos, j in enumerate(parents):
            if j is None or not self.tangent.get(j):
                continue
            partial = node.rule.partials[pos]
            if partial is ONE:
                p = 1.0
            elif partial is NEG_ONE:
                p = -1.0
            else:
                p = self.partial(node, kind, pos, texts, parents)
            for entry, e in self.tangent[j].items():
                term = self.product(p, e)
                if entry in entries:
                    entries[entry] = self.total(entries[entry], term)
                else:
                    entries[entry] = term
        self.tangent[i] = {k: self.settle(i, k, e) for k, e in entries.items()}

    def partial(self, node, kind, pos: int, texts: list, parents: list):
        """The partial derivative at ``pos``: a float if it is known now, else an expression."""
        other = texts[1 - pos] if len(texts) == 2 else None
        if kind is np.multiply:
            j = parents[1 - pos]
            return float(node.args[1 - pos]) if j is None else self.use(j, other)
        if kind is np.divide or kind is np.true_divide:
            if pos == 0:
                j = parents[1]
                return 1.0 / float(node.args[1]) if j is None else f"(1.0 / {self.use(j, texts[1])})"
            self.want(node.index)
            return f"(-{self.name(node.index)} / {self.use_text(parents[1], texts[1])})"
        if kind is np.power and pos == 0 and parents[1] is None and float(node.args[1]).is_integer():
            y = float(node.args[1])
            if y == 0:
                return 0.0
            return f"({self.const(y)} * {self.use(parents[0], texts[0])} ** {self.const(y - 1)})"
        # any other rule: its own partial function, on the values
        self.want(node.index)
        for j in parents:
            if j is not None:
                self.want(j)
        name = f"q{node.index}_{pos}"
        partial = node.rule.partials[pos]
        call = inlined(partial, [self.name(node.index)] + list(texts), self.code) \
            or f"{self.code.const(partial, 'p')}({self.name(node.index)}, {', '.join(texts)})"
        self.extra_lines.setdefault(node.index, []).append(f"{name} = float({call})")
        return name

    def use(self, j, text):
        if j is not None:
            self.want(j)
        return text

    def use_text(self, j, text):
        return self.use(j, text)

    def want(self, j: int) -> None:
        if j in self.lines and j not in self.wanted:
            self.wanted.add(j)
            for k in self.reads.get(j, ()):
                self.want(k)

    @staticmethod
    def product(p, e):
        if isinstance(p, float) and isinstance(e, float):
            return p * e
        if isinstance(e, float):
            if e == 1.0:
                return p
            if e == -1.0:
                return f"(-{p})"
        if isinstance(p, float):
            if p == 1.0:
                return e
            if p == -1.0:
                return f"(-{e})"
            return f"{p!r} * {e}"
        return f"{p} * {e}"

    @staticmethod
    def total(a, b):
        if isinstance(a, float) and isinstance(b, float):
            return a + b
        def text(e):
            return repr(e) if isinstance(e, float) else e
        return f"{text(a)} + {text(b)}"

    def settle(self, i: int, k: int, e):
        """Give an expression entry a local name (so later uses do not repeat it)."""
        if isinstance(e, float) or e.isidentifier():
            return e
        name = f"g{i}_{k}"
        self.entry_lines.setdefault(i, []).append((name, e))
        return name

    # ---------------------------------------------------------------- the program
    def program(self) -> Callable:
        rec, flow, nodes, code = self.rec, self.flow, self.nodes, self.code
        if flow.output is None or len(nodes) > MAX_NODES:
            raise _Unsupported
        self.extra_lines: dict = {}
        self.entry_lines: dict = {}
        live = live_values(rec, flow, [flow.output])
        out = nodes[flow.output]
        for node in nodes:
            if not (flow.varies[node.index] and live[node.index]) or node.index == flow.output:
                continue
            self.visit(node)
        # the output: one scalar, or a stack of scalars (np.concatenate of one-entry reshapes)
        if value_shape(out.value) == ():
            self.visit(out)
            rows = [out.index]
        elif out.func is np.concatenate and len(out.args) == 1 and out.kwargs.get("axis", 0) == 0:
            links = {sub: p.index for pos, sub, p in out.inputs if pos == 0 and sub is not None}
            items = out.args[0]
            if len(links) != len(items) or any(links[s] not in self.value for s in range(len(items))):
                raise _Unsupported
            if any(value_shape(nodes[links[s]].value) != (1,) for s in range(len(items))):
                raise _Unsupported
            rows = [links[s] for s in range(len(items))]
        else:
            raise _Unsupported
        for g in rec.guards:  # the values guards read
            for r in guard_refs(g):
                if flow.varies[r]:
                    if r not in self.value and r != rec.x_node:
                        raise _Unsupported
                    self.want(r)
        if self.with_value:
            alias = getattr(self, "alias", {})
            for r in rows:
                while r in alias:
                    r = alias[r]
                self.want(r)
        m, n = len(rows), self.n
        positions, expressions, known = [], [], np.zeros(m * n)
        for r, node_index in enumerate(rows):
            for k, e in sorted(self.tangent[node_index].items()):
                if isinstance(e, float):
                    known[r * n + k] = e
                else:
                    positions.append(r * n + k)
                    expressions.append(e)
        # write: values (wanted ones), partial helpers and entries in node order, guards at their places
        lines = ["xs = x.tolist()"]
        guards_at: dict = {}
        for number, g in enumerate(rec.guards):
            if any(flow.varies[r] for r in guard_refs(g)):
                guards_at.setdefault(g.position, []).append((number, g))
        body = Source()
        body.namespace = code.namespace

        def value_of(j: int) -> str:
            if j == rec.x_node:
                return "x"
            if j in self.value:
                return self.value[j]
            if not flow.varies[j]:
                return code.const(nodes[j].value, "k")
            raise _Unsupported

        def scalar(j: int) -> bool:  # values here are Python floats (or numpy scalars): not x itself
            return j != rec.x_node and np.ndim(nodes[j].value) == 0

        for node in nodes:
            i = node.index
            for number, g in guards_at.get(i, ()):
                before = len(code.lines)
                guard_lines(number, g, code, value_of, scalar, nodes)
                lines.extend(code.lines[before:])
            if i in self.wanted:
                lines.append(self.lines[i])
            lines.extend(self.extra_lines.get(i, ()))
            lines.extend(f"{name} = {e}" for name, e in self.entry_lines.get(i, ()))
        for number, g in guards_at.get(len(nodes), ()):
            before = len(code.lines)
            guard_lines(number, g, code, value_of, scalar, nodes)
            lines.extend(code.lines[before:])
        code.lines = [ln for ln in lines if not ln.startswith("xs = ") or True]
        code.namespace["np"] = np
        known_name = code.const(known.reshape(m, n), "Z")
        if expressions:
            pos = code.const(np.array(positions, dtype=np.intp), "P")
            code.line(f"J = {known_name}.copy()")
            code.line(f"J.flat[{pos}] = ({', '.join(expressions)},)")
        else:
            code.line(f"J = {known_name}.copy()")
        code.namespace["isfinite"] = math.isfinite
        code.line("if not isfinite(J.sum()): raise FloatingPointError('not finite')")
        if not self.with_value:
            code.line(f"return J.reshape({value_shape(out.value) + (n,)!r})")
        elif value_shape(out.value) == ():
            code.line(f"return float64({self.value[rows[0]]}), J.reshape({(n,)!r})")
        else:
            code.line(f"return np.array([{', '.join(self.value[r] for r in rows)}]), J")
        code.namespace["float64"] = np.float64
        program = code.compile("jacobian", parameters(rec), hoist=True)
        program.checks_finite = True  # a non-finite Jacobian raises inside: the plain path decides
        return program
