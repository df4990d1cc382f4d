"""The recorded graph: a Wengert list of nodes and the backward sweep over it.

Each :class:`Node` is one primitive numpy call, ``value = func(*args, **kwargs)``,
with the nodes it read from. Nodes are appended in the order they run, so the
list is already topologically sorted: the backward sweep walks it from the end,
asks each node for its local backward step (``local_vjp``) and adds every
contribution into the adjoints of its inputs (fan-out accumulates). No
recursion, so a chain of any length works.

``local_vjp`` reads the rule table and nothing else: elementwise rules through
their partials (then ``unbroadcast``), linear rules through their transpose,
custom rules through their ``vjp`` (or, for a rule that gives only a ``jvp``, by
transposing it: :mod:`dualad.tape.linearize`). No derivative formula lives here.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..common import all_finite as _all_finite, chain_product, ndim as _ndim, partial_at, unsupported
from ..arraylike import primal as _primal
from ..dual import Dual, new_tag
from ..errors import InputError, OutputError
from ..rules import NEG_ONE, ONE, TRANSPOSE_JVP, Custom, Elementwise, Linear, unbroadcast
from ..wirtinger import elementwise_cotangent, any_complex, is_complex, real_part_for, refuse

__all__ = ["Node", "Tape", "local_vjp", "value_shape"]

try:  # numpy >= 2 keeps one object per error state: an identity check spots a change cheaply
    from numpy._core._ufunc_config import _extobj_contextvar as _errstate_var
    _errstate_token = _errstate_var.get
except ImportError:  # pragma: no cover - older numpy: compare the settings themselves
    _errstate_token = np.geterr


class Output:
    """The op of a node that picks item ``i`` of a node returning a tuple (``slogdet``)."""

    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i

    @property
    def __name__(self) -> str:
        return f"item[{self.i}]"


class Node:
    """One entry of the Wengert list: ``value = func(*args, **kwargs)``.

    ``inputs`` holds ``(position, sub_position, parent)`` for every argument
    that is a recorded value of the same tape (``sub_position`` indexes into a
    list argument such as ``np.concatenate``'s, else ``None``). ``args`` holds the
    values themselves, so ``func(*args, **kwargs)`` is exactly what ran.
    Inputs and constants have no ``inputs``.
    """

    __slots__ = ("index", "func", "rule", "args", "kwargs", "inputs", "value", "name", "errstate")

    def __init__(self, index, func, rule, args, kwargs, inputs, value, name=None):
        # numpy's error settings when the op ran, if they differ from the tape's: the backward
        # step (which computes partials) runs under them too, as forward mode would have
        self.errstate = None
        self.index = index
        self.func = func
        self.rule = rule
        self.args = args
        self.kwargs = kwargs
        self.inputs = inputs
        self.value = value
        self.name = name

    @property
    def op(self) -> str:
        """A short name of the operation: ``'input'``, ``'add'``, ``'matmul'``, ``'getitem'``..."""
        if self.func is None:
            return "input"
        name = getattr(self.func, "__name__", None) or type(self.func).__name__
        name = {"SETITEM": "setitem", "getitem": "getitem"}.get(name, name)
        if self.inputs or name == "constant":
            return name
        return f"constant ({name})"

    @property
    def label(self) -> str:
        """The node's name if it has one, else ``v<index>`` (the Wengert-list convention)."""
        return self.name if self.name is not None else f"v{self.index}"

    @property
    def shape(self) -> tuple:
        return value_shape(self.value)

    def __repr__(self) -> str:
        parents = ", ".join(p.label for _, _, p in self.inputs)
        return f"<Node {self.label} = {self.op}({parents}) shape={self.shape}>"


def value_shape(v) -> tuple:
    """The shape of a node value; a tuple of values (slogdet's) gives a tuple of shapes."""
    if type(v) is np.ndarray:
        return v.shape
    if isinstance(v, tuple):
        return tuple(value_shape(x) for x in v)
    shape = getattr(v, "shape", None)
    return tuple(shape) if shape is not None else np.shape(v)


def _zero_cotangent(value, k: int, like):
    dtype = np.asarray(_primal(like)).dtype
    return np.zeros(value_shape(value) + (k,), dtype=dtype if dtype.kind in "fc" else np.float64)


def _times(p, ct):
    """``p * ct`` for a partial ``p`` (the node value's shape) and a batched cotangent, by
    :func:`dualad.common.chain_product`'s convention: 0 x inf is 0 whichever factor is infinite
    (a zero cotangent here is nearly always structural; a zero partial meeting an infinite
    cotangent is forward mode's zero tangent meeting an infinite partial, e.g. norm at 0)."""
    if type(p) is np.ndarray:
        if p.ndim:
            p = p[..., None]  # one partial for all k cotangent directions
        if type(ct) is np.ndarray and _all_finite(p) and _all_finite(ct):  # no 0 x inf: no errstate needed
            return p * ct
    elif type(p) is np.float64 or type(p) is float:
        if p != 0.0 and math.isfinite(p):  # a finite nonzero partial cannot meet 0 x inf
            return p * ct
    elif _ndim(p):
        p = p[..., None]
    return chain_product(ct, p, structural_outer_zeros=True)


def local_vjp(node: Node, ct) -> list:
    """``[(parent, contribution), ...]``: the node's backward step for cotangent ``ct``.

    ``ct`` has the node value's shape plus one trailing axis of ``k`` cotangent
    directions; each contribution has its parent's shape plus the same axis.
    """
    rule = node.rule
    kind = type(rule)
    if kind is Elementwise:
        out = []
        if type(rule.complex) is tuple and any_complex(node.args):  # abs, conj of complex values
            for pos, _, parent in node.inputs:
                c = elementwise_cotangent(node.func, rule, pos, node.value, node.args, ct)
                shape = value_shape(node.args[pos])
                out.append((parent, c if c.shape[:-1] == shape else unbroadcast(c, shape)))
            return out
        for pos, _, parent in node.inputs:
            partial = rule.partials[pos]
            if partial is ONE:
                c = ct
            elif partial is NEG_ONE:
                c = -ct
            else:
                try:  # the plain call: partial_at only if the caller's np.errstate trapped (zero-cost try)
                    p = partial(node.value, *node.args)
                except FloatingPointError:
                    p = partial_at(partial, node.value, *node.args)
                c = _times(p, ct)
            arg = node.args[pos]
            shape = arg.shape if type(arg) is np.ndarray else value_shape(arg)
            if c.shape[:-1] != shape:  # the input was broadcast: sum it back
                c = unbroadcast(c, shape)
            out.append((parent, c))
        return out
    if kind is Linear:
        return [(parent, rule.transpose[pos](ct, *node.args, **node.kwargs)) for pos, _, parent in node.inputs]
    if kind is Custom:
        if isinstance(node.value, tuple):  # outputs nobody used get a zero cotangent
            proto = next(c for c in ct if c is not None)
            ct = tuple(_zero_cotangent(v, value_shape(proto)[-1], proto) if c is None else c
                       for v, c in zip(node.value, ct))
        cts = TRANSPOSE_JVP if rule.vjp is None else rule.vjp(node.value, node.args, node.kwargs, ct)
        if cts is TRANSPOSE_JVP:  # a jvp alone (for this call): transpose it (record it on a small tape, sweep back)
            from .linearize import transpose_jvp  # a cycle at import time: linearize records Vars
            cts = transpose_jvp(rule.jvp, node.value, node.args, node.kwargs, ct,
                                [(pos, sub) for pos, sub, _ in node.inputs])
        out = []
        for pos, sub, parent in node.inputs:
            c = cts[pos] if sub is None else cts[pos][sub]
            if isinstance(c, list):  # an array passed where a sequence goes (np.concatenate(m)): one piece per item
                c = np.stack(c)
            if c is None:
                raise unsupported(node.func, f" with respect to argument {pos} (reverse mode)")
            out.append((parent, c))
        return out
    if kind is Output:
        (_, _, parent), = node.inputs
        n = len(parent.value)
        return [(parent, tuple(ct if j == rule.i else None for j in range(n)))]
    raise unsupported(node.func, " (reverse mode)")


def _add(a, b):
    if isinstance(a, tuple):  # the adjoint of a tuple-valued node, item by item
        return tuple(y if x is None else x if y is None else x + y for x, y in zip(a, b))
    return a + b


def _fit(c, value, k: int):
    """Give a contribution exactly the layout ``value.shape + (k,)`` and ``value``'s float dtype.

    A rule may return a broadcastable shape, or float64 from tie weights on a float32 value.
    """
    if type(c) is np.ndarray and type(value) is np.ndarray and c.dtype is value.dtype:
        if c.shape[:-1] == value.shape and c.shape[-1] == k:  # the usual case: nothing to do
            return c
    want = value_shape(value) + (k,)
    if value_shape(c) != want:
        c = np.broadcast_to(c, want)
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype.kind == "f" and c.dtype != dtype:
        # a real value keeps the real part of a complex cotangent (dualad.wirtinger's convention)
        c = real_part_for(value, c) if c.dtype.kind == "c" else c.astype(dtype)
    return c


def _add_in_place(node: Node, ct, adj: list, own: set, k: int) -> bool:
    """Add ``node``'s contribution straight into its parent's adjoint (its Linear rule has an in-place transpose).

    Only into a plain float buffer the sweep allocated itself (``own`` holds those
    node indices), so no array anybody else holds is written to. Returns False
    when the usual path has to run instead.
    """
    if type(ct) is not np.ndarray or len(node.inputs) != 1:
        return False
    (pos, _, parent), = node.inputs
    into = node.rule.transpose_into.get(pos)
    value = parent.value
    if into is None or type(value) is not np.ndarray or value.dtype.kind != "f":
        return False
    i = parent.index
    buf = adj[i]
    if i not in own:
        if buf is None:
            buf = np.zeros(value.shape + (k,), value.dtype)
        elif type(buf) is np.ndarray:
            buf = buf.astype(value.dtype)  # a copy: the adjoint so far may be shared
        else:
            return False
        own.add(i)
    adj[i] = into(buf, ct, *node.args, **node.kwargs)
    return True


class Tape:
    """One recording: the Wengert list of a single differentiation call.

    Every call of :func:`dualad.tape.grad` (and friends) makes its own Tape,
    so nothing is shared between threads, and the tape goes away with the
    call. :func:`dualad.tape.record` hands one back for inspection.

    Attributes: ``nodes`` (the list, in execution order), ``inputs`` (the
    input nodes), ``output`` (what the function returned), ``adjoints``
    (one entry per node after :meth:`backward`, ``None`` where no gradient
    flowed).
    """

    def __init__(self):
        # Tags come from the same counter as Duals', so nesting forward and
        # reverse mode in any order sorts out which level is the variable.
        self.tag = new_tag()
        self.nodes: list[Node] = []
        self.inputs: list[Node] = []
        self.output: Any = None
        self.adjoints: list | None = None
        self.edges: dict = {}
        self.errstate = np.geterr()
        self._errstate_token = _errstate_token()
        #: None while the call recording on this tape runs; then the caller's name
        #: ('dualad.tape.grad'...): a value of a closed tape raises LifetimeError when used
        self.closed: str | None = None
        #: views made since the last write, registered at the next write (tape.var.note_pending_views)
        self.pending_views: list = []

    def close(self, caller: str) -> None:
        """End the recording: from now on this tape's values raise LifetimeError when used.

        Views not yet registered never will be (nothing can write into them any more); dropping
        them also breaks the reference cycle tape -> pending view -> tape.
        """
        self.closed = caller
        self.pending_views = []

    # ----------------------------------------------------------------- recording
    def push(self, func, rule, args, kwargs, inputs, value, name=None) -> Node:
        if self.closed is not None:
            from ..lifetime import escaped
            raise escaped("a tape value", self.closed, f"in {getattr(func, '__name__', 'an operation')}")
        node = Node(len(self.nodes), func, rule, args, kwargs, inputs, value, name)
        if inputs:
            if not getattr(rule, "complex", None) and type(rule) is not Output:
                # a rule for real values only: refused (not run with real formulas) on complex ones
                dtype = getattr(value, "dtype", None)
                if dtype is not None and dtype.kind == "c":
                    raise refuse(func, args)
                for _, _, parent in inputs:  # a loop, not any(...): no calls for plain float parents
                    v = parent.value
                    if (v.dtype.kind == "c") if type(v) is np.ndarray else is_complex(v):
                        raise refuse(func, args)
            token = _errstate_token()
            if token is not self._errstate_token and token != self._errstate_token:
                err = np.geterr()
                if err != self.errstate:
                    node.errstate = err
        self.nodes.append(node)
        return node

    def __len__(self) -> int:
        return len(self.nodes)

    # ----------------------------------------------------------------- backward
    def sweep(self, seed, keep: bool = False, edges: dict | None = None) -> list:
        """Propagate the batched cotangent ``seed`` from the output node back to every node.

        Returns the list of adjoints, indexed like ``nodes`` (``None`` where
        nothing flowed). With ``keep=False`` intermediate adjoints are dropped
        as soon as they have been used, so only the inputs' survive. ``edges``,
        if given, collects each contribution under ``(node index, input slot)``.
        """
        adj: list = [None] * len(self.nodes)
        out = self.output_node
        if out is None:
            return adj
        adj[out.index] = seed
        k = value_shape(seed)[-1]
        own = set() if edges is None else None  # adjoint buffers the sweep made and may add into
        for node in reversed(self.nodes):
            ct = adj[node.index]
            if ct is None or not node.inputs:
                continue
            rule = node.rule
            if own is not None and type(rule) is Linear and rule.transpose_into and _add_in_place(node, ct, adj, own, k):
                steps = ()
            elif node.errstate is None:
                steps = local_vjp(node, ct)
            else:
                with np.errstate(**node.errstate):
                    steps = local_vjp(node, ct)
            for slot, (parent, c) in enumerate(steps):
                if c is None:
                    continue
                value = parent.value
                # _fit's usual case inline (nothing to do; a call per contribution otherwise)
                if not (type(c) is np.ndarray and type(value) is np.ndarray and c.dtype is value.dtype
                        and c.shape[:-1] == value.shape and c.shape[-1] == k) and not isinstance(value, tuple):
                    c = _fit(c, value, k)
                if edges is not None:
                    edges[node.index, slot] = c
                i = parent.index
                adj[i] = c if adj[i] is None else _add(adj[i], c)
            if not keep and node.func is not None:
                adj[node.index] = None
        return adj

    @property
    def output_node(self) -> Node | None:
        """The node holding the output, or None when the output does not depend on the inputs."""
        y = self.output
        return y.node if getattr(y, "tape", None) is self else None

    @property
    def value(self):
        """The output's value (plain, or a Dual in mixed mode)."""
        y = self.output
        return y.value if getattr(y, "tape", None) is self else y

    def backward(self, seed: Any = None) -> tuple:
        """Sweep backward from the output and keep every node's adjoint; returns the inputs' gradients.

        ``seed`` is the output's cotangent (default 1 for a scalar output).
        Afterwards :attr:`adjoints`, :meth:`listing` and :meth:`to_dot` show
        the adjoint of every node.
        """
        value = self.value
        dtype = np.asarray(_primal(value)).dtype
        dtype = dtype if dtype.kind in "fc" else np.dtype(np.float64)
        if seed is None:
            if value_shape(value) != ():
                raise OutputError(f"backward() needs a seed for an output of shape {value_shape(value)}; "
                                  "remedy: pass seed=<array shaped like the output>")
            seed = np.ones((), dtype=dtype)
        elif not isinstance(seed, Dual):
            seed = np.asarray(seed, dtype=dtype)
        if value_shape(seed) != value_shape(value):
            raise InputError(f"seed has shape {value_shape(seed)} but the output has shape {value_shape(value)}; "
                             "remedy: pass a seed shaped like the output")
        self.edges = {}
        self.adjoints = self.sweep(seed[..., None], keep=True, edges=self.edges)
        return self.grads

    @property
    def grads(self) -> tuple:
        """The inputs' gradients from the last :meth:`backward` (zeros where nothing flowed)."""
        if self.adjoints is None:
            raise RuntimeError("no gradients yet; remedy: call tape.backward() first")
        out = []
        for node in self.inputs:
            g = self.adjoints[node.index]
            if g is None:
                dtype = np.asarray(_primal(node.value)).dtype
                out.append(np.zeros(node.shape, dtype=dtype if dtype.kind in "fc" else np.float64))
            else:
                out.append(np.array(g[..., 0]) if isinstance(g, np.ndarray) else g[..., 0])
        return tuple(out)

    def adjoint(self, node: Node):
        """The adjoint of ``node`` after :meth:`backward` (its shape, single seed), or None."""
        a = (self.adjoints or [None] * len(self.nodes))[node.index]
        if a is None or isinstance(a, tuple):
            return None if a is None else tuple(None if c is None else c[..., 0] for c in a)
        return a[..., 0]

    # ----------------------------------------------------------------- inspection
    def listing(self, **options) -> str:
        """The Wengert list as a table: each node's op, inputs, value, local gradients, adjoint."""
        from .display import listing
        return listing(self, **options)

    def to_dot(self, **options) -> str:
        """The graph as Graphviz DOT text (render with ``dot -Tsvg``; no graphviz needed to make it)."""
        from .display import to_dot
        return to_dot(self, **options)

    def __repr__(self) -> str:
        return f"<Tape: {len(self.nodes)} nodes, {self.nbytes} bytes, {len(self.inputs)} inputs>"

    def _repr_svg_(self) -> str | None:
        """The graph as SVG in Jupyter, through the optional graphviz package (None without it or ``dot``)."""
        from ..notebook import tape_svg
        return tape_svg(self)

    def _repr_markdown_(self) -> str | None:
        """The DOT text in Jupyter when no SVG can be drawn (graphviz or its ``dot`` program missing)."""
        from ..notebook import tape_markdown
        return tape_markdown(self)

    @property
    def nbytes(self) -> int:
        """Bytes held by the tape: node values, the constant arrays they read, adjoints if kept."""
        seen: set = set()
        total = 0
        for node in self.nodes:
            total += _nbytes(node.value, seen)
            for a in node.args:
                total += _nbytes(a, seen) if isinstance(a, (np.ndarray, Dual)) else 0
        for a in self.adjoints or ():
            total += _nbytes(a, seen)
        return total


def _nbytes(v, seen: set) -> int:
    """Bytes of ``v`` not counted yet (a view counts the array that owns its memory, once)."""
    if isinstance(v, np.ndarray):
        while isinstance(v.base, np.ndarray):
            v = v.base
    if v is None or id(v) in seen:
        return 0
    seen.add(id(v))
    if isinstance(v, (np.ndarray, np.generic)):
        return v.nbytes
    if isinstance(v, Dual):
        return _nbytes(v.value, seen) + _nbytes(v.tangent, seen)
    if isinstance(v, (tuple, list)):
        return sum(_nbytes(x, seen) for x in v)
    if isinstance(v, (int, float)):
        return 8
    inner = getattr(v, "value", None)  # a value of an outer tape
    return _nbytes(inner, seen) if inner is not None else 0
