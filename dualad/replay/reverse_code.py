"""The reverse replay program: values and guards forward, then the adjoint sweep, as compiled Python.

``run(x, <extras>, U)`` computes the output value, checks the guards, and
sweeps the cotangent ``U`` (the output's shape plus one trailing axis of ``k``
directions; with ``directions=False`` one cotangent of the output's shape,
as a gradient or a vjp needs) back to x, node by node from the end, by each node's rule:
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

import math
import operator
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, unbroadcast
from ..tape.graph import Node, local_vjp, value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, keywords
from .forward_code import probe_call, emit_values, live_values, parameters
from .recording import Recording

__all__ = ["reverse_program", "fit_adjoint", "custom_step", "fit_single", "sum_to", "custom_step_single"]


def fit_adjoint(c, like):
    """A contribution with exactly ``like``'s shape plus the direction axis, and its float dtype."""
    want = np.shape(like) + c.shape[-1:]
    if c.shape != want:
        c = np.broadcast_to(c, want)
    dtype = getattr(like, "dtype", None)
    if dtype is not None and dtype.kind == "f" and c.dtype != dtype:
        c = c.astype(dtype)
    return c


def fit_single(c, like):
    """A single cotangent's contribution with exactly ``like``'s shape and float dtype (no direction axis)."""
    want = np.shape(like)
    if np.shape(c) != want:
        c = np.broadcast_to(c, want)
    dtype = getattr(like, "dtype", None)
    if dtype is not None and dtype.kind == "f" and getattr(c, "dtype", None) != dtype:
        c = np.asarray(c, dtype=dtype)
    return c


def sum_to(c, shape: tuple):
    """A single cotangent summed down to ``shape``, undoing broadcasting (:func:`~dualad.rules.unbroadcast`
    without the direction axis).

    numpy reduces an axis that has a short axis inside it (``(K, n, 2) -> (K, 1, 2)``) one short
    row at a time, 20-30 times slower than a pass over the memory; a contiguous block of summed
    axes is therefore summed as a product with a vector of ones (one BLAS pass), the rest by np.sum.
    """
    have = np.shape(c)
    if have == shape:
        return c
    lead = len(have) - len(shape)
    summed = list(range(lead)) + [lead + i for i, n in enumerate(shape) if n == 1 and have[lead + i] != 1]
    if not summed:
        return np.reshape(c, shape)
    if type(c) is np.ndarray and c.dtype in _BLAS_FLOATS and c.size >= 4096:
        while summed:  # the last contiguous block of summed axes first
            stop = summed[-1] + 1
            start = stop - 1
            while summed and summed[-1] == start:
                summed.pop()
                start -= 1
            start += 1
            c = _sum_block(c, start, stop)
        return c.reshape(shape)
    if lead > 0:
        c = np.sum(c, axis=tuple(range(lead)))
        have = have[lead:]
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and have[i] != 1)
    if axes:
        c = np.sum(c, axis=axes, keepdims=True)
    return c


_BLAS_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _sum_block(c: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``c`` summed over axes ``start:stop`` (kept as length 1): ``ones @ block`` where the block is long
    enough for a BLAS call to pay, ``np.sum`` otherwise."""
    have = c.shape
    outer, inner = math.prod(have[:start]), math.prod(have[stop:])
    length = math.prod(have[start:stop])
    kept = have[:start] + (1,) * (stop - start) + have[stop:]
    if length < 16 or outer > 4096 or not c.flags.c_contiguous:
        return np.sum(c, axis=tuple(range(start, stop)), keepdims=True)
    ones = np.ones(length, c.dtype)
    if inner == 1:
        return (c.reshape(outer, length) @ ones).reshape(kept)
    return (ones @ c.reshape(outer, length, inner)).reshape(kept)


def _with_axis(ct):
    if isinstance(ct, tuple):
        return tuple(None if c is None else np.asarray(c)[..., None] for c in ct)
    return np.asarray(ct)[..., None]


def custom_step_single(template: Node, value, args: tuple, ct) -> list:
    """:func:`custom_step` for one cotangent without a direction axis: the rules take and give one
    trailing axis, added here and taken off their contributions."""
    return [None if c is None else c[..., 0] for c in custom_step(template, value, args, _with_axis(ct))]


def custom_step(template: Node, value, args: tuple, ct) -> list:
    """The contributions of a custom (or tuple-picking) node for cotangent ``ct``, one per input
    link of ``template``, computed by the tape's own :func:`~dualad.tape.graph.local_vjp` at the new
    values."""
    node = Node(template.index, template.func, template.rule, args, template.kwargs, template.inputs, value)
    return [c for _, c in local_vjp(node, ct)]


def reverse_program(rec: Recording, flow: Flow | None = None, directions: bool = True) -> Callable:
    """Compile ``run(x, *extras, U)`` returning ``(output value, adjoint of x)`` (None if none flowed).

    ``directions=True``: ``U`` and the adjoints carry a trailing axis of directions (Jacobian rows);
    ``False``: one cotangent shaped like the output, and no axis anywhere (a gradient's elementwise
    steps then run on arrays numpy can stream, not on ones with a length-1 inner axis)."""
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

    code.namespace.update(fit_adjoint=fit_adjoint, unbroadcast=unbroadcast, custom_step=custom_step,
                          fit_single=fit_single, sum_to=sum_to, custom_step_single=custom_step_single,
                          zeros=np.zeros, add_at=np.add.at, array=np.array)
    fit_name = "fit_adjoint" if directions else "fit_single"
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

    def single_getitem(node, ct: str, args: list) -> bool:
        """``a[key]``'s adjoint for one cotangent: written into the parent's adjoint in place (a fresh
        zero buffer the first time), repeated advanced indices accumulating like ``np.add.at``."""
        if len(node.inputs) != 1 or node.inputs[0][:2] != (0, None) or len(args) != 2:
            return False  # a list indexed, or an index computed from x: the rule's transpose
        parent = node.inputs[0][2]
        if not needed[parent.index]:
            return True
        j = parent.index
        key = args[1]
        value = parent.value
        dtype = value.dtype if isinstance(value, np.ndarray) and value.dtype.kind == "f" else np.dtype(np.float64)
        advanced = _advanced(node.args[1])
        if j not in own:
            if j in has:  # someone else's array (a view of U, a rule's result): copy before writing into it
                code.line(f"a{j} = array(a{j}, {code.const(dtype, 'T')})")
            else:
                code.line(f"a{j} = zeros({value_shape(value)!r}, {code.const(dtype, 'T')})")
                has.add(j)
            own.add(j)
        if advanced:
            code.line(f"add_at(a{j}, {key}, {ct})")
        else:
            code.line(f"a{j}[{key}] += {ct}")
        return True

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
                    c = f"(-{ct})" if pshape == shape or directions else f"(-sum_to({ct}, {pshape!r}))"
                    if pshape != shape and not directions:  # negated after summing: a pass over the small array
                        add(parent.index, c)
                        continue
                else:
                    probe = probe_call(partial, node.value, *node.args)
                    p = f"{code.const(partial, 'p')}({value_of(i)}, {', '.join(args)})"
                    scalar = probe is not None and np.ndim(probe) == 0
                    c = f"{p} * {ct}" if scalar or not directions else f"{p}[..., None] * {ct}"
                    if probe is None or np.broadcast_shapes(np.shape(probe), pshape) != shape:
                        c = f"{fit_name}({c}, {value_of(parent.index)})"
                if pshape != shape:
                    c = f"unbroadcast({c}, {pshape!r})" if directions else f"sum_to({c}, {pshape!r})"
                add(parent.index, c)
        elif kind == "linear":
            kw = keywords(node, code)
            if not directions and node.func is operator.getitem and not kw and single_getitem(node, ct, args):
                continue
            for pos, _, parent in node.inputs:
                if not needed[parent.index]:
                    continue
                j = parent.index
                into = node.rule.transpose_into.get(pos)
                if into is not None and j in own and isinstance(parent.value, np.ndarray) \
                        and parent.value.dtype.kind == "f" and directions:
                    # x[a:b] of a long x: added into x's adjoint in place, as the tape's sweep does
                    code.line(f"a{j} = {code.const(into, 'R')}(a{j}, {ct}, {', '.join(args)}{kw})")
                    continue
                fresh = j not in has and node.func is operator.getitem and into is not None
                transpose = code.const(node.rule.transpose[pos], "R")
                if directions:
                    add(j, f"fit_adjoint({transpose}({ct}, {', '.join(args)}{kw}), {value_of(j)})")
                else:
                    add(j, f"fit_single({transpose}({ct}[..., None], {', '.join(args)}{kw})[..., 0], "
                           f"{value_of(j)})")
                if fresh and directions:  # the transpose scattered into a zero buffer of its own
                    own.add(j)
        else:  # custom: the tape's own step at the new values (tuples, list arguments, transposed jvps)
            targs = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
            step = "custom_step" if directions else "custom_step_single"
            code.line(f"s{i} = {step}({code.const(node, 'n')}, {value_of(i)}, {targs}, {ct})")
            for slot, (pos, sub, parent) in enumerate(node.inputs):
                if needed[parent.index]:
                    add(parent.index, f"{fit_name}(s{i}[{slot}], {value_of(parent.index)})")

    x = rec.x_node
    code.line(f"return v{out}, {'a' + str(x) if x in has else 'None'}")
    return code.compile("reverse", parameters(rec) + ["U"])


def _advanced(key) -> bool:
    """Does ``key`` hold an index array or list (a repeated index must accumulate)? Boolean masks
    and Refs (index values computed at replay) count as advanced: ``np.add.at`` handles every kind."""
    from .recording import Ref
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        if isinstance(k, (Ref, list, np.ndarray)):
            return True
    return False
