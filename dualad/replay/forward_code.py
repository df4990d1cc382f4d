"""The forward replay program: values, guards and (optionally) tangents, as compiled Python.

For a recording of ``f`` this writes a function ``run(x, <extras>, T)`` whose
body is one line per recorded numpy call that depends on the arguments (the
rest are constants of the namespace), the guards in the order ``f`` made its
decisions, and for each node on a path from x to the output its tangent by
the node's rule: elementwise partials times the parents' tangents, a linear
rule's ``tangent`` map, a custom rule's ``jvp``. Tangents carry one trailing
axis of directions (``T`` has ``x.shape + (k,)``).

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> rec = record(lambda v: np.sin(v) * v[0], (np.array([1.0, 2.0]),), 0)
>>> run = forward_program(rec, tangents=True)
>>> y, t = run(np.array([0.0, 1.0]), np.eye(2))
>>> t.round(6)  # d/dv (sin(v) v0) = diag(cos v) v0 + sin(v) e0
array([[0.      , 0.      ],
       [0.841471, 0.      ]])
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..rules import NEG_ONE, ONE
from ..tape.graph import value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, custom_jvp_call, fitted_sum, guard_lines, keywords, tangent_slots
from .inline import inlined
from .recording import Recording, Ref

__all__ = ["forward_program", "fit", "parameters", "live_values", "probe_call", "emit_values", "guard_refs"]


def fit(t, shape: tuple):
    """``t`` with exactly ``shape + (k,)`` (a rule may return a broadcastable tangent)."""
    if t.shape[:-1] != shape:
        t = np.broadcast_to(t, shape + t.shape[-1:])
    return t


def known_selection_tangent(node, parents, known: Callable[[Any], np.ndarray]) -> np.ndarray:
    """The tangent of a selection rule's node (``concatenate``, ``where`` on a recorded condition) whose
    differentiated ``parents`` (``(pos, sub, parent)``) all have tangents known when the program is
    written (``known(parent)``): such a rule only moves entries, at positions the trace's shapes fix,
    so its tangent is known then too (``concatenate((zero, u[:-1]))`` of a stencil)."""
    slots = tangent_slots(node, parents, known)
    with np.errstate(all="ignore"):
        t = node.rule.jvp(node.value, node.args, node.kwargs, slots)
    return np.array(fit(np.asarray(t), value_shape(node.value)))


def parameters(rec: Recording) -> list:
    """The program's parameter names: x, then each extra argument recorded as a value."""
    return ["x"] + [f"e{pos}" for pos in sorted(rec.extra_nodes)]


def _refs(obj, out: list) -> None:
    if isinstance(obj, Ref):
        out.append(obj.node)
    elif type(obj) in (list, tuple):
        for o in obj:
            _refs(o, out)


def guard_refs(guard) -> list:
    out: list = []
    _refs(guard.args, out)
    _refs(tuple(guard.kwargs.values()), out)
    return out


def live_values(rec: Recording, flow: Flow, roots: list) -> list:
    """Per node: is its value needed to compute ``roots`` (node indices) and the guards?"""
    nodes = rec.tape.nodes
    live = [False] * len(nodes)
    for r in roots:
        live[r] = True
    for g in rec.guards:
        for r in guard_refs(g):
            live[r] = True
    for node in reversed(nodes):
        i = node.index
        if live[i] and flow.varies[i]:
            for _, _, p in node.inputs:
                live[p.index] = True
            for _, _, p in rec.sources.get(i, ()):
                live[p.index] = True
    return live


def probe_call(fn, *args):
    with np.errstate(all="ignore"):
        try:
            return fn(*args)
        except Exception:  # only a shape probe: the replay itself will call it for real
            return None


def emit_values(rec: Recording, flow: Flow, code: Source, live: list, value_of, tangent_line=None,
                special=None) -> None:
    """Value lines of every live varying node, guards in order; ``tangent_line(node)`` after each node.

    ``special(node)``, if given, may write a node's lines itself (returning True), e.g. a block of
    vectorised scalar nodes (:mod:`.vectorize`).
    """
    nodes = rec.tape.nodes
    guards_at: dict = {}
    for number, g in enumerate(rec.guards):
        if any(flow.varies[r] for r in guard_refs(g)):
            guards_at.setdefault(g.position, []).append((number, g))
    params = {rec.x_node: "x", **{i: f"e{pos}" for pos, i in rec.extra_nodes.items()}}
    for node in nodes:
        i = node.index
        for number, g in guards_at.get(i, ()):
            guard_lines(number, g, code, value_of, nodes=nodes)
        if not (flow.varies[i] and live[i]):
            continue
        if special is not None and special(node):
            continue
        kind = kind_of(node)
        if kind == "input":
            code.line(f"v{i} = {params[i]}")
        elif kind == "output":
            (_, _, parent), = node.inputs
            code.line(f"v{i} = {value_of(parent.index)}[{node.rule.i}]")
        else:
            links = rec.sources.get(i, ()) if kind == "zero" else None
            args = arguments(node, code, value_of, links)
            method = _METHODS.get(node.func) if args else None
            if node.func is np.matmul and _dot_gives_matmul(node, flow):
                # a constant matrix times a vector: ndarray.dot, the same BLAS call without matmul's
                # generalized-ufunc dispatch (about 0.6 us less per call)
                code.line(f"v{i} = {args[0]}.dot({args[1]})")
            elif method is not None and type(_first_value(node)) is np.ndarray \
                    and set(node.kwargs) <= {"axis", "keepdims", "dtype", "order"}:
                # np.sum(a, ...) is a.sum(...) for an ndarray a (the same reduction), without the
                # fromnumeric wrapper's cost (about 1.5 us a call)
                rest = ", ".join(args[1:])
                code.line(f"v{i} = {args[0]}.{method}({rest}{keywords(node, code) if rest else _bare(keywords(node, code))})")
            else:
                code.line(f"v{i} = {code.const(node.func, 'f')}({', '.join(args)}{keywords(node, code)})")
        if tangent_line is not None:
            tangent_line(node)
    for number, g in guards_at.get(len(nodes), ()):
        guard_lines(number, g, code, value_of, nodes=nodes)


#: numpy functions that are an ndarray method with the same arguments after the array (fromnumeric)
_METHODS = {np.sum: "sum", np.prod: "prod", np.max: "max", np.min: "min", np.amax: "max", np.amin: "min",
            np.reshape: "reshape", np.transpose: "transpose", np.mean: "mean", np.cumsum: "cumsum",
            np.squeeze: "squeeze", np.ravel: "ravel"}


def _operand(node, pos: int, flow: Flow):
    """(recorded value, varies?) of ``node``'s positional argument ``pos``."""
    for q, sub, parent in node.inputs:
        if q == pos:
            return (parent.value, flow.varies[parent.index]) if sub is None else (None, True)
    value = node.args[pos]
    if isinstance(value, Ref):
        return None, True
    return value, False


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _dot_gives_matmul(node, flow: Flow) -> bool:
    """May ``np.matmul(a, b)`` be written ``a.dot(b)``? For a matrix known now (an ndarray, C- or
    F-contiguous) and a vector that varies (an ndarray: x, an extra array or a value the program
    computed), both float32 or both float64: both calls hand the same gemv to BLAS, bit for bit, for a
    contiguous or positively strided vector (a negatively strided one, ``x[::-1]`` passed in, dot
    copies first: its bits are numpy's matmul of that copy, which can differ from matmul of the view
    in the last place). Not for a strided matrix (matmul then takes its own loop), nor for a varying
    matrix (its strides are not known now)."""
    if len(node.args) != 2 or node.kwargs:
        return False
    (a, a_varies), (b, b_varies) = _operand(node, 0, flow), _operand(node, 1, flow)
    if a_varies == b_varies:
        return False
    matrix, vector = (b, a) if a_varies else (a, b)
    return (type(matrix) is np.ndarray and matrix.ndim == 2
            and (matrix.flags.c_contiguous or matrix.flags.f_contiguous)
            and type(vector) is np.ndarray and vector.ndim == 1
            and matrix.dtype in _BLAS_FLOATS and vector.dtype == matrix.dtype)


def _first_value(node):
    """The recorded value of ``node``'s first argument (the array a method would be called on)."""
    for pos, sub, parent in node.inputs:
        if pos == 0 and sub is None:
            return parent.value
    return node.args[0] if node.args else None


def _bare(kw: str) -> str:
    return kw[2:] if kw.startswith(", ") else kw


def forward_program(rec: Recording, tangents: bool = True, flow: Flow | None = None) -> Callable:
    """Compile ``run(x, *extras[, T])`` returning the output value (and its tangent for seed ``T``)."""
    flow = flow or Flow(rec)
    code = Source()
    nodes = rec.tape.nodes
    out = flow.output
    live = live_values(rec, flow, [] if out is None else [out])

    def value_of(j: int) -> str:
        return code.node_value(j, flow.varies, nodes)

    needed = flow.needed_backward if tangents else [False] * len(nodes)

    def tangent_line(node) -> None:
        i = node.index
        if not needed[i]:
            return
        kind = kind_of(node)
        shape = value_shape(node.value)
        if kind == "input":
            code.line(f"t{i} = T")
            return
        if kind == "output":
            (_, _, parent), = node.inputs
            code.line(f"t{i} = t{parent.index}[{node.rule.i}]")
            return
        args = arguments(node, code, value_of)
        if kind == "elementwise":
            terms, shapes = [], []
            for pos, _, parent in node.inputs:
                if not needed[parent.index]:
                    continue
                partial = node.rule.partials[pos]
                pshape = value_shape(parent.value)
                if partial is ONE:
                    terms.append(f"t{parent.index}")
                    shapes.append(pshape)
                elif partial is NEG_ONE:
                    terms.append(f"-t{parent.index}")
                    shapes.append(pshape)
                else:
                    probe = probe_call(partial, node.value, *node.args)
                    p = inlined(partial, [f"v{i}"] + args, code) or f"{code.const(partial, 'p')}(v{i}, {', '.join(args)})"
                    if probe is not None and np.ndim(probe) == 0:
                        terms.append(f"{p} * t{parent.index}")
                        shapes.append(pshape)
                    else:
                        terms.append(f"{p}[..., None] * t{parent.index}")
                        shapes.append(np.broadcast_shapes(np.shape(probe) if probe is not None else shape, pshape))
            expr = fitted_sum(terms, shapes, shape)
            code.line(f"t{i} = {expr}")
            return
        kw = keywords(node, code)
        if kind == "linear":
            terms = []
            for pos, _, parent in node.inputs:
                if needed[parent.index]:
                    tangent = code.const(node.rule.tangent[pos], "L")
                    terms.append(f"{tangent}(t{parent.index}, {', '.join(args)}{kw})")
            code.line(f"t{i} = fit({' + '.join(terms)}, {shape!r})")
            return
        if kind == "custom":
            code.line(f"t{i} = " + custom_jvp_call(node, code, args, f"v{i}", node.inputs, lambda parent: (
                f"t{parent.index}" if needed[parent.index] else "None")))
            return
        raise AssertionError(f"no tangent line for a {kind} node")  # zero/constant nodes are never active

    code.namespace["fit"] = fit
    emit_values(rec, flow, code, live, value_of, tangent_line if tangents else None)
    if out is None:
        code.line("return None, None" if tangents else "return None")
    elif tangents and needed[out]:
        code.line(f"return v{out}, t{out}")
    elif tangents:
        code.line(f"return v{out}, None")
    else:
        code.line(f"return v{out}")
    params = parameters(rec) + (["T"] if tangents else [])
    return code.compile("forward" if tangents else "values", params, release=True, hoist=True)
