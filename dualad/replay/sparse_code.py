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

from ..rules import NEG_ONE, ONE
from ..tape.graph import value_shape
from .analysis import Flow, kind_of
from . import buffers
from .codegen import Source, arguments, custom_jvp_call, fitted_sum, keywords
from .forward_code import emit_values, fit, live_values, parameters, probe_call
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
    constant array, ``e`` (``diag_expr``) and ``dense`` expressions in the program; each may be None."""

    __slots__ = ("const", "diag", "diag_expr", "dense")

    def __init__(self, const=None, diag=None, dense=None, diag_expr=None):
        self.const, self.diag, self.dense, self.diag_expr = const, diag, dense, diag_expr


class _Factor:
    """A partial (or constant factor) in a tangent line: ``name``, with a direction axis added if ``column``."""

    __slots__ = ("name", "column")

    def __init__(self, name: str, column: bool = False):
        self.name, self.column = name, column

    def text(self) -> str:
        return f"{self.name}[..., None]" if self.column else self.name


class _Term:
    """One term of a tangent sum: ``factor * tangent`` (``factor`` a :class:`_Factor`), or ``+-tangent``."""

    __slots__ = ("factor", "tangent", "negate")

    def __init__(self, factor, tangent: str, negate: bool = False):
        if isinstance(factor, str):
            factor = _Factor(factor)
        self.factor, self.tangent, self.negate = factor, tangent, negate

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
    """The sum of a node's constant tangent parts, as one writable array of the tangent's shape."""
    total = consts[0]
    for c in consts[1:]:
        total = total + c
    return np.array(np.broadcast_to(total, shape))


def sparse_data_program(rec: Recording, seed: np.ndarray, take: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                        dtype, flow: Flow | None = None) -> Callable:
    """Compile ``run(x, *extras) -> data``: the nonzeros ``(rows[e], cols[e])`` of the Jacobian at x, read
    from the compressed tangent (``seed``: ``x.shape + (k,)``, one direction per colour) at
    ``take[e] = rows[e] * k + colour of cols[e]``, as an array of ``dtype``.

    The program raises ``FloatingPointError`` when an entry is not finite (the plain path then
    applies the ``0 x inf`` conventions) and :class:`~.codegen.GuardFailed` when f decides otherwise.
    """
    flow = flow or Flow(rec)
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

    def sum_into(name: str, terms: list, shapes: list, shape: tuple) -> None:
        """``name = `` the sum of ``terms`` (:class:`_Term`, of broadcast shapes ``shapes``), fitted to
        ``shape``. A large result is written into a reused buffer term by term (``out=``), in the order
        and the dtypes the expression would use, so its entries are the expression's, bit for bit."""
        try:
            covered = np.broadcast_shapes(*shapes) == shape
        except ValueError:
            covered = False
        alias = len(terms) == 1 and terms[0].factor is None and not terms[0].negate
        if alias or not covered or math.prod(shape) * k < buffers.BIG:
            lines.append(f"{name} = {fitted_sum([term.text() for term in terms], shapes, shape)}")
            return
        pooled.append(name)
        full = shape + (k,)
        operands = ", ".join(dict.fromkeys(o for term in terms for o in term.operands()))
        lines.append(f"{name} = B.take({full!r}, np.result_type({operands}))")
        scratch = None
        first = terms[0]
        second = terms[1] if len(terms) > 1 else None
        start = 1
        if first.factor is not None:
            lines.append(f"np.multiply({first.factor.text()}, {first.tangent}, out={name})")
        elif first.negate or second is None:
            lines.append(f"np.{'negative' if first.negate else 'positive'}({first.tangent}, out={name})")
        elif second.factor is None:  # a + b, a - b in one pass
            lines.append(f"np.{'subtract' if second.negate else 'add'}({first.tangent}, {second.tangent}, out={name})")
            start = 2
        elif tuple(shapes[1]) == shape:  # a + f b as f b + a: one sum of two terms, the same either way round
            lines.append(f"np.multiply({second.factor.text()}, {second.tangent}, out={name})")
            lines.append(f"np.add({name}, {first.tangent}, out={name})")
            start = 2
        else:
            lines.append(f"np.positive({first.tangent}, out={name})")
        for term, term_shape in zip(terms[start:], shapes[start:]):
            factor, tangent = term.factor, term.tangent
            if factor is None:
                lines.append(f"np.{'subtract' if term.negate else 'add'}({name}, {tangent}, out={name})")
            elif tuple(term_shape) == shape:
                if scratch is None:
                    scratch = f"s{name}"
                    lines.append(f"{scratch} = B.take({full!r}, {name}.dtype)")
                lines.append(f"np.multiply({factor.text()}, {tangent}, out={scratch})")
                lines.append(f"np.add({name}, {scratch}, out={name})")
            else:
                lines.append(f"np.add({name}, {term.text()}, out={name})")

    def diag_dense(d, shape) -> np.ndarray:
        return diagonal_rows(d, seed_flat, shape)

    def whole(j: int):
        """Tangent ``j`` as one thing: ('const', array) or ('expr', text)."""
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
            terms.append(f"diagonal_rows({t.diag_expr}, {code.const(seed_flat, 'S')}, {shape!r})")
        if t.dense is not None:
            terms.append(t.dense)
        if not terms:
            result = ("const", const if const is not None else np.zeros(shape + (k,), seed.dtype))
        else:
            if const is not None:
                terms.append(code.const(const, "C"))
            if len(terms) == 1 and terms[0].isidentifier():
                result = ("expr", terms[0])
            else:
                sum_into(f"m{j}", [_Term(None, term) for term in terms], [shape] * len(terms), shape)
                result = ("expr", f"m{j}")
        materialised[j] = result
        return result

    def whole_text(j: int) -> str:
        kind, obj = whole(j)
        return obj if kind == "expr" else code.const(obj, "C")

    def whole_parts(j: int) -> _Parts:
        kind, obj = whole(j)
        return _Parts(const=obj) if kind == "const" else _Parts(dense=obj)

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
                        dense_terms.append(_Term(None, t.dense, negate=c == -1.0))
                    elif np.ndim(c) == 0:
                        dense_terms.append(_Term(code.const(c, 'P'), t.dense))
                    else:
                        dense_terms.append(_Term(code.const(np.asarray(c)[..., None], 'P'), t.dense))
                    dense_shapes.append(np.broadcast_shapes(np.shape(c), pshape))
                continue
            _, name, per_entry, pshape_probe = p
            column = _Factor(name, per_entry)
            widened = np.broadcast_shapes(pshape_probe or shape, pshape) if per_entry else pshape
            if t.const is not None:
                dense_terms.append(_Term(column, code.const(t.const, 'C')))
                dense_shapes.append(widened)
            if t.diag_expr is not None:
                diag_terms.append(f"{name} * {t.diag_expr}")
            if t.diag is not None:
                if np.ndim(t.diag) == 0 and t.diag == 1.0:
                    diag_terms.append(name)
                else:
                    diag_terms.append(f"{name} * {code.const(t.diag, 'D')}")
            if t.dense is not None:
                dense_terms.append(_Term(column, t.dense))
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
            sum_into(f"t{i}", dense_terms, dense_shapes, shape)
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
            lines.append(f"t{node.index} = np.reshape({t.dense}, {shape + (k,)!r})")
            result.dense = f"t{node.index}"
        if t.diag is not None:
            result.diag = t.diag if np.ndim(t.diag) == 0 else np.reshape(np.broadcast_to(t.diag, pshape), shape)
        if t.diag_expr is not None:
            lines.append(f"d{node.index} = np.reshape(np.broadcast_to({t.diag_expr}, {pshape!r}), {shape!r})")
            result.diag_expr = f"d{node.index}"
        return result

    def linear(node) -> _Parts:
        i = node.index
        shape = value_shape(node.value)
        rule = node.rule
        kept = reshaped(node)
        if kept is not None:
            return kept
        consts, terms = [], []
        for pos, _, parent in node.inputs:
            j = parent.index
            if not needed[j]:
                continue
            tangent_map = rule.tangent[pos]
            reads = parameters_read(tangent_map)
            others = [q.index for p, _, q in node.inputs if p != pos]
            read_others = others if reads is None else [q.index for p, _, q in node.inputs
                                                        if p != pos and (p + 1) in reads]
            kind, obj = whole(j)
            if kind == "const" and not any(varies[q] for q in read_others):
                # the map is linear in this argument: its value does not matter, the others are fixed
                with np.errstate(all="ignore"):
                    consts.append(fit(np.asarray(tangent_map(obj, *node.args, **node.kwargs)), shape))
                continue
            texts = arguments(node, code, value_of)
            for p, sub, q in node.inputs:
                if p == pos and sub is None:
                    # a linear map in argument ``pos`` reads at most its shape: the recorded value serves
                    texts[p] = code.const(node.args[p], "k")
                elif varies[q.index]:
                    used.add(q.index)
            terms.append(f"{code.const(tangent_map, 'L')}({whole_text(j)}, {', '.join(texts)}{keywords(node, code)})")
        result = _Parts()
        if consts:
            result.const = _summed(consts, shape + (k,))
        if terms:
            lines.append(f"t{i} = fit({' + '.join(terms)}, {shape!r})")
            result.dense = f"t{i}"
        return result

    def custom(node) -> _Parts:
        i = node.index
        parents = [(pos, sub, parent) for pos, sub, parent in node.inputs if needed[parent.index]]
        if node.rule.selection and not isinstance(node.value, tuple) and all(
                whole(p.index)[0] == "const" for _, _, p in parents):
            # it only moves entries (their positions fixed by shapes, which the trace fixes): known now
            slots: list = [None] * len(node.args)
            for pos, sub, parent in parents:
                c = whole(parent.index)[1]
                if sub is None:
                    slots[pos] = c
                else:
                    if slots[pos] is None:
                        slots[pos] = [None] * len(node.args[pos])
                    slots[pos][sub] = c
            with np.errstate(all="ignore"):
                t = node.rule.jvp(node.value, node.args, node.kwargs, slots)
            return _Parts(const=np.array(fit(np.asarray(t), value_shape(node.value))))
        args = arguments(node, code, value_of)
        mark(node, None)
        if varies[i]:
            used.add(i)
        lines.append(f"t{i} = " + custom_jvp_call(node, code, args, value_of(i), parents,
                                                  lambda parent: whole_text(parent.index)))
        return _Parts(dense=f"t{i}")

    for node in nodes:
        i = node.index
        if not needed[i]:
            continue
        kind = kind_of(node)
        if kind == "input":
            tangents[i] = _Parts(diag=np.ones((), seed.dtype))
        elif kind == "output":
            (_, _, parent), = node.inputs
            lines.append(f"t{i} = {whole_text(parent.index)}[{node.rule.i}]")
            tangents[i] = _Parts(dense=f"t{i}")
        elif kind == "elementwise":
            tangents[i] = elementwise(node)
        elif kind == "linear":
            tangents[i] = linear(node)
        else:
            tangents[i] = custom(node)

    nnz = len(take)
    dtype = np.dtype(dtype)
    code.namespace.update(fit=fit, diagonal_rows=diagonal_rows, np=np, isfinite=math.isfinite)
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
        if t.dense is not None:
            tail.append(f"data = {t.dense}.reshape(-1)[{code.const(take, 'I')}]")
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
