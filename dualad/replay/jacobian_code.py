"""The Jacobian replay program: tangents seeded with the identity, their structure decided when written.

With the identity as x's tangent, much of a tangent program is known before
any call:

* **constants**: a tangent that depends on the seed alone (``x[3]``'s is row 3
  of the identity; ``W @ x`` with a constant ``W`` has ``W``; ``x[1] - x[0]``
  has ``e1 - e0``) is computed once, when the program is written, and becomes
  a constant of the namespace;
* **diagonals**: while only elementwise operations act on x-shaped values the
  tangent is ``diag(d)``; the program carries ``d`` (n numbers, not n x n) and
  forms the matrix only where an operation mixes entries, or at the output;
* everything else is an ordinary dense tangent, as in :mod:`.forward_code`.

The function returns the Jacobian in its final shape ``f(x).shape + x.shape``.

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> rec = record(lambda v: np.tanh(W @ v) * v[0], (np.zeros(2),), 0)
>>> run = jacobian_program(rec)
>>> np.allclose(run(np.array([0.1, 0.2])), __import__("dualad").jacobian(lambda v: np.tanh(W @ v) * v[0],
...                                                                       np.array([0.1, 0.2])))
True
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, Linear
from ..tape.graph import value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, keywords
from .forward_code import _safe, emit_values, fit, live_values, parameters
from .recording import Recording

__all__ = ["jacobian_program", "diagonal_tangent"]


def diagonal_tangent(d, shape: tuple):
    """The dense tangent ``shape + (n,)`` of ``diag(d)`` (``d`` broadcast to ``shape``)."""
    n = math.prod(shape)
    out = np.zeros((n, n), dtype=np.result_type(d, np.float64))
    out.flat[::n + 1] = np.ravel(np.broadcast_to(d, shape))
    return out.reshape(shape + (n,))


class _Tangent:
    """What the program knows of a tangent: ``kind`` 'const' (``array``), 'diag' (``expr`` or the
    constant ``array`` of the diagonal) or 'dense' (``expr``, a name in the program)."""

    __slots__ = ("kind", "array", "expr")

    def __init__(self, kind: str, array=None, expr: str | None = None):
        self.kind, self.array, self.expr = kind, array, expr


def jacobian_program(rec: Recording, flow: Flow | None = None) -> Callable:
    """Compile ``run(x, *extras)`` returning the Jacobian (shape ``f(x).shape + x.shape``)."""
    flow = flow or Flow(rec)
    code = Source()
    nodes = rec.tape.nodes
    out = flow.output
    x_shape = value_shape(nodes[rec.x_node].value)
    n = math.prod(x_shape)
    y_shape = value_shape(rec.tape.value)
    dtype = np.result_type(np.asarray(nodes[rec.x_node].value).dtype, np.float64)
    live = live_values(rec, flow, [] if out is None else [out])
    needed = flow.needed_backward
    for node in nodes:
        if needed[node.index]:
            live[node.index] = True
            for _, _, p in node.inputs:
                live[p.index] = True
    live = live_values(rec, flow, [i for i, flag in enumerate(live) if flag])
    const_value: dict = {}

    def value_of(j: int) -> str:
        if flow.varies[j]:
            return f"v{j}"
        name = const_value.get(j)
        if name is None:
            name = const_value[j] = code.const(nodes[j].value, "k")
        return name

    tangents: dict = {}

    def dense(j: int) -> _Tangent:
        """Tangent ``j`` as 'const' or 'dense' (a diagonal is formed here, once)."""
        t = tangents[j]
        if t.kind != "diag":
            return t
        if t.array is not None:
            t = _Tangent("const", diagonal_tangent(t.array, value_shape(nodes[j].value)))
        else:
            code.line(f"m{j} = diagonal_tangent({t.expr}, {value_shape(nodes[j].value)!r})")
            t = _Tangent("dense", expr=f"m{j}")
        tangents[j] = t
        return t

    def name_of(t: _Tangent) -> str:
        return t.expr if t.kind == "dense" else code.const(t.array, "C")

    def elementwise(node) -> _Tangent:
        i = node.index
        shape = value_shape(node.value)
        args = arguments(node, code, value_of)
        parts = []  # (partial: ONE | NEG_ONE | (expr, scalar?), parent index)
        for pos, _, parent in node.inputs:
            if needed[parent.index]:
                partial = node.rule.partials[pos]
                if partial is ONE or partial is NEG_ONE:
                    parts.append((partial, parent.index))
                else:
                    probe = _safe(partial, node.value, *node.args)
                    scalar = probe is not None and np.ndim(probe) == 0
                    parts.append(((f"{code.const(partial, 'p')}({value_of(i)}, {', '.join(args)})", scalar,
                                   np.shape(probe) if probe is not None else shape), parent.index))
        diagonal = shape == x_shape and all(tangents[j].kind == "diag" and value_shape(nodes[j].value) == shape
                                            for _, j in parts)
        if diagonal:  # d = sum of partial * d_parent, all of x's shape
            terms, consts = [], []
            for partial, j in parts:
                t = tangents[j]
                d = t.expr if t.array is None else None
                if partial is ONE or partial is NEG_ONE:
                    sign = 1.0 if partial is ONE else -1.0
                    if d is None:
                        consts.append(sign * t.array)
                    else:
                        terms.append(d if sign > 0 else f"(-{d})")
                else:
                    p = partial[0]
                    if d is None and np.ndim(t.array) == 0 and t.array == 1.0:
                        terms.append(p)
                    else:
                        terms.append(f"{p} * {d if d is not None else code.const(t.array, 'D')}")
            if not terms:
                return _Tangent("diag", array=sum(consts))
            if consts:
                terms.append(code.const(sum(consts), "D"))
            expr = " + ".join(terms)
            if len(terms) == 1 and expr.isidentifier():
                return _Tangent("diag", expr=expr)
            code.line(f"d{i} = {expr}")
            return _Tangent("diag", expr=f"d{i}")
        terms, consts, shapes = [], [], []
        for partial, j in parts:
            t = dense(j)
            pshape = value_shape(nodes[j].value)
            if partial is ONE or partial is NEG_ONE:
                sign = 1.0 if partial is ONE else -1.0
                if t.kind == "const":
                    consts.append(sign * t.array)
                else:
                    terms.append(t.expr if sign > 0 else f"(-{t.expr})")
                shapes.append(pshape)
            else:
                p, scalar, probe_shape = partial
                terms.append(f"{p} * {name_of(t)}" if scalar else f"{p}[..., None] * {name_of(t)}")
                shapes.append(pshape if scalar else np.broadcast_shapes(probe_shape, pshape))
        if not terms:
            total = sum(consts)
            return _Tangent("const", np.array(np.broadcast_to(total, shape + (n,))))
        if consts:
            total = sum(consts)
            terms.append(code.const(total, "C"))
            shapes.append(np.shape(total)[:-1])
        expr = " + ".join(terms)
        try:
            covered = np.broadcast_shapes(*shapes) == shape
        except ValueError:
            covered = False
        if not covered:
            expr = f"fit({expr}, {shape!r})"
        code.line(f"t{i} = {expr}")
        return _Tangent("dense", expr=f"t{i}")

    def linear(node) -> _Tangent:
        i = node.index
        shape = value_shape(node.value)
        rule: Linear = node.rule
        args = arguments(node, code, value_of)
        kw = keywords(node, code)
        terms, consts = [], []
        positions = {pos for pos, _, _ in node.inputs}
        for pos, _, parent in node.inputs:
            j = parent.index
            if not needed[j]:
                continue
            t = dense(j)
            others_fixed = all(not flow.varies[p.index] for q, _, p in node.inputs if q != pos)
            others_fixed = others_fixed and positions is not None
            if t.kind == "const" and others_fixed:
                with np.errstate(all="ignore"):
                    consts.append(fit(np.asarray(rule.tangent[pos](t.array, *node.args, **node.kwargs)), shape))
            else:
                terms.append(f"{code.const(rule.tangent[pos], 'L')}({name_of(t)}, {', '.join(args)}{kw})")
        if not terms:
            return _Tangent("const", np.array(sum(consts)))
        if consts:
            terms.append(code.const(np.array(sum(consts)), "C"))
        code.line(f"t{i} = fit({' + '.join(terms)}, {shape!r})")
        return _Tangent("dense", expr=f"t{i}")

    def custom(node) -> _Tangent:
        i = node.index
        args = arguments(node, code, value_of)
        slots: list = [None] * len(node.args)
        for pos, sub, parent in node.inputs:
            t = name_of(dense(parent.index)) if needed[parent.index] else "None"
            if sub is None:
                slots[pos] = t
            else:
                if slots[pos] is None:
                    slots[pos] = ["None"] * len(node.args[pos])
                slots[pos][sub] = t
        items = ["None" if s is None else s if isinstance(s, str) else "[" + ", ".join(s) + "]" for s in slots]
        call = (f"{code.const(node.rule.jvp, 'J')}({value_of(i)}, ({', '.join(args)}{',' if len(args) == 1 else ''}), "
                f"{code.const(node.kwargs)}, [{', '.join(items)}])")
        if isinstance(node.value, tuple):
            code.line(f"t{i} = {call}")
        else:
            code.line(f"t{i} = fit({call}, {value_shape(node.value)!r})")
        return _Tangent("dense", expr=f"t{i}")

    def tangent_line(node) -> None:
        i = node.index
        if not needed[i]:
            return
        kind = kind_of(node)
        if kind == "input":
            tangents[i] = _Tangent("diag", array=np.ones((), dtype))
        elif kind == "output":
            (_, _, parent), = node.inputs
            code.line(f"t{i} = t{parent.index}[{node.rule.i}]")
            tangents[i] = _Tangent("dense", expr=f"t{i}")
        elif kind == "elementwise":
            tangents[i] = elementwise(node)
        elif kind == "linear":
            tangents[i] = linear(node)
        else:
            tangents[i] = custom(node)

    code.namespace.update(fit=fit, diagonal_tangent=diagonal_tangent, np=np)
    emit_values(rec, flow, code, live, value_of, tangent_line)
    final = y_shape + x_shape
    if out is None or not needed[out]:
        code.line(f"return np.zeros({final!r})")
    else:
        t = tangents[out]
        if t.kind == "diag":
            d = t.expr if t.array is None else code.const(t.array, "D")
            code.line(f"return diagonal_tangent({d}, {y_shape!r}).reshape({final!r})")
        elif t.kind == "const":
            code.line(f"return {code.const(np.reshape(t.array, final), 'C')}.copy()")
        else:
            code.line(f"return {t.expr}.reshape({final!r})")
    return code.compile("jacobian", parameters(rec))
