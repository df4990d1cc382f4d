"""The reverse replay program: values and guards forward, then the adjoint sweep, as compiled Python.

``run(x, <extras>, U)`` computes the output value, checks the guards, and
sweeps the cotangent ``U`` (the output's shape plus one trailing axis of ``k``
directions) back to x, node by node from the end, by each node's rule:
elementwise partials (summed back over broadcast axes), a linear rule's
``transpose``, a custom rule's ``vjp`` (or its transposed ``jvp``), exactly as
the tape's own sweep does, but with every decision about layout taken once,
when the program is written.

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> rec = record(lambda v: np.sum(v ** 2), (np.array([1.0, 2.0]),), 0)
>>> run = reverse_program(rec)
>>> y, g = run(np.array([3.0, 4.0]), np.ones(1))
>>> float(y), g[:, 0]
(25.0, array([6., 8.]))
"""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, unbroadcast
from ..tape.graph import Node, local_vjp, value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, keywords
from .forward_code import probe_call, emit_values, live_values, parameters
from .recording import Recording

__all__ = ["reverse_program", "fit_adjoint", "custom_step"]


def fit_adjoint(c, like):
    """A contribution with exactly ``like``'s shape plus the direction axis, and its float dtype."""
    want = np.shape(like) + c.shape[-1:]
    if c.shape != want:
        c = np.broadcast_to(c, want)
    dtype = getattr(like, "dtype", None)
    if dtype is not None and dtype.kind == "f" and c.dtype != dtype:
        c = c.astype(dtype)
    return c


def custom_step(template: Node, value, args: tuple, ct) -> list:
    """The contributions of a custom (or tuple-picking) node for cotangent ``ct``, one per input
    link of ``template``, computed by the tape's own :func:`~dualad.tape.graph.local_vjp` at the new
    values."""
    node = Node(template.index, template.func, template.rule, args, template.kwargs, template.inputs, value)
    return [c for _, c in local_vjp(node, ct)]


def reverse_program(rec: Recording, flow: Flow | None = None) -> Callable:
    """Compile ``run(x, *extras, U)`` returning ``(output value, adjoint of x)`` (None if none flowed)."""
    flow = flow or Flow(rec)
    code = Source()
    nodes = rec.tape.nodes
    out = flow.output
    live = live_values(rec, flow, [] if out is None else [out])
    needed = flow.needed_backward
    for node in nodes:  # every value a backward step reads
        if needed[node.index]:
            live[node.index] = True
            for _, _, p in node.inputs:
                live[p.index] = True
    live = live_values(rec, flow, [i for i, flag in enumerate(live) if flag])

    def value_of(j: int) -> str:
        return code.node_value(j, flow.varies, nodes)

    code.namespace.update(fit_adjoint=fit_adjoint, unbroadcast=unbroadcast, custom_step=custom_step)
    emit_values(rec, flow, code, live, value_of)
    if out is None or not needed[out]:
        code.line(f"return {value_of(out) if out is not None else 'None'}, None")
        return code.compile("reverse", parameters(rec) + ["U"])
    has = set()  # nodes whose adjoint has been assigned
    parts: dict = {}  # tuple-valued node -> {item: adjoint name}

    own = set()  # adjoints held in a fresh array of this program's (a sum, a getitem's scatter buffer)

    def add(parent: int, expr: str) -> None:
        if parent in has:
            code.line(f"a{parent} = a{parent} + {expr}")
            own.add(parent)  # a new array, referenced by this name alone until the parent is swept
        else:
            code.line(f"a{parent} = {expr}")
            has.add(parent)

    code.line(f"a{out} = U")
    has.add(out)
    for node in reversed(nodes):
        i = node.index
        if not needed[i] or node.func is None:
            continue
        kind = kind_of(node)
        if kind == "output":
            (_, _, parent), = node.inputs
            if i in has:
                parts.setdefault(parent.index, {})[node.rule.i] = f"a{i}"
            continue
        if isinstance(node.value, tuple):
            items = parts.get(i)
            if not items:
                continue
            ct = "(" + ", ".join(items.get(j, "None") for j in range(len(node.value))) + ",)"
        elif i in has:
            ct = f"a{i}"
        else:
            continue
        shape = value_shape(node.value)
        args = arguments(node, code, value_of)
        if kind == "elementwise":
            for pos, _, parent in node.inputs:
                if not needed[parent.index]:
                    continue
                partial = node.rule.partials[pos]
                pshape = value_shape(parent.value)
                if partial is ONE:
                    c = ct
                elif partial is NEG_ONE:
                    c = f"(-{ct})"
                else:
                    probe = probe_call(partial, node.value, *node.args)
                    p = f"{code.const(partial, 'p')}({value_of(i)}, {', '.join(args)})"
                    c = f"{p} * {ct}" if probe is not None and np.ndim(probe) == 0 else f"{p}[..., None] * {ct}"
                    if probe is None or np.broadcast_shapes(np.shape(probe), pshape) != shape:
                        c = f"fit_adjoint({c}, {value_of(parent.index)})"
                if pshape != shape:
                    c = f"unbroadcast({c}, {pshape!r})"
                add(parent.index, c)
        elif kind == "linear":
            kw = keywords(node, code)
            for pos, _, parent in node.inputs:
                if not needed[parent.index]:
                    continue
                j = parent.index
                into = node.rule.transpose_into.get(pos)
                if into is not None and j in own and isinstance(parent.value, np.ndarray) \
                        and parent.value.dtype.kind == "f":
                    # x[a:b] of a long x: added into x's adjoint in place, as the tape's sweep does
                    code.line(f"a{j} = {code.const(into, 'R')}(a{j}, {ct}, {', '.join(args)}{kw})")
                    continue
                fresh = j not in has and node.func is operator.getitem and into is not None
                transpose = code.const(node.rule.transpose[pos], "R")
                add(j, f"fit_adjoint({transpose}({ct}, {', '.join(args)}{kw}), {value_of(j)})")
                if fresh:  # the transpose scattered into a zero buffer of its own
                    own.add(j)
        else:  # custom: the tape's own step at the new values (tuples, list arguments, transposed jvps)
            targs = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
            code.line(f"s{i} = custom_step({code.const(node, 'n')}, {value_of(i)}, {targs}, {ct})")
            for slot, (pos, sub, parent) in enumerate(node.inputs):
                if needed[parent.index]:
                    add(parent.index, f"fit_adjoint(s{i}[{slot}], {value_of(parent.index)})")
    x = rec.x_node
    code.line(f"return v{out}, {'a' + str(x) if x in has else 'None'}")
    return code.compile("reverse", parameters(rec) + ["U"])
