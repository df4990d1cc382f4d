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

from ..rules import NEG_ONE, ONE, Linear, normalize_axes
from ..tape.graph import value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, custom_jvp_call, fitted_sum, keywords, selected_argument, unused_dropped
from .forward_code import probe_call, emit_values, fit, known_selection_tangent, live_values, parameters
from .inline import inlined
from .recording import Recording
from .sparse_code import parameters_read
from .vectorize import Block, contiguous, plan

__all__ = ["jacobian_program", "diagonal_tangent"]


def diagonal_tangent(d, shape: tuple):
    """The dense tangent ``shape + (n,)`` of ``diag(d)`` (``d`` broadcast to ``shape``)."""
    n = math.prod(shape)
    out = np.zeros((n, n), dtype=np.result_type(d, np.float64))
    out.flat[::n + 1] = np.ravel(np.broadcast_to(d, shape))
    return out.reshape(shape + (n,))


def _total(parts: list):
    """The sum of a node's constant parts (arrays known now)."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


class _Tangent:
    """What the program knows of a tangent: ``kind`` 'const' (``array``), 'diag' (``expr`` or the
    constant ``array`` of the diagonal) or 'dense' (``expr``, a name in the program)."""

    __slots__ = ("kind", "array", "expr", "full", "check", "product", "base")

    def __init__(self, kind: str, array=None, expr: str | None = None, full: bool = False, check=None,
                 product=None, base=None):
        # (p, T, line) of a tangent written p[..., None] * T on line ``line``, used once
        self.product = product
        self.kind, self.array, self.expr = kind, array, expr
        # a 'diag' tangent may carry a constant part too: diag(d) + base (``base`` of shape + (n,), known
        # now: the stencil of a residual such as u[:-1] - 2u + u[1:], beside its elementwise terms)
        self.base = base
        self.full = full  # a diagonal expression known to have x's whole shape (not a broadcast number)
        # (name, shape) of a factor whose finiteness implies the tangent's: p of p[..., None] * C, C finite
        self.check = check


def jacobian_program(rec: Recording, flow: Flow | None = None, vectorize: bool = True) -> Callable:
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
    tangent_uses: dict = {}  # node -> how many nodes read its tangent (the output counts as one)
    for node in nodes:
        if needed[node.index]:
            for _, _, parent in node.inputs:
                tangent_uses[parent.index] = tangent_uses.get(parent.index, 0) + 1
    if out is not None:
        tangent_uses[out] = tangent_uses.get(out, 0) + 1
    if vectorize:
        block_plan = plan(rec, flow, live)
        vectorize = block_plan is not None

    lane_of = {}

    def value_of(j: int) -> str:
        if j in lane_of:
            return f"R[{lane_of[j]}]"
        return code.node_value(j, flow.varies, nodes)

    tangents: dict = {}

    formed: dict = {}  # node -> its diagonal tangent as a matrix (formed once, where first needed)

    def dense(j: int) -> _Tangent:
        """Tangent ``j`` as 'const' or 'dense' (a diagonal is formed here, once; ``tangents[j]`` keeps the
        diagonal, so later elementwise readers still carry n numbers)."""
        t = tangents[j]
        if t.kind != "diag":
            return t
        hit = formed.get(j)
        if hit is not None:
            return hit
        shape = value_shape(nodes[j].value)
        if t.array is not None:
            matrix = diagonal_tangent(t.array, shape)
            hit = _Tangent("const", matrix if t.base is None else matrix + t.base)
        else:
            base = "" if t.base is None else f" + {code.const(t.base, 'C')}"
            code.line(f"m{j} = diagonal_tangent({t.expr}, {shape!r}){base}")
            hit = _Tangent("dense", expr=f"m{j}")
        formed[j] = hit
        return hit

    def constant_partial(node, pos: int, partial):
        """The partial at ``pos`` as a value known now, or None: ONE/NEG_ONE, or a partial whose code reads
        no value that varies (``u / h2``'s ``1 / h2``, ``2.0 * u``'s ``2.0``; see sparse_code.parameters_read)."""
        if partial is ONE:
            return 1.0
        if partial is NEG_ONE:
            return -1.0
        reads = parameters_read(partial)
        if reads is None or 0 in reads:
            return None
        for q, _, parent in node.inputs:
            if (q + 1) in reads and flow.varies[parent.index]:
                return None
        value = probe_call(partial, node.value, *node.args)
        if value is None or not isinstance(value, (float, np.ndarray, np.floating)):
            return None
        return value

    def name_of(t: _Tangent) -> str:
        return t.expr if t.kind == "dense" else code.const(t.array, "C")

    def elementwise(node) -> _Tangent:
        i = node.index
        shape = value_shape(node.value)
        args = arguments(node, code, value_of)
        # (partial, parent index); partial ("c", value known now) or ("r", text, scalar?, probe shape)
        parts = []
        for pos, _, parent in node.inputs:
            if needed[parent.index]:
                partial = node.rule.partials[pos]
                known = constant_partial(node, pos, partial)
                if known is not None:
                    parts.append((("c", known), parent.index))
                    continue
                probe = probe_call(partial, node.value, *node.args)
                scalar = probe is not None and np.ndim(probe) == 0
                picked = selected_argument(node, pos, probe)
                if picked is not None:  # the partial is an argument (exp's value, a factor): no call
                    text = value_of(i) if picked == 0 else args[picked - 1]
                else:
                    # a parameter the partial's code never reads is passed as None (cosh's partial sinh(x)
                    # does not read cosh(x): then that value need not be computed at all)
                    reads = parameters_read(partial)
                    texts = [value_of(i)] + args
                    if reads is not None:
                        texts = [t if k in reads else "None" for k, t in enumerate(texts)]
                    # the partial's expression in place (np.cos(v0)), or a call of the rule's function;
                    # its number literals as 0-d arrays where the dtypes they meet are fixed by x's (no
                    # extra argument arrays: their dtypes are not guarded)
                    recorded = None if rec.extra_nodes else (node.value, *node.args)
                    text = inlined(partial, texts, code, recorded) or f"{code.const(partial, 'p')}({', '.join(texts)})"
                parts.append((("r", text, scalar, np.shape(probe) if probe is not None else shape), parent.index))

        def as_diagonal(j: int):
            """Tangent ``j`` read as ``diag(d) + base``: (d text or None, d array or None, base or None, full),
            or None if it is neither a diagonal of this shape nor a constant."""
            t = tangents[j]
            if value_shape(nodes[j].value) != shape:
                return None
            if t.kind == "diag":
                return (t.expr if t.array is None else None), t.array, t.base, t.full
            if t.kind == "const":
                return None, None, np.broadcast_to(t.array, shape + (n,)), False
            return None
        views = [as_diagonal(j) for _, j in parts] if shape == x_shape else [None]
        diagonal = all(v is not None for v in views) and any(tangents[j].kind == "diag" for _, j in parts) \
            and all(partial[0] == "c" for (partial, _), v in zip(parts, views) if v[2] is not None)
        if diagonal:  # d = sum of partial * d_parent, all of x's shape; constant parts kept apart
            terms, consts, bases = [], [], []
            full = False
            for (partial, j), (d, darray, base, dfull) in zip(parts, views):
                if partial[0] == "c":
                    c = partial[1]
                    unit = np.ndim(c) == 0 and c in (1.0, -1.0)
                    if base is not None:
                        with np.errstate(all="ignore"):
                            bases.append(c * base if np.ndim(c) == 0 else np.asarray(c)[..., None] * base)
                    if darray is not None:
                        with np.errstate(all="ignore"):
                            consts.append(c * darray)
                    if d is not None:
                        if unit:
                            terms.append(d if c == 1.0 else f"(-{d})")
                        else:
                            terms.append(f"{code.const(c, 'P')} * {d}")
                        full = full or dfull or np.shape(c) == shape
                else:
                    p = partial[1]
                    full = full or not partial[2] or (d is not None and dfull)
                    if d is None and np.ndim(darray) == 0 and darray == 1.0:
                        terms.append(p)
                    else:
                        terms.append(f"{p} * {d if d is not None else code.const(darray, 'D')}")
            base = np.array(np.broadcast_to(_total(bases), shape + (n,))) if bases else None
            if not terms:
                return _Tangent("diag", array=_total(consts), base=base)
            if consts:
                terms.append(code.const(_total(consts), "D"))
            expr = " + ".join(terms)
            if len(terms) == 1 and expr.isidentifier():
                return _Tangent("diag", expr=expr, full=full, base=base)
            code.line(f"d{i} = {expr}")
            return _Tangent("diag", expr=f"d{i}", full=full, base=base)
        terms, consts, shapes = [], [], []
        for partial, j in parts:
            t = dense(j)
            pshape = value_shape(nodes[j].value)
            if partial[0] == "c":
                c = partial[1]
                if t.kind == "const":
                    with np.errstate(all="ignore"):
                        consts.append(c * t.array if np.ndim(c) == 0 else np.asarray(c)[..., None] * t.array)
                elif np.ndim(c) == 0 and c in (1.0, -1.0):
                    terms.append(t.expr if c == 1.0 else f"(-{t.expr})")
                elif np.ndim(c) == 0:
                    terms.append(f"{code.const(c, 'P')} * {t.expr}")
                else:
                    terms.append(f"{code.const(np.asarray(c)[..., None], 'P')} * {t.expr}")
                shapes.append(np.broadcast_shapes(np.shape(c), pshape))
            else:
                _, p, scalar, probe_shape = partial
                terms.append(f"{p} * {name_of(t)}" if scalar else f"{p}[..., None] * {name_of(t)}")
                shapes.append(pshape if scalar else np.broadcast_shapes(probe_shape, pshape))
        if not terms:
            total = _total(consts)
            return _Tangent("const", np.array(np.broadcast_to(total, shape + (n,))))
        if consts:
            total = _total(consts)
            terms.append(code.const(total, "C"))
            shapes.append(np.shape(total)[:-1])
        if len(parts) == 1 and not consts and parts[0][0][0] == "c" and np.ndim(parts[0][0][1]) > 0:
            t = dense(parts[0][1])
            c = parts[0][0][1]
            if t.kind == "dense" and value_shape(nodes[parts[0][1]].value) == shape \
                    and np.broadcast_shapes(np.shape(c), shape) == shape and tangent_uses.get(i, 0) == 1:
                # C * T summed next (np.sum(a * b, axis) with b known now: a hand model's rest positions):
                # one einsum there with C spread to the product's shape (einsum's own broadcasting is slower)
                p = code.const(np.ascontiguousarray(np.broadcast_to(c, shape)), "P")
                code.line(f"t{i} = {p}[..., None] * {t.expr}")
                return _Tangent("dense", expr=f"t{i}", check=None, product=(p, t.expr, len(code.lines) - 1))
        if len(parts) == 1 and not consts and parts[0][0][0] == "r":
            t = dense(parts[0][1])
            _, p, scalar, probe_shape = parts[0][0]
            pshape = value_shape(nodes[parts[0][1]].value)
            if not scalar and t.kind == "dense" and pshape == shape and len(probe_shape) == len(shape) \
                    and tangent_uses.get(i, 0) == 1:
                # p * T summed next (np.sum(a * b, axis)): written as one einsum there if so (see linear)
                code.line(f"t{i} = {p}[..., None] * {t.expr}")
                return _Tangent("dense", expr=f"t{i}", check=None, product=(p, t.expr, len(code.lines) - 1))
            if t.kind == "const" and not scalar and probe_shape == shape and np.all(np.isfinite(t.array)):
                # p * C with C finite: finite wherever p is (an overflow gives inf as the plain path does),
                # so the final check reads p (n numbers), not the n x n product
                code.line(f"q{i} = {p}")
                expr = fitted_sum([f"q{i}[..., None] * {name_of(t)}"], shapes, shape)
                code.line(f"t{i} = {expr}")
                return _Tangent("dense", expr=f"t{i}", check=(f"q{i}", shape))
        expr = fitted_sum(terms, shapes, shape)
        code.line(f"t{i} = {expr}")
        return _Tangent("dense", expr=f"t{i}")

    def linear(node) -> _Tangent:
        i = node.index
        shape = value_shape(node.value)
        rule: Linear = node.rule
        args = arguments(node, code, value_of)
        kw = keywords(node, code)
        fused = summed_product(node)
        if fused is not None:
            return fused
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

    def summed_product(node):
        """``np.sum(a * b, axis)``'s tangent as one ``einsum`` of the partial and the factor's tangent
        (no (..., n)-sized product in memory, no strided sum), or None if the pattern does not hold."""
        if node.func is not np.sum or len(node.args) != 1 or set(node.kwargs) - {"axis", "keepdims"} \
                or node.kwargs.get("keepdims", False) or len(node.inputs) != 1 or node.inputs[0][:2] != (0, None):
            return None
        j = node.inputs[0][2].index
        t = tangents.get(j)
        if t is None or t.kind != "dense" or t.product is None:
            return None
        p, factor, line = t.product
        ndim = len(value_shape(nodes[j].value))
        if ndim > 25:
            return None
        labels = "abcdefghijklmnopqrstuvwxy"[:ndim]
        axes = normalize_axes(node.kwargs.get("axis"), ndim)
        out = "".join(c for d, c in enumerate(labels) if d not in axes)
        code.lines[line] = "pass"  # the product is not formed
        i = node.index
        code.line(f"t{i} = einsum('{labels},{labels}z->{out}z', {p}, {factor})")
        return _Tangent("dense", expr=f"t{i}")

    def custom(node) -> _Tangent:
        i = node.index
        parents = [(pos, sub, parent) for pos, sub, parent in node.inputs if needed[parent.index]]
        if node.rule.selection and not isinstance(node.value, tuple) and all(
                dense(parent.index).kind == "const" for _, _, parent in parents):
            return _Tangent("const", known_selection_tangent(node, parents, lambda p: dense(p.index).array))
        args = arguments(node, code, value_of)
        code.line(f"t{i} = " + custom_jvp_call(node, code, args, value_of(i), node.inputs, lambda parent: (
            name_of(dense(parent.index)) if needed[parent.index] else "None")))
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

    block = block_plan if vectorize else None
    if block is not None:
        lane_of.update(block.lane)
    special = None
    if block is not None:
        special = _BlockWriter(block, rec, flow, code, needed, tangents, dense, value_of, n, dtype).special
    code.namespace.update(fit=fit, diagonal_tangent=diagonal_tangent, np=np, isfinite=math.isfinite,
                          einsum=np.einsum)
    emit_values(rec, flow, code, live, value_of, tangent_line, special)
    final = y_shape + x_shape
    # the dtype plain forward mode answers in: a partial written as an int literal (`v * 2`'s 2) or a bool
    # constant must not make an int or bool Jacobian
    j_dtype = np.result_type(dtype, np.asarray(rec.tape.value).dtype)
    if out is None or not needed[out]:
        code.line(f"return np.zeros({final!r})")
    else:
        t = tangents[out]
        if t.kind == "diag" and t.array is not None:  # all of it known now
            const = diagonal_tangent(t.array, y_shape)
            if t.base is not None:
                const = const + t.base
            t = _Tangent("const", const)
        if t.kind == "diag":
            # J = diag(d) + base: d checked (n numbers, not the n x n matrix; the base's finiteness is known
            # now) and written with one strided assignment into the flat result
            if t.base is not None and not np.all(np.isfinite(t.base)):
                code.line("raise FloatingPointError('not finite')")  # never answers: the plain path does
            if t.full and len(y_shape) == 1:
                dd = t.expr  # ones @ d (a BLAS dot) is half np.sum's fixed cost on a short d
                code.line(f"if not isfinite({dd}.dot({code.const(np.ones(n), 'ones')})): "
                          "raise FloatingPointError('not finite')")
            else:
                code.line(f"dd = np.ravel(np.broadcast_to({t.expr}, {y_shape!r}))")
                dd = "dd"
                code.line(f"if not isfinite(np.sum(dd)): raise FloatingPointError('not finite')")
            if t.base is None:
                # a fresh zero J in its final shape and d written at its diagonal: put at the flat
                # positions for a short d, a strided assignment into J's flat view for a longer one (a flat
                # J, that assignment and a reshape cost 0.25 us more at n = 10, 0.2 us at n = 100)
                code.line(f"J = np.zeros({final!r}, {code.const(j_dtype, 'D')})")
                if n <= 32:
                    code.line(f"J.put({code.const(np.arange(0, n * n, n + 1), 'I')}, {dd})")
                else:
                    code.line(f"J.ravel()[::{n + 1}] = {dd}")
                code.line("return J")
            else:
                flat = np.ascontiguousarray(np.reshape(t.base, (n * n,)), np.result_type(t.base, j_dtype))
                code.line(f"J = {code.const(flat, 'C')}.copy()")
                if np.any(flat[::n + 1]):
                    code.line(f"J[::{n + 1}] += {dd}")
                else:
                    code.line(f"J[::{n + 1}] = {dd}")
                code.line(f"return J.reshape({final!r})")
        elif t.kind == "const":
            constant = np.reshape(t.array, final)
            code.line(f"return {code.const(constant.astype(np.result_type(constant, j_dtype)), 'C')}.copy()")
        else:
            if t.check is not None and len(t.check[1]) == 1:
                name, (m,) = t.check
                code.line(f"if not isfinite({name}.dot({code.const(np.ones(m), 'ones')})): "
                          "raise FloatingPointError('not finite')")
            else:
                code.line(f"if not isfinite({t.expr}.sum()): raise FloatingPointError('not finite')")
            # a tangent of x's shape (1-D x) is already J: no reshape (a view, 0.2 us) where the shape is right
            code.line(f"return {t.expr} if {t.expr}.shape == {final!r} else {t.expr}.reshape({final!r})")
    # a value no line reads (the output's own value: cosh(v) when its partial is sinh(v)) is not computed;
    # only ufunc calls and selections (entries moved by shapes the trace fixes) are dropped: they raise
    # nothing, so the program's behaviour is unchanged
    code.lines = unused_dropped(code.lines, {f"v{node.index}" for node in nodes if isinstance(node.func, np.ufunc)
                                             or getattr(node.rule, "selection", False)})
    program = code.compile("jacobian", parameters(rec), release=True, hoist=True)
    # a non-finite Jacobian raises inside (the plain path then applies the 0 x inf conventions)
    program.checks_finite = True
    return program


class _BlockWriter:
    """Writes a :class:`~.vectorize.Block`: scalar values as lanes of ``R``, their tangent rows either
    constants (known from the seed) or rows of ``TR``, one numpy call per group."""

    def __init__(self, block: Block, rec, flow, code: Source, needed, tangents: dict, dense, value_of, n, dtype):
        self.block, self.rec, self.flow, self.code = block, rec, flow, code
        self.needed, self.tangents, self.dense, self.value_of = needed, tangents, dense, value_of
        self.n, self.dtype = n, dtype
        self.rows: dict = {}  # lane -> ("const", row array) | ("rt", row index in TR)
        self.runtime = 0
        self.written = False

    # ---------------------------------------------------------------- rows of lanes
    def gather(self, lanes) -> tuple:
        """``(kind, text or array)``: the tangent rows of ``lanes`` ('const': an array known now)."""
        refs = [self.rows[k] for k in lanes]
        if all(r[0] == "const" for r in refs):
            return "const", np.array([r[1] for r in refs]).reshape(len(lanes), self.n)
        if all(r[0] == "rt" for r in refs):
            idx = np.array([r[1] for r in refs], dtype=np.intp)
            run = contiguous(idx)
            if run is not None:
                return "rt", f"TR[{run[0]}:{run[1]}]"
            return "rt", f"TR[{self.code.const(idx, 'I')}]"
        base = np.array([r[1] if r[0] == "const" else np.zeros(self.n) for r in refs]).reshape(len(lanes), self.n)
        where = np.array([k for k, r in enumerate(refs) if r[0] == "rt"], dtype=np.intp)
        src = np.array([r[1] for r in refs if r[0] == "rt"], dtype=np.intp)
        return "rt", f"mix_rows({self.code.const(base, 'B')}, {self.code.const(where, 'I')}, TR, {self.code.const(src, 'I')})"

    def operand(self, op) -> str:
        kind, data = op
        if kind == "const":
            if np.all(data == data[0]):
                return repr(float(data[0]))
            return self.code.const(data, "K")
        run = contiguous(data)
        if run is not None:
            return f"R[{run[0]}:{run[1]}]"
        return f"R[{self.code.const(data, 'I')}]"

    # ---------------------------------------------------------------- the block
    def write(self) -> None:
        code, block, nodes = self.code, self.block, self.rec.tape.nodes
        body: list = []  # (group, lines) written after TR's size is known
        for gi, g in enumerate(block.groups):
            a, b = g.start, g.stop
            lines = []
            if g.kind == "getitem":
                run = contiguous(g.keys)
                keys = f"{run[0]}:{run[1]}" if run is not None else code.const(g.keys, "I")
                lines.append(f"R[{a}:{b}] = {self.value_of(g.source)}[{keys}]")
                if self.needed[g.source]:
                    t = self.dense(g.source)
                    if t.kind == "const":
                        rows = np.asarray(t.array)[g.keys]
                        for k in range(len(g.members)):
                            self.rows[a + k] = ("const", rows[k])
                    else:
                        r0 = self.runtime
                        self.runtime += len(g.members)
                        lines.append(f"TR[{r0}:{self.runtime}] = {t.expr}[{keys}]")
                        for k in range(len(g.members)):
                            self.rows[a + k] = ("rt", r0 + k)
                else:
                    for k in range(len(g.members)):
                        self.rows[a + k] = ("const", np.zeros(self.n, self.dtype))
                body.append(lines)
                continue
            ops = []
            for pos, op in enumerate(g.operands):
                text = self.operand(op)
                if op[0] == "lanes" and not text.replace(".", "").replace("-", "").isdigit():
                    lines.append(f"w{gi}_{pos} = {text}")
                    text = f"w{gi}_{pos}"
                ops.append(text)
            func = code.const(g.func, "f")
            lines.append(f"u{gi} = {func}({', '.join(ops)})")
            lines.append(f"R[{a}:{b}] = u{gi}")
            terms, consts = [], []
            alias, aliasable = None, True  # lanes whose rows this group's rows are (y = a + c)
            for pos, op in enumerate(g.operands):
                if op[0] != "lanes":
                    continue
                partial = g.rule.partials[pos]
                kind, rows = self.gather(op[1])
                if kind == "const" and not np.any(rows):
                    continue  # zero rows (an input that is not differentiated): no term
                if partial is ONE or partial is NEG_ONE:
                    sign = 1.0 if partial is ONE else -1.0
                    if kind == "const":
                        consts.append(sign * rows)
                    else:
                        terms.append(rows if sign > 0 else f"(-{rows})")
                        if sign > 0 and alias is None:
                            alias = op[1]
                        else:
                            aliasable = False
                    continue
                aliasable = False
                p = f"{code.const(partial, 'p')}(u{gi}, {', '.join(ops)})"
                r = rows if kind == "rt" else code.const(rows, "C")
                terms.append(f"{p}[:, None] * {r}" if self._per_lane(g, pos) else f"{p} * {r}")
            if not terms:  # rows known now
                total = sum(consts) if consts else np.zeros((len(g.members), self.n))
                for k in range(len(g.members)):
                    self.rows[a + k] = ("const", np.array(total[k]))
            elif aliasable and alias is not None and not consts and len(terms) == 1:  # x + c: the operand's rows themselves
                for k, lane in enumerate(alias):
                    self.rows[a + k] = self.rows[int(lane)]
            else:
                if consts:
                    terms.append(code.const(sum(consts), "C"))
                r0 = self.runtime
                self.runtime += len(g.members)
                lines.append(f"TR[{r0}:{self.runtime}] = {' + '.join(terms)}")
                for k in range(len(g.members)):
                    self.rows[a + k] = ("rt", r0 + k)
            body.append(lines)
        code.line(f"R = np.empty({block.size}, {code.const(self.dtype, 'T')})")
        if self.runtime:
            code.line(f"TR = np.empty(({self.runtime}, {self.n}), {code.const(self.dtype, 'T')})")
        for lines in body:
            for ln in lines:
                code.line(ln)
        code.namespace["mix_rows"] = mix_rows
        for node_index, lane in self.block.lane.items():  # tangents of lanes that other nodes read
            kind, data = self.rows[lane]
            self.tangents[node_index] = (_Tangent("const", np.array(data)) if kind == "const"
                                         else _Tangent("dense", expr=f"TR[{data}]"))

    def _per_lane(self, g, pos) -> bool:
        """Is the partial at ``pos`` one value per lane (an array), rather than one number?"""
        nodes = self.rec.tape.nodes
        members = g.members
        values = np.array([nodes[i].value for i in members], dtype=np.float64)
        args = []
        for op in g.operands:
            if op[0] == "lanes":
                args.append(np.array([float(self.rec_value(k)) for k in op[1]]))
            else:
                args.append(op[1] if not np.all(op[1] == op[1][0]) else float(op[1][0]))
        probe = probe_call(g.rule.partials[pos], values, *args)
        return probe is None or np.ndim(probe) > 0

    def rec_value(self, lane: int):
        node = self.lane_nodes[lane]
        return self.rec.tape.nodes[node].value

    @property
    def lane_nodes(self) -> dict:
        inverse = getattr(self, "_inverse", None)
        if inverse is None:
            inverse = self._inverse = {lane: i for i, lane in self.block.lane.items()}
        return inverse

    # ---------------------------------------------------------------- the hook for emit_values
    def special(self, node) -> bool:
        i = node.index
        if i == self.block.first and not self.written:
            self.write()
            self.written = True
        if i in self.block.stacks:
            lanes = self.block.stacks[i]
            run = contiguous(lanes)
            picked = f"{run[0]}:{run[1]}" if run is not None else self.code.const(lanes, "I")
            self.code.line(f"v{i} = R[{picked}]")
            if self.needed[i]:
                kind, rows = self.gather(lanes)
                if kind == "const":
                    self.tangents[i] = _Tangent("const", rows)
                else:
                    self.code.line(f"t{i} = {rows}")
                    self.tangents[i] = _Tangent("dense", expr=f"t{i}")
            return True
        return i in self.block.covered


def mix_rows(base, where, rows, src):
    """Rows of lanes some of which are known constants (``base``) and some computed (``rows[src]``)."""
    out = base.copy()
    out[where] = rows[src]
    return out
