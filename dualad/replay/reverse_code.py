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
import re
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, normalize_axes, unbroadcast
from ..tape.graph import Node, local_vjp, value_shape
from .analysis import Flow, kind_of
from .codegen import Source, arguments, keywords, selected_argument, unused_dropped
from .inline import inlined
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
    if not shape:
        return c.sum() if type(c) is np.ndarray else np.sum(c)
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
                          zeros=np.zeros, add_at=np.add.at, array=np.array,
                          broadcast_to=np.broadcast_to, reshape=np.reshape,
                          concatenate=np.concatenate, bincount=np.bincount, ravel=np.ravel,
                          einsum=np.einsum, diagonal=np.diagonal)
    fit_name = "fit_adjoint" if directions else "fit_single"
    emit_values(rec, flow, code, live, value_of)
    if out is None or not needed[out]:
        code.line(f"return {value_of(out) if out is not None else 'None'}, None")
        return code.compile("reverse", parameters(rec) + ["U"], release=True)
    has = set()  # nodes whose adjoint has been assigned
    parts: dict = {}  # tuple-valued node -> {item: adjoint name}

    own = set()  # adjoints held in a fresh array of this program's (a sum, a getitem's scatter buffer)

    # Sign folding (one cotangent only): an adjoint in ``negated`` holds minus the true adjoint, so a
    # negation (x - y, -x, a divide's -o/y) costs no pass of its own; signs meet in one subtraction where
    # contributions add, and a value is negated for real only before a step that is not linear in it
    # (a custom rule, a tuple's parts, a scatter of pieces) and for x's adjoint at the end.
    negated: set = set()
    ct_negated = [False]  # the sign of the cotangent of the node being swept

    def add(parent: int, expr: str, negate: bool = False) -> None:
        """Add ``expr`` (times -1 if ``negate``, times the swept cotangent's sign) to ``parent``'s adjoint."""
        minus = negate != ct_negated[0]
        expand(parent)
        if parent in has:
            code.line(f"a{parent} = a{parent} - ({expr})" if minus != (parent in negated)
                      else f"a{parent} = a{parent} + {expr}")
            own.add(parent)  # a new array, referenced by this name alone until the parent is swept
        else:
            code.line(f"a{parent} = {expr}")
            has.add(parent)
            if minus:
                negated.add(parent)
            if _ADJOINT_NAME.fullmatch(expr):  # another adjoint's array under this name too
                alias[parent] = (root_of(int(expr[1:]), expr), len(code.lines))

    lazy: dict = {}  # node -> (its adjoint's text, a smaller array whose broadcast it is), not yet written

    def expand(j: int) -> None:
        """Write ``a{j}`` if it is still only a lazy sum's small array."""
        if j in lazy:
            code.line(f"a{j} = {lazy.pop(j)[0]}")

    def whole_partials(node) -> bool:
        """Does every contribution of elementwise ``node`` multiply its cotangent by a partial of the
        node's whole shape, into a parent of that shape (so a broadcastable cotangent gives the same)?"""
        shape = value_shape(node.value)
        for pos, _, parent in node.inputs:
            if not needed[parent.index] or (node.index, parent.index) in invariant:
                continue
            partial = node.rule.partials[pos]
            if partial is ONE or partial is NEG_ONE or value_shape(parent.value) != shape:
                return False
            probe = probe_call(partial, node.value, *node.args)
            if probe is None or np.shape(probe) != shape:
                return False
        return True

    def positive(j: int) -> None:
        """Negate ``a{j}`` for real if it holds minus its adjoint."""
        expand(j)
        if j in negated:
            code.line(f"a{j} = (-a{j})")
            negated.discard(j)
            own.add(j)

    def single_getitem(node, ct: str, args: list) -> bool:
        """``a[key]``'s adjoint for one cotangent: written into the parent's adjoint in place (a fresh
        zero buffer the first time), repeated advanced indices accumulating like ``np.add.at``."""
        if len(node.inputs) != 1 or node.inputs[0][:2] != (0, None) or len(args) != 2:
            return False  # a list indexed, or an index computed from x: the rule's transpose
        parent = node.inputs[0][2]
        if not needed[parent.index]:
            return True
        j = parent.index
        if j in tiled:  # one piece of a vector cut into consecutive slices: joined when j is swept
            pieces.setdefault(j, {})[tiled[j][node.index]] = (ct, ct_negated[0])
            return True
        key = args[1]
        value = parent.value
        dtype = value.dtype if isinstance(value, np.ndarray) and value.dtype.kind == "f" else np.dtype(np.float64)
        advanced = _advanced(node.args[1])
        expand(j)
        if j not in own:
            if j in has:  # someone else's array (a view of U, a rule's result): copy before writing into it
                code.line(f"a{j} = array(a{j}, {code.const(dtype, 'T')})")
            else:
                code.line(f"a{j} = zeros({value_shape(value)!r}, {code.const(dtype, 'T')})")
                has.add(j)
            own.add(j)
        positions = _scatter_positions(value, node.args[1], node.value) if advanced else None
        into = "-=" if ct_negated[0] != (j in negated) else "+="  # the signs of the cotangent and the buffer
        if positions is not None:
            # np.add.at with a tuple of index arrays walks the index one entry at a time; bincount over
            # the entries' flat positions (a constant) is one pass (GMM's (100, 32, 32) triangle
            # gather: 1.4 ms -> 0.4 ms)
            code.line(f"a{j} {into} bincount({code.const(positions, 'F')}, "
                      f"ravel(broadcast_to({ct}, {value_shape(node.value)!r})), {value.size})"
                      f".reshape({value_shape(value)!r})")
        elif advanced:
            code.line(f"add_at(a{j}, {key}, {ct if into == '+=' else f'(-{ct})'})")
        else:
            code.line(f"a{j}[{key}] {into} {ct}")
        return True

    def fitted(expr: str, parent) -> str:
        """``expr`` (shaped like ``parent`` already) as its adjoint: converted only to a float dtype
        other than float64."""
        value = parent.value
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype != np.float64:
            return f"fit_single({expr}, {value_of(parent.index)})"
        return expr

    def single_sum(node, ct: str) -> bool:
        """``np.sum(a, axis, keepdims)``'s adjoint for one cotangent: ``ct`` with the summed axes put
        back as length 1, broadcast to ``a``'s shape (a view; nothing is written into it)."""
        if len(node.args) != 1 or set(node.kwargs) - {"axis", "keepdims"} or len(node.inputs) != 1:
            return False
        (pos, sub, parent), = node.inputs
        if pos != 0 or sub is not None:
            return False
        if needed[parent.index]:
            pshape = value_shape(parent.value)
            axes = normalize_axes(node.kwargs.get("axis"), len(pshape))
            kept = tuple(1 if d in axes else n for d, n in enumerate(pshape))
            # the summed axes put back as length 1 (not needed for a full sum, a number, or kept dims)
            plain = value_shape(node.value) in (kept, ())
            shaped = ct if plain else f"reshape({ct}, {kept!r})"
            if math.prod(pshape) <= 1024:  # a product with ones (exact) costs less than a broadcast view here
                value = parent.value
                dtype = value.dtype if isinstance(value, np.ndarray) and value.dtype.kind == "f" else np.float64
                expr = fitted(f"{shaped} * {code.const(np.ones(pshape, dtype), 'ones')}", parent)
                j = parent.index
                if j not in has and fitted("", parent) == "":
                    # written only when a step needs the whole array (see ``expand``): an elementwise
                    # step with partials of the whole shape multiplies the small one (a loss term
                    # sum(w * y)'s w * ct, ct a number)
                    lazy[j] = expr, shaped
                    has.add(j)
                    if ct_negated[0]:
                        negated.add(j)
                else:
                    add(j, expr)
            else:
                if parent.index not in has and fitted("", parent) == "":
                    spread[parent.index] = shaped  # its adjoint is this small array broadcast
                add(parent.index, fitted(f"broadcast_to({shaped}, {pshape!r})", parent))
        return True

    def single_concatenate(node, ct: str) -> bool:
        """``np.concatenate(arrays, axis)``'s adjoint for one cotangent: each array's slice of ``ct``
        (a view), the bounds known from the recorded shapes."""
        if len(node.args) > 2 or set(node.kwargs) - {"axis"} or not isinstance(node.args[0], (list, tuple)):
            return False
        axis = node.args[1] if len(node.args) > 1 else node.kwargs.get("axis", 0)
        arrays = node.args[0]
        if axis is None or not all(isinstance(a, np.ndarray) and a.ndim for a in arrays) \
                or not all(pos == 0 and sub is not None for pos, sub, _ in node.inputs):
            return False
        ax = normalize_axes(axis, arrays[0].ndim)[0]
        bounds = np.cumsum([0] + [a.shape[ax] for a in arrays])
        lead = ":, " * ax
        for _, sub, parent in node.inputs:
            if needed[parent.index]:
                add(parent.index, fitted(f"{ct}[{lead}{bounds[sub]}:{bounds[sub + 1]}]", parent))
        return True

    code.line(f"a{out} = U")
    has.add(out)
    tiled = {} if directions else tilings(nodes, needed)
    invariant = set() if directions else shift_invariant_links(nodes, needed)
    first = {} if directions else summed_first(nodes, needed, invariant, {rec.x_node, out})
    diagonals = {} if directions else diagonal_pairs(nodes, needed, first)
    product_of = {p: c for c, p, _ in diagonals.values()}  # matmul c @ M -> c: M's adjoint cᵀ @ ct named
    products: dict = {}  # (c, adjoint name) -> (name of cᵀ @ that adjoint, line count then)
    spread: dict = {}  # node -> a small array whose broadcast is the node's whole adjoint (np.sum's)
    pieces: dict = {}  # tiled vector -> {piece start: adjoint name of that slice}

    def join_pieces(j: int) -> None:
        """The adjoint of a vector all of whose uses are slices tiling it: one concatenation of theirs."""
        got = pieces.pop(j)
        value = nodes[j].value
        signs = [minus for _, minus in got.values()]
        minus = 2 * sum(signs) > len(signs)  # most pieces hold minus their adjoint: so does the whole
        items = []
        for start, stop in sorted(set(tiled[j].values())):
            name, negative = got.get((start, stop), (None, minus))
            if name is None:
                items.append(code.const(np.zeros(stop - start, value.dtype), "z"))
            else:
                items.append(f"(-{name})" if negative != minus else name)
        code.line(f"a{j} = {fitted(f'concatenate([{chr(44).join(items)}])', nodes[j])}")
        has.add(j)
        own.add(j)
        if minus:
            negated.add(j)

    alias: dict = {}  # node -> (the adjoint name whose array its adjoint is, line count when so named)
    sums: dict = {}  # (adjoint name, shape) -> (the name of its sum down to shape, line count then)

    def written(name: str, since: int) -> bool:
        """Has a line since ``since`` assigned or written into ``name``? (Scanned only so far back.)"""
        if len(code.lines) - since > 2000:
            return True
        pattern = re.compile(rf"{name}(?:\s*[-+*/]?=|\[)")
        return any(pattern.match(ln) for ln in code.lines[since:])

    def root_of(i: int, ct: str) -> str:
        """The adjoint name whose array ``ct`` (node ``i``'s cotangent) still is."""
        if ct != f"a{i}" or i not in alias:
            return ct
        root, since = alias[i]
        return root if not written(ct, since) and not written(root, since) else ct

    def summed_cotangent(i: int, ct: str, shape: tuple) -> str:
        """A name for ``ct`` summed down to ``shape`` (written once per array and shape)."""
        root = root_of(i, ct)
        known = sums.get((root, shape))
        if known is not None and not written(root, known[1]):
            return known[0]
        name = f"r{len(sums)}"
        code.line(f"{name} = sum_to({ct}, {shape!r})")
        sums[(root, shape)] = (name, len(code.lines))
        return name

    def summed_contribution(node, pos: int, parent, ct: str, args: list) -> None:
        """Node ``node``'s contribution to ``parent``'s adjoint, held summed (see :func:`summed_first`):
        the cotangent summed first, then the partial (or the product's transpose) applied to the sum."""
        j = parent.index
        shape_j, child_shapes = first[j]
        total = summed_cotangent(node.index, ct, child_shapes[node.index])
        like = code.const(np.broadcast_to(np.zeros((), parent.value.dtype), shape_j), "z")
        negate = False
        if node.func is np.matmul and kind_of(node) == "linear":
            # linear in this operand: its transpose reads only the operand's shape, here the summed one
            operands = list(args)
            operands[pos] = like
            expr = (f"{code.const(node.rule.transpose[pos], 'R')}({total}[..., None], "
                    f"{', '.join(operands)})[..., 0]")
        else:
            partial = node.rule.partials[pos]
            if partial is ONE or partial is NEG_ONE:
                expr, negate = total, partial is NEG_ONE
            else:
                probe = probe_call(partial, node.value, *node.args)
                picked = selected_argument(node, pos, probe)
                if picked is not None:
                    p = value_of(node.index) if picked == 0 else args[picked - 1]
                else:
                    p = inlined(partial, [value_of(node.index)] + args, code) \
                        or f"{code.const(partial, 'p')}({value_of(node.index)}, {', '.join(args)})"
                expr = f"{p} * {total}"
            if child_shapes[node.index] != shape_j:
                expr = f"sum_to({expr}, {shape_j!r})"
        if parent.value.dtype != np.float64:
            expr = f"fit_single({expr}, {like})"
        add(j, expr, negate=negate)

    for node in reversed(nodes):
        i = node.index
        if i in pieces:
            join_pieces(i)
        if not needed[i] or node.func is None:
            continue
        kind = kind_of(node)
        if kind == "output":
            (_, _, parent), = node.inputs
            if i in has:
                positive(i)
                parts.setdefault(parent.index, {})[node.rule.i] = f"a{i}"
            continue
        if isinstance(node.value, tuple):
            items = parts.get(i)
            if not items:
                continue
            ct = "(" + ", ".join(items.get(j, "None") for j in range(len(node.value))) + ",)"
        elif i in has:
            ct = f"a{i}"
            if kind not in ("elementwise", "linear"):  # a custom rule's step need not be linear in ct
                positive(i)
            elif i in lazy and kind == "elementwise" and whole_partials(node) \
                    and not any(p.index in first for _, _, p in node.inputs):
                ct = lazy.pop(i)[1]  # the small array: each partial broadcasts it to the whole shape
            else:
                expand(i)
        else:
            continue
        ct_negated[0] = i in negated
        shape = first[i][0] if i in first else value_shape(node.value)  # summed already: see summed_first
        args = arguments(node, code, value_of)
        spread_names = {f"a{i}": spread[i]} if i in spread and i not in own and i in has else {}
        if kind == "elementwise":
            for pos, _, parent in node.inputs:
                if not needed[parent.index] or (i, parent.index) in invariant:
                    continue
                if parent.index in first:
                    summed_contribution(node, pos, parent, ct, args)
                    continue
                if i in diagonals and diagonals[i][2] == pos:
                    known = products.get((diagonals[i][0], root_of(i, ct)))
                    if known is not None and not written(root_of(i, ct), known[1]):
                        # sum over the rows of c * ct is the diagonal of cᵀ @ ct, already formed for M
                        add(parent.index, f"diagonal({known[0]}, 0, -2, -1)[..., None, :]")
                        continue
                partial = node.rule.partials[pos]
                pshape = value_shape(parent.value)
                summed = None  # p * ct summed down to the parent's shape as one einsum
                negate = False
                if partial is ONE:
                    c = ct
                elif partial is NEG_ONE and not directions:  # the sign folded (see add)
                    c = ct if pshape == shape else f"sum_to({ct}, {pshape!r})"
                    add(parent.index, c, negate=True)
                    continue
                elif partial is NEG_ONE:
                    c = f"(-{ct})"
                else:
                    probe = probe_call(partial, node.value, *node.args)
                    p = None  # the rule's partial written in place or called, unless a case below writes it
                    picked = selected_argument(node, pos, probe)
                    inline = _INLINE_PARTIALS.get(partial) if not directions and not node.kwargs else None
                    if picked is not None and not directions:  # the partial is an argument: no call
                        p = value_of(i) if picked == 0 else args[picked - 1]
                    elif inline is not None and len(args) == inline[0] and probe is not None:
                        # a common partial written out: no Python call, its sign folded
                        how, p, negate = inline[1](value_of(i), *args)
                        if how == "divide":  # ct / y rather than (1 / y) * ct
                            c = f"{ct} / {p}"
                            if np.broadcast_shapes(np.shape(probe), pshape) != shape:
                                c = f"{fit_name}({c}, {value_of(parent.index)})"
                            elif pshape != shape:
                                c = f"sum_to({c}, {pshape!r})"
                            add(parent.index, c, negate=negate)
                            continue
                    elif not directions and node.func is np.power and pos == 0 and len(node.args) == 2 \
                            and type(node.args[1]) in (int, float) and node.args[1] == 2 and not node.kwargs:
                        p = f"(2.0 * {args[0]})"  # _power_base's 2 * x ** 1, one pass instead of two
                        if ct in spread_names and pshape == shape:  # x * (2 ct) on the small array
                            p, ct = args[0], f"(2.0 * {spread_names[ct]})"
                    if p is None:
                        p = inlined(partial, [value_of(i)] + args, code) \
                            or f"{code.const(partial, 'p')}({value_of(i)}, {', '.join(args)})"
                    scalar = probe is not None and np.ndim(probe) == 0
                    c = f"{p} * {ct}" if scalar or not directions else f"{p}[..., None] * {ct}"
                    if probe is None or np.broadcast_shapes(np.shape(probe), pshape) != shape:
                        c = f"{fit_name}({c}, {value_of(parent.index)})"
                    elif pshape != shape and not directions \
                            and (subscripts := _summed_product(shape, pshape, np.shape(probe), node.value)):
                        summed = f"einsum({subscripts!r}, {p}, {ct}).reshape({pshape!r})"
                if summed is not None:
                    c = summed
                elif pshape != shape:
                    c = f"unbroadcast({c}, {pshape!r})" if directions else f"sum_to({c}, {pshape!r})"
                add(parent.index, c, negate=negate)
        elif kind == "linear":
            kw = keywords(node, code)
            if not directions and node.func is operator.getitem and not kw and single_getitem(node, ct, args):
                continue
            if not directions and node.func is np.sum and single_sum(node, ct):
                continue
            if not directions and same_order_reshape(node):
                parent = node.inputs[0][2]  # the same entries in another shape: the cotangent reshaped back
                if needed[parent.index]:
                    add(parent.index, fitted(f"reshape({ct}, {value_shape(parent.value)!r})", parent))
                continue
            for pos, _, parent in node.inputs:
                if not needed[parent.index]:
                    continue
                if parent.index in first:
                    summed_contribution(node, pos, parent, ct, args)
                    continue
                j = parent.index
                if i in product_of and pos == 1:  # c @ M: M's adjoint cᵀ @ ct, named for a diagonal_pairs reader
                    name = f"g{len(products)}"
                    code.line(f"{name} = {code.const(node.rule.transpose[pos], 'R')}({ct}[..., None], "
                              f"{', '.join(args)})[..., 0]")
                    products[(product_of[i], root_of(i, ct))] = (name, len(code.lines))
                    add(j, name)
                    continue
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
            if not directions and node.func is np.concatenate and single_concatenate(node, ct):
                continue
            targs = "(" + ", ".join(args) + ("," if len(args) == 1 else "") + ")"
            step = "custom_step" if directions else "custom_step_single"
            code.line(f"s{i} = {step}({code.const(node, 'n')}, {value_of(i)}, {targs}, {ct})")
            for slot, (pos, sub, parent) in enumerate(node.inputs):
                if needed[parent.index]:
                    add(parent.index, f"{fit_name}(s{i}[{slot}], {value_of(parent.index)})")

    x = rec.x_node
    positive(x)
    code.line(f"return v{out}, {'a' + str(x) if x in has else 'None'}")
    # an adjoint no step read (np.sum's broadcast view, when its consumer took the small array itself)
    code.lines = unused_dropped(code.lines, {f"a{node.index}" for node in nodes})
    return code.compile("reverse", parameters(rec) + ["U"], release=True)


def _inline_partial_table() -> dict:
    """The rule table's partials of a few common ufuncs as source text for one cotangent:
    ``{partial: (number of arguments, text(o, *args) -> (how, text, negate))}``; ``how`` "times": the
    contribution is ``text * ct``; "divide": ``ct / text``; ``negate``: times -1 (folded, see ``add``)."""
    from ..rules import TABLE
    divide, log, tanh, sqrt = (TABLE[u].partials for u in (np.divide, np.log, np.tanh, np.sqrt))
    return {
        divide[0]: (2, lambda o, x, y: ("divide", y, False)),                # 1 / y
        divide[1]: (2, lambda o, x, y: ("times", f"({o} / {y})", True)),     # -o / y
        log[0]: (1, lambda o, x: ("divide", x, False)),                      # 1 / x
        tanh[0]: (1, lambda o, x: ("times", f"(1.0 - {o} * {o})", False)),   # 1 - o^2
        sqrt[0]: (1, lambda o, x: ("divide", f"(2.0 * {o})", False)),        # 0.5 / o
    }


_INLINE_PARTIALS = _inline_partial_table()


def backward_uses(nodes: list, needed: list) -> dict:
    """``{node: [(child node, position, sub), ...]}``: the links along which adjoints flow into each node."""
    uses: dict = {}
    for node in nodes:
        if needed[node.index]:
            for pos, sub, parent in node.inputs:
                if needed[parent.index]:
                    uses.setdefault(parent.index, []).append((node, pos, sub))
    return uses


def shift_invariant_links(nodes: list, needed: list) -> set:
    """Links ``(child, parent)`` whose adjoint contributions add up to exactly zero: the shift ``m`` of
    a logsumexp written ``log(sum(exp(a - m), axis)) + squeeze(m)`` (the output does not depend on m,
    whatever m is, as long as it is constant along ``axis``), so nothing is swept into m.

    Only this exact shape of graph is recognised: m used by the subtraction and (reshaped or as it
    is) by the final addition, and nothing else; each intermediate used once.
    """
    uses = backward_uses(nodes, needed)

    def only_use(j: int):
        links = uses.get(j, [])
        return links[0] if len(links) == 1 else None

    dead: set = set()
    for m, links in uses.items():
        if len(links) != 2:
            continue
        diff = next((c for c, pos, sub in links if c.func is np.subtract and pos == 1 and sub is None), None)
        other = next((c for c, pos, sub in links if c is not diff and sub is None), None)
        if diff is None or other is None or diff.kwargs or len(diff.args) != 2:
            continue
        steps = []
        node = diff
        for func in (np.exp, np.sum, np.log):
            link = only_use(node.index)
            if link is None or link[0].func is not func or link[1] != 0 or link[2] is not None:
                break
            node = link[0]
            steps.append(node)
        else:
            exp, total, log = steps
            if exp.kwargs or len(exp.args) != 1 or log.kwargs or len(log.args) != 1 or len(total.args) != 1 \
                    or set(total.kwargs) - {"axis", "keepdims"}:
                continue
            a_shape = value_shape(diff.args[0])
            m_shape = value_shape(nodes[m].value)
            axes = normalize_axes(total.kwargs.get("axis"), len(a_shape))
            if value_shape(diff.value) != a_shape or m_shape != tuple(
                    1 if d in axes else n for d, n in enumerate(a_shape)):
                continue  # m must be broadcast along exactly the summed axes
            if other.func is np.add:
                final, back = other, None
            elif same_order_reshape(other) and only_use(other.index) is not None:
                final, back = only_use(other.index)[0], other
            else:
                continue
            link = only_use(log.index)
            if final.func is not np.add or final.kwargs or link is None or link[0] is not final \
                    or value_shape(final.value) != value_shape(log.value):
                continue
            shifted = back if back is not None else nodes[m]
            if {p.index for _, _, p in final.inputs} != {log.index, shifted.index} \
                    or value_shape(shifted.value) != value_shape(log.value):
                continue
            dead.add((diff.index, m))
            dead.add((final.index, shifted.index))
    return dead


def summed_first(nodes: list, needed: list, invariant: set, keep: set) -> dict:
    """Adjoints that are only ever summed over some axes, so each contribution may be summed first.

    A node ``j`` qualifies when, along a set ``A`` of its axes (each longer than 1):

    - its own step sums its adjoint over ``A``: ``j`` is elementwise, and every parent it sweeps into
      is broadcast along ``A`` (the axis absent or of length 1), each partial ±1 or of a shape that is
      broadcast along ``A`` too (so ``sum_A(p * ct) = p * sum_A(ct)``); ``j`` is neither x nor the
      output (whose adjoints are needed whole);
    - every contribution to its adjoint commutes with that sum: it comes either from an elementwise
      step (a whole link, no tuple part) whose partial is broadcast along ``A`` (in the child's axes),
      or from ``j @ B`` / ``B @ j`` (2-D or more, ``j`` not broadcast by the product), where ``A`` holds
      only ``j``'s row axis (``j @ B``: ``sum_rows(ct @ Bᵀ) = sum_rows(ct) @ Bᵀ``), its column axis
      (``B @ j``) and batch axes along which ``B`` is broadcast.

    Then ``sum_A(a_j) = sum over contributions of T(sum_A'(ct_child))``: each child's cotangent is
    summed over the matching axes ``A'`` before its partial or transpose is applied, and ``a_j`` is
    held in its summed shape (GMM's means: ``-sum_n(ct_z * q + ct_z @ L)`` becomes
    ``-(s * q + s @ L)``, ``s = sum_n ct_z``: one (K, n, d) x (K, d, d) product fewer). Any other use
    of ``a_j`` (a getitem's scatter, a reduction, a custom rule, a partial that varies along ``A``)
    removes the axes it needs summed whole; no axis left, no rewrite.

    Returns ``{j: (j's summed shape, {child: the child's summed cotangent shape})}``.
    """
    uses = backward_uses(nodes, needed)
    out: dict = {}
    for node in nodes:
        j = node.index
        value = node.value
        if not needed[j] or j in keep or kind_of(node) != "elementwise" or j not in uses \
                or not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.ndim == 0:
            continue
        shape = value.shape
        rank = len(shape)
        axes = {a for a in range(rank) if shape[a] > 1}
        for pos, sub, parent in node.inputs:
            if not axes:
                break
            if not needed[parent.index] or (j, parent.index) in invariant:
                continue
            partial = node.rule.partials[pos]
            axes &= _broadcast_along(shape, value_shape(parent.value))
            if sub is not None:
                axes = set()
            elif partial is not ONE and partial is not NEG_ONE:
                probe = probe_call(partial, value, *node.args)
                if probe is None or np.broadcast_shapes(np.shape(probe), value_shape(parent.value)) != shape:
                    axes = set()  # the step would not be a plain product summed down (see reverse_program)
                else:
                    axes &= _broadcast_along(shape, np.shape(probe))
        children: dict = {}
        for child, pos, sub in uses[j]:
            if not axes:
                break
            if (child.index, j) in invariant:
                continue
            cvalue = child.value
            if sub is not None or not isinstance(cvalue, np.ndarray) or cvalue.dtype.kind != "f" \
                    or cvalue.ndim < rank:
                axes = set()
                break
            lead = cvalue.ndim - rank
            kind = kind_of(child)
            if kind == "elementwise":
                partial = child.rule.partials[pos]
                if partial is not ONE and partial is not NEG_ONE:
                    probe = probe_call(partial, cvalue, *child.args)
                    if probe is None or np.ndim(probe) > cvalue.ndim:
                        axes = set()
                        break
                    along = _broadcast_along(cvalue.shape, np.shape(probe))
                    axes = {a for a in axes if a + lead in along}
            elif kind == "linear" and child.func is np.matmul and len(child.args) == 2 and not child.kwargs \
                    and lead == 0 and rank >= 2 and np.ndim(child.args[1 - pos]) >= 2:
                other = value_shape(child.args[1 - pos])
                allowed = {rank - 2 if pos == 0 else rank - 1}
                allowed |= {a for a in range(rank - 2) if a in _broadcast_along(shape, other)}
                axes &= allowed
            else:
                axes = set()
                break
            children[child.index] = lead
        if axes:
            summed = tuple(1 if a in axes else n for a, n in enumerate(shape))
            out[j] = (summed, {c: tuple(1 if a - lead in axes else n for a, n in enumerate(nodes[c].value.shape))
                               for c, lead in children.items()})
    return out


def diagonal_pairs(nodes: list, needed: list, first: dict) -> dict:
    """Products ``q * c`` whose adjoint for ``q`` is the diagonal of a matrix product the sweep forms anyway.

    When ``q`` is ``c`` with its row axis (-2) of length 1 (a diagonal scaling, ``c @ diag(q)``), its
    adjoint ``sum over rows of c * ct`` equals ``diagonal(cᵀ @ ct)``; if ``c`` is also multiplied by a
    square matrix, ``c @ M`` (M with c's batch axes, so ``M``'s adjoint ``cᵀ @ ct`` is not summed over a
    batch), and both products receive the same cotangent array (checked when the program is written:
    ADBench GMM's ``z = q * c + c @ L``), ``q``'s adjoint is read off ``M``'s. The matrix product must be
    swept first (recorded after the scaling); float64 values only.

    Returns ``{scaling node: (c, the matmul node, q's position in the scaling)}``.
    """
    f64 = np.dtype(np.float64)

    def plain(node) -> bool:
        value = node.value
        return isinstance(value, np.ndarray) and value.dtype == f64 and value.ndim >= 2 and not node.kwargs \
            and len(node.args) == 2

    matmuls: dict = {}  # c -> matmul nodes c @ M, M needed, square, c's batch axes
    for node in nodes:
        if node.func is np.matmul and needed[node.index] and kind_of(node) == "linear" and plain(node):
            links = {pos: parent for pos, sub, parent in node.inputs if sub is None}
            c, matrix = links.get(0), links.get(1)
            if c is None or matrix is None or c.index == matrix.index or not needed[matrix.index] \
                    or matrix.index in first or not plain(c):
                continue
            shape = c.value.shape
            if value_shape(matrix.value) == shape[:-2] + (shape[-1], shape[-1]) and node.value.shape == shape:
                matmuls.setdefault(c.index, []).append(node)
    out: dict = {}
    for node in nodes:
        if node.func is not np.multiply or kind_of(node) != "elementwise" or not needed[node.index] \
                or not plain(node):
            continue
        links = {pos: parent for pos, sub, parent in node.inputs if sub is None}
        for pos in (0, 1):
            q, c = links.get(pos), links.get(1 - pos)
            if q is None or c is None or q.index == c.index or not needed[q.index] or q.index in first \
                    or c.index not in matmuls or not plain(c):
                continue
            shape = c.value.shape
            if value_shape(q.value) != shape[:-2] + (1, shape[-1]) or node.value.shape != shape \
                    or q.value.dtype != np.float64:
                continue
            later = [m for m in matmuls[c.index] if m.index > node.index]
            if later:
                out[node.index] = (c.index, later[-1].index, pos)
                break
    return out


def _broadcast_along(shape: tuple, small: tuple) -> set:
    """The axes of ``shape`` along which an array of shape ``small`` broadcasts (absent or length 1)."""
    lead = len(shape) - len(small)
    return {a for a in range(len(shape)) if a < lead or small[a - lead] == 1}


def tilings(nodes: list, needed: list) -> dict:
    """Vectors whose every use (on the backward path) is ``v[a:b]``, the slices tiling ``v`` exactly
    once (an LSTM's gate vector cut in four): ``{vector: {slice node: (a, b)}}``."""
    uses = backward_uses(nodes, needed)
    out = {}
    for j, links in uses.items():
        value = nodes[j].value
        if not (isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "f") or len(links) < 2:
            continue
        bounds = {}
        for node, pos, sub in links:
            key = node.args[1] if node.func is operator.getitem and len(node.args) == 2 else None
            if pos != 0 or sub is not None or type(key) is not slice or node.kwargs or len(node.inputs) != 1:
                break
            start, stop, step = key.indices(len(value))
            if step != 1 or start >= stop:
                break
            bounds[node.index] = (start, stop)
        else:
            spans = sorted(bounds.values())
            if spans[0][0] == 0 and spans[-1][1] == len(value) and all(a[1] == b[0] for a, b in zip(spans, spans[1:])):
                out[j] = bounds
    return out


def same_order_reshape(node) -> bool:
    """Is ``node`` its input's entries in C order, only shaped differently (np.reshape, np.ravel,
    np.squeeze, np.expand_dims; not order='F', which the rule's transpose handles)?"""
    if len(node.inputs) != 1 or node.inputs[0][:2] != (0, None):
        return False
    if node.func is np.squeeze or node.func is np.expand_dims:
        return True
    limit = {np.reshape: 2, np.ravel: 1}.get(node.func)
    return (limit is not None and len(node.args) <= limit and set(node.kwargs) <= {"order"}
            and node.kwargs.get("order", "C") == "C")


_ADJOINT_NAME = re.compile(r"a\d+")  # a program's name for one node's adjoint

_SCATTER_MIN = 256  # entries: below this np.add.at's own loop costs no more than bincount's call


def _scatter_positions(parent_value, key, value) -> np.ndarray | None:
    """The flat positions in ``parent_value`` of the entries ``parent_value[key]`` picks, when ``key`` is a
    constant tuple key with an index array (a multi-axis gather such as ``a[:, table]``) of at least
    ``_SCATTER_MIN`` entries, both values real floats; else None (``np.add.at`` then, which numpy runs
    fast itself for a 1-D index)."""
    from .recording import Ref
    if not isinstance(key, tuple) or not isinstance(parent_value, np.ndarray) or parent_value.dtype.kind != "f" \
            or not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size < _SCATTER_MIN:
        return None
    for k in key:
        if isinstance(k, Ref) or not (k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
                                      or (isinstance(k, np.ndarray) and k.dtype.kind in "iub")):
            return None
    positions = np.arange(parent_value.size, dtype=np.intp).reshape(parent_value.shape)[key]
    if positions.shape != value.shape:
        return None
    positions = np.ascontiguousarray(positions).ravel()
    positions.flags.writeable = False
    return positions


_EINSUM_MIN_BYTES = 4 << 20  # a product this large leaves the caches: summing it as it is formed pays
_EINSUM_MIN_INNER = 8        # einsum's inner loop over a shorter kept last axis costs more than it saves


def _summed_product(shape: tuple, pshape: tuple, probe_shape: tuple, value) -> str | None:
    """einsum subscripts for ``sum_to(p * ct, pshape)`` when ``p`` and ``ct`` both have ``shape`` (no
    broadcasting), the product is large, and its last axis is kept and long enough: the product is then
    summed while it is formed instead of written out and read again (GMM's d(q) over (K, n, d) at
    K = 100, d = 32: 5.7 ms -> 3.0 ms). None otherwise."""
    if probe_shape != shape or not isinstance(value, np.ndarray) or value.dtype not in _BLAS_FLOATS \
            or value.size * value.itemsize < _EINSUM_MIN_BYTES or not shape or len(shape) > 26:
        return None
    lead = len(shape) - len(pshape)
    kept = [i for i in range(len(shape)) if i >= lead and not (pshape[i - lead] == 1 and shape[i] != 1)]
    if len(shape) - 1 not in kept or shape[-1] < _EINSUM_MIN_INNER:
        return None
    letters = "abcdefghijklmnopqrstuvwxyz"[:len(shape)]
    return f"{letters},{letters}->{''.join(letters[i] for i in kept)}"


def _advanced(key) -> bool:
    """Does ``key`` hold an index array or list (a repeated index must accumulate)? Boolean masks
    and Refs (index values computed at replay) count as advanced: ``np.add.at`` handles every kind."""
    from .recording import Ref
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        if isinstance(k, (Ref, list, np.ndarray)):
            return True
    return False
