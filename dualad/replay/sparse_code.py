"""The compressed Jacobian replay program: one direction per colour, written straight into a sparse matrix's data.

A sparse Jacobian with pattern P and column colours c is read off the
compressed Jacobian ``T = J S`` (``S[j, c[j]] = 1``, one column per colour): the
nonzero ``(i, j)`` of P is ``T[i, c[j]]``. Written from a recording of f, with
``S`` known when the program is written, much of ``T`` is known before any call:

* **constants**: a tangent that depends on ``S`` alone is computed once. So is an
  elementwise partial that reads no value that varies (``2.0 * u``'s, ``u / h2``'s):
  the Laplacian part of a PDE residual becomes one constant data array;
* **diagonals**: while only elementwise operations (and C-order reshapes) act on
  values aligned with x's entries the tangent is ``diag(d) S``; the program
  carries ``d`` (n numbers) and adds it at the positions of J's diagonal in the
  data array (the reaction term ``exp(u)``);
* everything else is a dense ``(..., k)`` tangent, as in :mod:`.forward_code`.

Only the values the guards and the remaining partials read are computed. The
program returns the data array of the csr matrix, nonzeros in pattern order.

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> rec = record(lambda u: np.concatenate([u[1:] - u[:-1], [0.0]]) + np.exp(u), (np.zeros(3),), 0)
>>> rows, cols = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 2, 2])
>>> colors = np.array([0, 1, 0])
>>> seed = np.eye(2)[colors]
>>> run = sparse_data_program(rec, seed, rows * 2 + colors[cols], rows, cols, np.float64)
>>> run(np.zeros(3))  # J = [[-1 + e^0, 1, 0], [0, -1 + e^0, 1], [0, 0, e^0]]: its nonzeros row by row
array([0., 1., 0., 1., 1.])
"""
from __future__ import annotations

import dis
import math
import types
from typing import Callable

import numpy as np

from ..rules import NEG_ONE, ONE, normalize_axes
from ..tape.graph import value_shape
from .analysis import Flow, kind_of
from . import buffers
from .codegen import Source, arguments, custom_jvp_call, fitted_sum, keywords
from .forward_code import emit_values, fit, known_selection_tangent, live_values, parameters, probe_call
from .inline import inlined
from .recording import Recording

__all__ = ["sparse_data_program", "parameters_read", "diagonal_rows", "with_data"]


# ------------------------------------------------------------------ which parameters a rule function reads
_READS: dict = {}


def parameters_read(fn) -> frozenset | None:
    """Indices of the positional parameters that ``fn``'s code reads, or None if that cannot be told
    (not a plain Python function, ``*args``, a name such as ``locals``). Any instruction naming a
    parameter counts as a read, so the answer errs on the side of reading."""
    key = id(fn)
    hit = _READS.get(key)
    if hit is not None and hit[0] is fn:
        return hit[1]
    answer = None
    code = getattr(fn, "__code__", None)
    if isinstance(fn, types.FunctionType) and code is not None and not code.co_flags & 0x0C \
            and not {"locals", "vars", "eval", "exec"} & set(code.co_names):
        names = code.co_varnames[:code.co_argcount]
        seen = {name for name in names if name in code.co_cellvars}  # captured by an inner function
        for ins in dis.get_instructions(code):
            val = ins.argval
            for v in (val if isinstance(val, tuple) else (val,)):
                if isinstance(v, str) and v in names:
                    seen.add(v)
        answer = frozenset(i for i, name in enumerate(names) if name in seen)
    _READS[key] = (fn, answer)
    return answer


def diagonal_rows(d, seed, shape: tuple):
    """The dense tangent ``shape + (k,)`` of ``diag(d) S`` (``seed``: S as ``(n, k)``; ``d`` broadcast to ``shape``)."""
    column = np.reshape(np.broadcast_to(d, shape), (-1, 1))
    return (column * seed).reshape(shape + seed.shape[-1:])


def with_data(template, data):
    """A sparse matrix with ``template``'s structure and ``data`` (its index arrays copied, so nothing of the
    template is shared). Skips the constructor's checks: ``template`` was built and checked once."""
    cls = type(template)
    matrix = cls.__new__(cls)  # a shallow copy (copy.copy, without its protocol's cost): scipy keeps a
    matrix.__dict__.update(template.__dict__)  # matrix's state in its attributes
    matrix.data = data
    matrix.indices = template.indices.copy()
    matrix.indptr = template.indptr.copy()
    return matrix


class _Parts:
    """A tangent as ``const + diag(d + e) S + dense``: ``const`` an array known now, ``d`` (``diag``) a
    constant array, ``e`` (``diag_expr``) and ``dense`` expressions in the program; each may be None.
    ``dirs``: the directions (colours) ``dense`` holds, in order, where it is zero in every other one
    (None: all of them)."""

    __slots__ = ("const", "diag", "diag_expr", "dense", "dirs")

    def __init__(self, const=None, diag=None, dense=None, diag_expr=None, dirs=None):
        self.const, self.diag, self.dense, self.diag_expr, self.dirs = const, diag, dense, diag_expr, dirs


def nonzero_directions(const) -> tuple:
    """The directions (last axis) in which ``const`` has an entry other than zero (NaN counts), in order."""
    c = np.asarray(const)
    return tuple(int(d) for d in np.flatnonzero((c != 0).reshape(-1, c.shape[-1]).any(axis=0)))


def union_of(dirs: list, k: int) -> tuple | None:
    """The directions of a sum of tangents holding ``dirs`` each (None: all ``k``)."""
    if any(d is None for d in dirs):
        return None
    union = tuple(sorted(set().union(*dirs)))
    return None if len(union) == k else union


def _run_list(pos: list) -> list:
    """``pos`` (increasing) as runs ``(index in pos, pos value, length)`` of consecutive values."""
    out: list = []
    for index, p in enumerate(pos):
        if out and p == out[-1][1] + out[-1][2]:
            out[-1][2] += 1
        else:
            out.append([index, p, 1])
    return [tuple(run) for run in out]


def expanded(t, positions, width: int):
    """Tangent ``t`` (``(..., m)``) as ``(..., width)``: its directions at ``positions``, zeros elsewhere."""
    out = np.zeros(t.shape[:-1] + (width,), t.dtype)
    out[..., positions] = t
    return out


class _Factor:
    """A partial (or constant factor) in a tangent line: ``name``, with a direction axis added if ``column``."""

    __slots__ = ("name", "column")

    def __init__(self, name: str, column: bool = False):
        self.name, self.column = name, column

    def text(self) -> str:
        return f"{self.name}[..., None]" if self.column else self.name


class _Term:
    """One term of a tangent sum: ``factor * tangent`` (``factor`` a :class:`_Factor`), or ``+-tangent``;
    ``dirs`` the directions ``tangent`` holds (None: all)."""

    __slots__ = ("factor", "tangent", "negate", "dirs")

    def __init__(self, factor, tangent: str, negate: bool = False, dirs: tuple | None = None):
        if isinstance(factor, str):
            factor = _Factor(factor)
        self.factor, self.tangent, self.negate, self.dirs = factor, tangent, negate, dirs

    def text(self) -> str:
        if self.factor is not None:
            return f"{self.factor.text()} * {self.tangent}"
        return f"(-{self.tangent})" if self.negate else self.tangent

    def operands(self) -> list:
        return [self.tangent] if self.factor is None else [self.factor.name, self.tangent]


def _scaled(p, t):
    """``p * t`` for a partial ``p`` of the value's shape and a tangent ``t`` with a trailing direction axis."""
    return p * t if np.ndim(p) == 0 else np.asarray(p)[..., None] * t


def _runs(pos: np.ndarray) -> list | None:
    """``pos`` as at most four arithmetic runs ``(first row, last row + 1, start, stop, step)``, or None."""
    out: list = []
    i, n = 0, len(pos)
    while i < n:
        if len(out) == 4:
            return None
        j = i + 1
        if j < n:
            step = int(pos[j] - pos[i])
            if step <= 0:
                return None
            while j + 1 < n and pos[j + 1] - pos[j] == step:
                j += 1
            j += 1
        else:
            step = 1
        out.append((i, j, int(pos[i]), int(pos[j - 1]) + 1, step))
        i = j
    return out


def _summed(consts: list, shape: tuple) -> np.ndarray:
    """The sum of a node's constant tangent parts, as one C-contiguous array of the tangent's shape (not
    copied when it is one already: constants are never written into)."""
    total = consts[0]
    for c in consts[1:]:
        total = total + c
    if type(total) is np.ndarray and total.shape == shape and total.flags.c_contiguous:
        return total
    return np.array(np.broadcast_to(total, shape))


def sparse_data_program(rec: Recording, seed: np.ndarray, take: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                        dtype, flow: Flow | None = None) -> Callable:
    """Compile ``run(x, *extras) -> data``: the nonzeros ``(rows[e], cols[e])`` of the Jacobian at x, read
    from the compressed tangent (``seed``: ``x.shape + (k,)``, one direction per colour) at
    ``take[e] = rows[e] * k + colour of cols[e]``, as an array of ``dtype``.

    The program raises ``FloatingPointError`` when an entry is not finite (the plain path then
    applies the ``0 x inf`` conventions) and :class:`~.codegen.GuardFailed` when f decides otherwise.

    A tangent holds only the directions (colours) it can be nonzero in. The colours are numbered
    again, if that helps, so that each such set is a run of neighbouring directions (a slice, not a
    gather, wherever tangents of different sets meet): which colour is which direction is the
    program's own business, ``take`` is read accordingly.
    """
    flow = flow or Flow(rec)
    placed: list = []
    program = _program(rec, seed, take, rows, cols, dtype, flow, placed)
    k = seed.shape[-1]
    order = direction_order(placed, k)
    if order is None:
        return program
    inverse = np.empty(k, dtype=np.int64)
    inverse[order] = np.arange(k)
    return _program(rec, np.ascontiguousarray(seed[..., order]), (take // k) * k + inverse[take % k], rows, cols,
                    dtype, flow, [])


def _contiguous(members: tuple, rank: np.ndarray) -> bool:
    places = sorted(int(rank[d]) for d in members)
    return places[-1] - places[0] == len(places) - 1


def direction_order(sets: list, k: int) -> np.ndarray | None:
    """A numbering of the ``k`` directions under which ``sets`` (tuples of directions, in the order the
    program met them) are runs of neighbours more often than under the identity (each set counted by
    its size), or None. Directions are numbered in the order the sets first hold them: a tangent
    usually grows as the computation goes on (BA: the rotation's 3, the point's and the centre's 6,
    then the distortion's, the focal length's ...), so each growth step is a run of its own."""
    distinct = [s for s in dict.fromkeys(sets) if 1 < len(s) < k]
    identity = np.arange(k)

    def broken(rank) -> int:
        return sum(len(s) for s in distinct if not _contiguous(s, rank))
    before = broken(identity)
    if not before or k > 4096:
        return None
    met = list(dict.fromkeys(sets))  # single directions too: when each first joins matters
    first = np.full(k, len(met), dtype=np.int64)
    for number, members in reversed(list(enumerate(met))):
        first[list(members)] = number
    order = np.lexsort((identity, first))
    rank = np.empty(k, dtype=np.int64)
    rank[order] = identity
    return order if broken(rank) < before else None


def _program(rec: Recording, seed: np.ndarray, take: np.ndarray, rows: np.ndarray, cols: np.ndarray,
             dtype, flow: Flow, placed: list) -> Callable:
    """:func:`sparse_data_program` for one numbering of the directions; ``placed`` collects each set of
    directions a tangent held where tangents of different sets met."""
    code = Source()
    nodes = rec.tape.nodes
    out = flow.output
    x_shape = value_shape(nodes[rec.x_node].value)
    n = math.prod(x_shape)
    k = seed.shape[-1]
    seed_flat = np.reshape(seed, (n, k))
    needed = flow.needed_backward
    varies = flow.varies
    lines: list = []  # the tangent lines, written after every value (they read values only)
    used: set = set()  # nodes whose values the tangent lines read

    def value_of(j: int) -> str:
        return code.node_value(j, varies, nodes)

    def mark(node, positions) -> None:
        for pos, _, parent in node.inputs:
            if positions is None or pos in positions:
                if varies[parent.index]:
                    used.add(parent.index)

    tangents: dict = {}
    materialised: dict = {}
    pooled = []  # set once a line writes into the program's reused buffers (B, see .buffers)

    def width_of(dirs) -> int:
        return k if dirs is None else len(dirs)

    def places(dirs, within) -> list:
        """Where the directions ``dirs`` sit among ``within`` (None: all k)."""
        if dirs is not None:
            placed.append(dirs)
        if within is None:
            return list(range(k)) if dirs is None else list(dirs)
        index = {d: p for p, d in enumerate(within)}
        return [index[d] for d in (range(k) if dirs is None else dirs)]

    def at(pos: list, argument: bool = False) -> str:
        """An index text for the direction axis: a slice for a run (``slice(a, b)`` as an ``argument``),
        else a constant index array."""
        if pos == list(range(pos[0], pos[0] + len(pos))):
            return f"slice({pos[0]}, {pos[0] + len(pos)})" if argument else f"{pos[0]}:{pos[0] + len(pos)}"
        return code.const(np.array(pos, dtype=np.intp), "I")

    restricted: dict = {}

    def const_term(const):
        """``(name, dirs)``: a constant tangent by its nonzero directions only (the others are zeros)."""
        hit = restricted.get(id(const))
        if hit is None:
            dirs = nonzero_directions(const)
            if len(dirs) == k:
                hit = (const, code.const(const, "C"), None)
            else:
                dirs = dirs or (0,)  # an all-zero tangent: keep one (zero) direction
                hit = (const, code.const(np.ascontiguousarray(np.asarray(const)[..., list(dirs)]), "C"), dirs)
            restricted[id(const)] = hit
        return hit[1], hit[2]

    def sum_into(name: str, terms: list, shapes: list, shape: tuple):
        """``name = `` the sum of ``terms`` (:class:`_Term`, of broadcast shapes ``shapes``), fitted to
        ``shape``; returns the directions it holds (the union of the terms'). A term holding fewer
        directions adds into its own. A large result is written into a reused buffer term by term
        (``out=``), in the order and the dtypes the expression would use: its entries are the
        expression's, bit for bit (where a term has no direction the expression adds a zero)."""
        dirs = union_of([term.dirs for term in terms], k)
        width = width_of(dirs)
        try:
            covered = np.broadcast_shapes(*shapes) == shape
        except ValueError:
            covered = False
        alias = len(terms) == 1 and terms[0].factor is None and not terms[0].negate
        if alias or not covered or math.prod(shape) * width < buffers.BIG:
            texts = [term.text() if term.dirs == dirs else
                     f"expanded({term.text()}, {at(places(term.dirs, dirs), True)}, {width})" for term in terms]
            if len(texts) == 1 and texts[0].startswith("expanded("):
                shapes = [shape]
            lines.append(f"{name} = {fitted_sum(texts, shapes, shape)}")
            return dirs
        pooled.append(name)
        full = shape + (width,)
        operands = ", ".join(dict.fromkeys(o for term in terms for o in term.operands()))
        lines.append(f"{name} = B.take({full!r}, np.result_type({operands}))")
        scratch: dict = {}
        touched: set = set()

        def scaled_into(factor, part: str, target: str, length: int) -> None:
            """``target += factor * part`` through a reused scratch array of ``length`` directions."""
            if length not in scratch:
                scratch[length] = f"s{name}_{length}"
                lines.append(f"{scratch[length]} = B.take({shape + (length,)!r}, {name}.dtype)")
            lines.append(f"np.multiply({factor.text()}, {part}, out={scratch[length]})")
            lines.append(f"np.add({target}, {scratch[length]}, out={target})")

        number = 0
        while number < len(terms):
            term, term_shape = terms[number], tuple(shapes[number])
            pos = places(term.dirs, dirs)
            factor, tangent = term.factor, term.tangent
            if len(pos) == width and not touched:  # the first term, holding every direction: written
                after = terms[number + 1] if number + 1 < len(terms) else None
                pair = (factor is None and not term.negate and after is not None
                        and len(places(after.dirs, dirs)) == width)
                if pair and after.factor is None:  # a + b, a - b in one pass
                    lines.append(f"np.{'subtract' if after.negate else 'add'}({tangent}, {after.tangent}, out={name})")
                    number += 1
                elif pair and tuple(shapes[number + 1]) == shape:  # a + f b as f b + a: the same sum of two
                    lines.append(f"np.multiply({after.factor.text()}, {after.tangent}, out={name})")
                    lines.append(f"np.add({name}, {tangent}, out={name})")
                    number += 1
                elif factor is not None:
                    lines.append(f"np.multiply({factor.text()}, {tangent}, out={name})")
                else:
                    lines.append(f"np.{'negative' if term.negate else 'positive'}({tangent}, out={name})")
                touched.update(range(width))
                number += 1
                continue
            # each run of directions the term holds goes to its own slice of the sum (no fancy indexing)
            for start, first, length in _run_list(pos):
                part = tangent if length == len(pos) else f"{tangent}[..., {start}:{start + length}]"
                target = name if length == width else f"{name}[..., {first}:{first + length}]"
                span = range(first, first + length)
                fresh = [p for p in span if p not in touched]
                if len(fresh) == length:  # the first term in these directions: written, not added
                    if factor is not None:
                        lines.append(f"np.multiply({factor.text()}, {part}, out={target})")
                    else:
                        lines.append(f"np.{'negative' if term.negate else 'positive'}({part}, out={target})")
                else:
                    for _, a, n_fresh in _run_list(fresh):  # directions no earlier term reached start at zero
                        lines.append(f"{name}[..., {a}:{a + n_fresh}] = 0")
                    if factor is None:
                        lines.append(f"np.{'subtract' if term.negate else 'add'}({target}, {part}, out={target})")
                    elif term_shape == shape:
                        scaled_into(factor, part, target, length)
                    else:
                        lines.append(f"np.add({target}, {factor.text()} * {part}, out={target})")
                touched.update(span)
            number += 1
        return dirs

    def diag_dense(d, shape) -> np.ndarray:
        return diagonal_rows(d, seed_flat, shape)

    def whole(j: int):
        """Tangent ``j`` as one thing: ('const', array) or ('expr', text, its directions)."""
        hit = materialised.get(j)
        if hit is not None:
            return hit
        t = tangents[j]
        shape = value_shape(nodes[j].value)
        const = t.const
        if t.diag is not None:
            folded = diag_dense(t.diag, shape)
            const = folded if const is None else const + folded
        terms = []
        if t.diag_expr is not None:
            lines.append(f"r{j} = diagonal_rows({t.diag_expr}, {code.const(seed_flat, 'S')}, {shape!r})")
            terms.append(_Term(None, f"r{j}"))
        if t.dense is not None:
            terms.append(_Term(None, t.dense, dirs=t.dirs))
        if not terms:
            result = ("const", const if const is not None else np.zeros(shape + (k,), seed.dtype))
        else:
            if const is not None:
                name, dirs = const_term(const)
                terms.append(_Term(None, name, dirs=dirs))
            if len(terms) == 1:
                result = ("expr", terms[0].tangent, terms[0].dirs)
            else:
                result = ("expr", f"m{j}", sum_into(f"m{j}", terms, [shape] * len(terms), shape))
        materialised[j] = result
        return result

    def whole_text(j: int):
        """``(text, dirs)`` of tangent ``j`` (a constant by its nonzero directions)."""
        hit = whole(j)
        return const_term(hit[1]) if hit[0] == "const" else hit[1:]

    def whole_parts(j: int) -> _Parts:
        hit = whole(j)
        return _Parts(const=hit[1]) if hit[0] == "const" else _Parts(dense=hit[1], dirs=hit[2])

    def partial_of(node, pos: int, partial):
        """('const', value) or ('expr', text, per_entry: bool) for the partial at ``pos``."""
        if partial is ONE:
            return ("const", 1.0)
        if partial is NEG_ONE:
            return ("const", -1.0)
        reads = parameters_read(partial)
        inputs_at: dict = {}
        for q, _, parent in node.inputs:
            inputs_at.setdefault(q, []).append(parent.index)
        if reads is not None and 0 not in reads and all(
                not varies[j] for p in reads if p >= 1 for j in inputs_at.get(p - 1, ())):
            value = probe_call(partial, node.value, *node.args)
            if value is not None:
                return ("const", value)
        i = node.index
        texts = arguments(node, code, value_of)
        if reads is not None:
            texts = [t if (p + 1) in reads else "None" for p, t in enumerate(texts)]
            mark(node, {p - 1 for p in reads if p >= 1})
        else:
            mark(node, None)
        own = "None"
        if reads is None or 0 in reads:
            own = value_of(i)
            if varies[i]:
                used.add(i)
        name = f"q{i}_{pos}"
        text = inlined(partial, [own] + texts, code) or f"{code.const(partial, 'p')}({', '.join([own] + texts)})"
        lines.append(f"{name} = {text}")
        probe = probe_call(partial, node.value, *node.args)
        return ("expr", name, probe is None or np.ndim(probe) > 0, np.shape(probe) if probe is not None else None)

    def elementwise(node) -> _Parts:
        i = node.index
        shape = value_shape(node.value)
        consts, diag_consts, diag_terms, dense_terms, dense_shapes = [], [], [], [], []
        for pos, _, parent in node.inputs:
            j = parent.index
            if not needed[j]:
                continue
            pshape = value_shape(parent.value)
            t = tangents[j]
            if (t.diag is not None or t.diag_expr is not None) and not (pshape == shape and math.prod(shape) == n):
                t = whole_parts(j)  # broadcast: no longer a diagonal of x's entries
            p = partial_of(node, pos, node.rule.partials[pos])
            if p[0] == "const":
                c = p[1]
                unit = np.ndim(c) == 0 and c in (1.0, -1.0)
                if t.const is not None:
                    with np.errstate(all="ignore"):
                        consts.append(_scaled(c, t.const))
                if t.diag_expr is not None:
                    if unit:
                        diag_terms.append(t.diag_expr if c == 1.0 else f"(-{t.diag_expr})")
                    else:
                        diag_terms.append(f"{code.const(c, 'P')} * {t.diag_expr}")
                if t.diag is not None:
                    with np.errstate(all="ignore"):
                        diag_consts.append(c * t.diag)
                if t.dense is not None:
                    if unit:
                        dense_terms.append(_Term(None, t.dense, negate=c == -1.0, dirs=t.dirs))
                    elif np.ndim(c) == 0:
                        dense_terms.append(_Term(code.const(c, 'P'), t.dense, dirs=t.dirs))
                    else:
                        dense_terms.append(_Term(code.const(np.asarray(c)[..., None], 'P'), t.dense, dirs=t.dirs))
                    dense_shapes.append(np.broadcast_shapes(np.shape(c), pshape))
                continue
            _, name, per_entry, pshape_probe = p
            column = _Factor(name, per_entry)
            widened = np.broadcast_shapes(pshape_probe or shape, pshape) if per_entry else pshape
            if t.const is not None:
                const_name, const_dirs = const_term(t.const)
                dense_terms.append(_Term(column, const_name, dirs=const_dirs))
                dense_shapes.append(widened)
            if t.diag_expr is not None:
                diag_terms.append(f"{name} * {t.diag_expr}")
            if t.diag is not None:
                if np.ndim(t.diag) == 0 and t.diag == 1.0:
                    diag_terms.append(name)
                else:
                    diag_terms.append(f"{name} * {code.const(t.diag, 'D')}")
            if t.dense is not None:
                dense_terms.append(_Term(column, t.dense, dirs=t.dirs))
                dense_shapes.append(widened)
        result = _Parts()
        if consts:
            result.const = _summed(consts, shape + (k,))
        if diag_terms:
            expr = " + ".join(diag_terms)
            if len(diag_terms) == 1 and expr.isidentifier():
                result.diag_expr = expr
            else:
                lines.append(f"d{i} = {expr}")
                result.diag_expr = f"d{i}"
        if diag_consts:
            result.diag = sum(diag_consts)
        if dense_terms:
            result.dirs = sum_into(f"t{i}", dense_terms, dense_shapes, shape)
            result.dense = f"t{i}"
        return result

    def reshaped(node) -> _Parts | None:
        """A C-order reshape keeps every part: a diagonal stays one (entry e still reads x's entry e, flat),
        constants and dense tangents are reshaped (the direction axis is last)."""
        if node.func is not np.reshape or node.kwargs.get("order", "C") != "C" or len(node.inputs) != 1:
            return None
        pos, sub, parent = node.inputs[0]
        t = tangents[parent.index]
        if pos != 0 or sub is not None:
            return None
        pshape, shape = value_shape(parent.value), value_shape(node.value)
        result = _Parts()
        if t.const is not None:
            result.const = np.reshape(t.const, shape + (k,))
        if t.dense is not None:
            lines.append(f"t{node.index} = np.reshape({t.dense}, {shape + (width_of(t.dirs),)!r})")
            result.dense, result.dirs = f"t{node.index}", t.dirs
        if t.diag is not None:
            result.diag = t.diag if np.ndim(t.diag) == 0 else np.reshape(np.broadcast_to(t.diag, pshape), shape)
        if t.diag_expr is not None:
            lines.append(f"d{node.index} = np.reshape(np.broadcast_to({t.diag_expr}, {pshape!r}), {shape!r})")
            result.diag_expr = f"d{node.index}"
        return result

    def short_axis_sum(node) -> _Parts | None:
        """``np.sum`` over one short axis (2 to 8 entries: BA's 3-vectors) of a large tangent, as that many
        slices added in order into a reused buffer: numpy's reduction over an axis that is not the
        innermost adds them one after the other the same way, and a strided reduction is slow."""
        if node.func is not np.sum or len(node.inputs) != 1 or len(node.args) > 2 \
                or set(node.kwargs) - {"axis", "keepdims"}:
            return None
        pos, sub, parent = node.inputs[0]
        axis = node.kwargs.get("axis", node.args[1] if len(node.args) > 1 else None)
        if pos != 0 or sub is not None or not isinstance(axis, (int, np.integer)) or whole(parent.index)[0] == "const":
            return None
        pshape, shape = value_shape(parent.value), value_shape(node.value)
        a = normalize_axes(int(axis), len(pshape))[0]
        text, dirs = whole_text(parent.index)
        width = width_of(dirs)
        if not 2 <= pshape[a] <= 8 or math.prod(shape) * width < buffers.BIG:
            return None
        keep = bool(node.kwargs.get("keepdims", False))
        lead = ":, " * a
        parts = [f"{text}[{lead}{j}:{j + 1}]" if keep else f"{text}[{lead}{j}]" for j in range(pshape[a])]
        name = f"t{node.index}"
        pooled.append(name)
        lines.append(f"{name} = B.take({shape + (width,)!r}, {text}.dtype)")
        lines.append(f"np.add({parts[0]}, {parts[1]}, out={name})")
        for part in parts[2:]:
            lines.append(f"np.add({name}, {part}, out={name})")
        return _Parts(dense=name, dirs=dirs)

    def fixed_condition(node):
        """np.where's condition as a boolean array of the output's shape, when the recording fixed it (it
        reads no varying value; a guard checks a recorded comparison), else None."""
        if node.func is not np.where or len(node.args) != 3 or node.kwargs \
                or any(varies[q.index] for p, _, q in node.inputs if p == 0):
            return None
        return np.broadcast_to(np.asarray(node.args[0]).astype(bool), value_shape(node.value))

    def linear(node) -> _Parts:
        i = node.index
        shape = value_shape(node.value)
        rule = node.rule
        kept = reshaped(node) or short_axis_sum(node)
        if kept is not None:
            return kept
        condition = fixed_condition(node)
        consts, terms = [], []
        for pos, _, parent in node.inputs:
            j = parent.index
            if not needed[j]:
                continue
            picks = None
            if condition is not None and pos in (1, 2):
                picks = condition if pos == 1 else ~condition
                if not picks.any():  # a branch np.where never selects: its tangent adds nothing
                    continue
            tangent_map = rule.tangent[pos]
            reads = parameters_read(tangent_map)
            others = [q.index for p, _, q in node.inputs if p != pos]
            read_others = others if reads is None else [q.index for p, _, q in node.inputs
                                                        if p != pos and (p + 1) in reads]
            hit = whole(j)
            if hit[0] == "const" and not any(varies[q] for q in read_others):
                # the map is linear in this argument: its value does not matter, the others are fixed
                with np.errstate(all="ignore"):
                    consts.append(fit(np.asarray(tangent_map(hit[1], *node.args, **node.kwargs)), shape))
                continue
            texts = arguments(node, code, value_of)
            for p, sub, q in node.inputs:
                if p == pos and sub is None:
                    # a linear map in argument ``pos`` reads at most its shape: the recorded value serves
                    texts[p] = code.const(node.args[p], "k")
                elif varies[q.index]:
                    used.add(q.index)
            # a linear map acts on each direction alike: a tangent holding some directions keeps them
            text, dirs = whole_text(j)
            if picks is not None and picks.all():  # np.where selects this branch everywhere: its tangent
                terms.append((text, dirs))
                continue
            terms.append((f"{code.const(tangent_map, 'L')}({text}, {', '.join(texts)}{keywords(node, code)})", dirs))
        result = _Parts()
        if consts:
            result.const = _summed(consts, shape + (k,))
        if terms and all(dirs == terms[0][1] for _, dirs in terms):
            lines.append(f"t{i} = fit({' + '.join(text for text, _ in terms)}, {shape!r})")
            result.dense, result.dirs = f"t{i}", terms[0][1]
        elif terms:
            for number, (text, _) in enumerate(terms):
                lines.append(f"u{i}_{number} = fit({text}, {shape!r})")
            result.dirs = sum_into(f"t{i}", [_Term(None, f"u{i}_{number}", dirs=dirs)
                                             for number, (_, dirs) in enumerate(terms)], [shape] * len(terms), shape)
            result.dense = f"t{i}"
        return result

    def concatenated(node, parents: list, held: dict, dirs) -> _Parts | None:
        """A large ``np.concatenate``'s tangent written block by block into a reused buffer (each part's
        directions at their places, zeros where a part has none), not gathered into a new array."""
        if node.func is not np.concatenate or set(node.kwargs) - {"axis"} or len(node.args) > 2 \
                or any(pos != 0 or sub is None for pos, sub, _ in parents):
            return None
        arrays = node.args[0]
        axis = node.args[1] if len(node.args) > 1 else node.kwargs.get("axis", 0)
        shape = value_shape(node.value)
        width = width_of(dirs)
        if not isinstance(axis, (int, np.integer)) or math.prod(shape) * width < buffers.BIG:
            return None
        a = normalize_axes(int(axis), len(shape))[0]
        part_of = {sub: parent.index for _, sub, parent in parents}
        name = f"t{node.index}"
        pooled.append(name)
        texts = [held[j][0] for j in part_of.values()]
        lines.append(f"{name} = B.take({shape + (width,)!r}, np.result_type({', '.join(dict.fromkeys(texts))}))")
        offset = 0
        for number, array in enumerate(arrays):
            size = np.shape(array)[a]
            block = ":, " * a + f"{offset}:{offset + size}"
            offset += size
            if number not in part_of:
                lines.append(f"{name}[{block}] = 0")
                continue
            text, own = held[part_of[number]]
            pos = places(own, dirs)
            for start, first, length in _run_list(pos):
                part = text if length == len(pos) else f"{text}[..., {start}:{start + length}]"
                lines.append(f"{name}[{block}, ..., {first}:{first + length}] = {part}")
            for _, first, length in _run_list(sorted(set(range(width)) - set(pos))):
                lines.append(f"{name}[{block}, ..., {first}:{first + length}] = 0")
        return _Parts(dense=name, dirs=dirs)

    def custom(node) -> _Parts:
        i = node.index
        parents = [(pos, sub, parent) for pos, sub, parent in node.inputs if needed[parent.index]]
        if node.rule.selection and not isinstance(node.value, tuple) and all(
                whole(p.index)[0] == "const" for _, _, p in parents):
            return _Parts(const=known_selection_tangent(node, parents, lambda p: whole(p.index)[1]))
        # the rule's JVP acts on each direction alike; its tangents must hold the same directions
        held = {parent.index: whole_text(parent.index) for _, _, parent in parents}
        dirs = union_of([d for _, d in held.values()], k)
        joined = concatenated(node, parents, held, dirs)
        if joined is not None:
            return joined
        args = arguments(node, code, value_of)
        mark(node, None)
        if varies[i]:
            used.add(i)

        def tangent_text(parent) -> str:
            text, own = held[parent.index]
            if own == dirs:
                return text
            return f"expanded({text}, {at(places(own, dirs), True)}, {width_of(dirs)})"
        lines.append(f"t{i} = " + custom_jvp_call(node, code, args, value_of(i), parents, tangent_text))
        return _Parts(dense=f"t{i}", dirs=dirs)

    for node in nodes:
        i = node.index
        if not needed[i]:
            continue
        kind = kind_of(node)
        if kind == "input":
            tangents[i] = _Parts(diag=np.ones((), seed.dtype))
        elif kind == "output":
            (_, _, parent), = node.inputs
            text, dirs = whole_text(parent.index)
            lines.append(f"t{i} = {text}[{node.rule.i}]")
            tangents[i] = _Parts(dense=f"t{i}", dirs=dirs)
        elif kind == "elementwise":
            tangents[i] = elementwise(node)
        elif kind == "linear":
            tangents[i] = linear(node)
        else:
            tangents[i] = custom(node)

    nnz = len(take)
    dtype = np.dtype(dtype)
    code.namespace.update(fit=fit, diagonal_rows=diagonal_rows, expanded=expanded, np=np, isfinite=math.isfinite)
    tail: list = []
    if out is None or not needed[out] or nnz == 0:
        tail.append(f"return np.zeros({nnz}, {code.const(dtype, 'T')})")
    else:
        t = tangents[out]
        y_shape = value_shape(nodes[out].value)
        m = math.prod(y_shape)
        diag = t.diag_expr
        positions = None
        if diag is not None and m == n:
            on_diagonal = rows == cols
            positions = np.full(m, -1, dtype=np.intp)
            positions[rows[on_diagonal]] = np.flatnonzero(on_diagonal)
            if (positions < 0).any():
                positions = None
        if diag is not None and positions is None:  # a diagonal entry outside the pattern: the plain reading
            t = whole_parts(out)
            diag = None
        const = t.const
        if t.diag is not None:
            folded = diag_dense(t.diag, y_shape)
            const = folded if const is None else const + folded
        const_data = None if const is None else np.ascontiguousarray(np.reshape(const, (-1,))[take], dtype)
        T = code.const(dtype, "T")
        if t.dense is not None and t.dirs is None:
            tail.append(f"data = {t.dense}.reshape(-1)[{code.const(take, 'I')}]")
        elif t.dense is not None:  # the dense part holds some directions: entry e reads its colour's place there
            place = np.full(k, -1, dtype=np.int64)
            place[list(t.dirs)] = np.arange(len(t.dirs))
            where = place[take % k]
            inside = where >= 0
            read = (take // k) * len(t.dirs) + where
            if inside.all():
                tail.append(f"data = {t.dense}.reshape(-1)[{code.const(read, 'I')}]")
            else:
                tail.append(f"data = np.zeros({nnz}, {t.dense}.dtype)")
                tail.append(f"data[{code.const(np.flatnonzero(inside), 'I')}] = "
                            f"{t.dense}.reshape(-1)[{code.const(read[inside], 'I')}]")
        if t.dense is not None:
            if const_data is not None:
                tail.append(f"data += {code.const(const_data, 'C')}")
        elif const_data is not None:
            tail.append(f"data = {code.const(const_data, 'C')}.copy()")
        else:
            tail.append(f"data = np.zeros({nnz}, {T})")
        if const_data is not None and not np.isfinite(const_data).all():
            tail.insert(0, "raise FloatingPointError('not finite')")  # never answers: the plain path does
        if diag is not None:
            tail.append(f"dd = np.ravel({diag})")
            if t.dense is None:  # the constants are finite (checked above): the diagonal alone can be not
                tail.append("if not isfinite(dd.sum()): raise FloatingPointError('not finite')")
            runs = _runs(positions)
            if runs is None:
                tail.append(f"data[{code.const(positions, 'I')}] += dd")
            else:
                for r0, r1, start, stop, step in runs:
                    if (r0, r1) == (0, m):
                        tail.append(f"data[{start}:{stop}:{step}] += dd")
                    else:
                        tail.append(f"data[{start}:{stop}:{step}] += dd[{r0}:{r1}] if dd.size > 1 else dd")
        if t.dense is not None:
            tail.append("if not isfinite(data.sum()): raise FloatingPointError('not finite')")
        if pooled:
            tail.append("BUFFERS.append(B)")  # for the next call (a call that raises drops its pool)
        tail.append(f"return data.astype({T}, copy=False)")
    live = live_values(rec, flow, sorted(used))
    emit_values(rec, flow, code, live, value_of)
    if pooled:
        # one pool per running call (pop and append are atomic): concurrent calls never share a buffer
        code.namespace.update(Buffers=buffers.Buffers, BUFFERS=[])
        code.lines.append("B = BUFFERS.pop() if BUFFERS else Buffers()")
    code.lines.extend(lines)
    code.lines.extend(tail)
    # release=True: each local is dropped after its last use, so its buffer is idle for the next line
    program = code.compile("sparse_data", parameters(rec), release=True)
    return program
