"""Scalar-style code at array speed: same-operation scalar nodes at the same depth become one numpy call.

A right-hand side written ``[(x[i + 1] - x[i - 2]) * x[i - 1] - x[i] + F for i in range(n)]``
or ``r0 = -k1 * y[0] + k3 * y[1] * y[2]`` records hundreds of operations on
single numbers. Replayed one by one, each costs a numpy call on a 0-d value
and another on its tangent row. Here the scalar nodes are laid out as *lanes*
of one flat register array ``R`` (and their tangent rows as the rows of
``TR``): ``x[i]`` for many ``i`` is one gather, and the nodes of one operation
at one depth (every ``a * b`` whose operands are ready at the same time) are
one call on gathered operands, the constants per lane gathered into an array.
Tangent rows that depend on the identity seed alone (``x[i]``'s, ``x[i+1] -
x[i-2]``'s) are computed when the program is written. A list of scalars
returned by f (``np.stack`` of the lanes) becomes one gather of ``R`` and ``TR``.

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> from dualad.replay.analysis import Flow
>>> f = lambda x: [(x[(i + 1) % 8] - x[i - 2]) * x[i - 1] - x[i] + 8.0 for i in range(8)]
>>> rec = record(f, (np.ones(8),), 0)
>>> block = plan(rec, Flow(rec))
>>> [(g.kind, len(g.members)) for g in block.groups]
[('getitem', 32), ('subtract', 8), ('multiply', 8), ('subtract', 8), ('add', 8)]
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ..rules import Elementwise
from ..tape.graph import value_shape
from .analysis import Flow

__all__ = ["Group", "Block", "plan"]

#: below this many scalar nodes the one-by-one program is as fast
MIN_NODES = 8
#: entries of the lanes' tangent rows (lanes x inputs) above which the block is not used
MAX_ROWS_ENTRIES = 4_000_000


class Group:
    """Nodes of one operation at one depth: ``members`` (node indices) occupy lanes ``start .. start + len``.

    ``operands`` holds, per argument position, ``("lanes", lane indices)`` or
    ``("const", per-lane constants)``; a ``getitem`` group reads entries ``keys``
    of node ``source``.
    """

    def __init__(self, kind: str, func, rule, members: list, level: int):
        self.kind = kind
        self.func = func
        self.rule = rule
        self.members = members
        self.level = level
        self.start = 0
        self.operands: list = []
        self.source = -1
        self.keys = None

    @property
    def stop(self) -> int:
        return self.start + len(self.members)


class Block:
    """The scalar nodes of a recording, grouped: ``first`` is the index where the block is written,
    ``lane`` maps node -> lane, ``stacks`` maps a concatenate node -> the lanes it stacks."""

    def __init__(self, groups: list, lane: dict, first: int, stacks: dict, covered: set):
        self.groups = groups
        self.lane = lane
        self.first = first
        self.stacks = stacks
        self.covered = covered  # nodes the block writes (lanes) or makes unnecessary (stacked reshapes)
        self.size = sum(len(g.members) for g in groups)


def _is_int(key) -> bool:
    return type(key) is int or isinstance(key, np.integer)


def _scalar_constant(a) -> bool:
    return type(a) in (float, int) or (isinstance(a, np.generic) and a.dtype.kind in "fiu")


def plan(rec, flow: Flow, live: list | None = None) -> Block | None:
    """Group the scalar nodes of ``rec``; None when there are too few, or the layout does not apply."""
    nodes = rec.tape.nodes
    live = live if live is not None else [True] * len(nodes)
    lanes: dict = {}  # node -> (kind key, level)
    level: dict = {}
    for node in nodes:
        i = node.index
        if not (flow.varies[i] and live[i]) or node.inputs == () or value_shape(node.value) != ():
            continue
        if node.func is operator.getitem:
            (pos, sub, parent), = node.inputs
            src = parent.value
            if pos != 0 or sub is not None or type(src) is not np.ndarray or src.ndim != 1 or not _is_int(node.args[1]):
                continue
            if parent.index in lanes:
                continue
            level[i] = 0
            lanes[i] = ("getitem", parent.index)
        elif type(node.rule) is Elementwise and isinstance(node.func, np.ufunc) and not node.kwargs:
            linked = {pos: p.index for pos, sub, p in node.inputs if sub is None}
            if len(linked) != len(node.inputs):
                continue
            pattern = []
            ok = True
            depth = 0
            for pos, a in enumerate(node.args):
                if pos in linked:
                    j = linked[pos]
                    if j not in lanes:
                        ok = False
                        break
                    pattern.append("L")
                    depth = max(depth, level[j] + 1)
                elif _scalar_constant(a):
                    pattern.append("C")
                else:
                    ok = False
                    break
            if not ok:
                continue
            level[i] = depth
            lanes[i] = (node.func, tuple(pattern))
    if len(lanes) < MIN_NODES:
        return None
    first = min(lanes)
    for i in lanes:  # the arrays the block reads must exist before it runs
        if lanes[i][0] == "getitem" and lanes[i][1] >= first:
            return None
    n_inputs = math.prod(value_shape(nodes[rec.x_node].value))
    if len(lanes) * max(n_inputs, 1) > MAX_ROWS_ENTRIES:
        return None
    by_key: dict = {}
    for i in sorted(lanes):
        key = (level[i],) + tuple(lanes[i])
        by_key.setdefault(key, []).append(i)
    groups = []
    for key in sorted(by_key, key=lambda k: (k[0], min(by_key[k]))):
        members = by_key[key]
        node = nodes[members[0]]
        kind = "getitem" if key[1] == "getitem" else node.func.__name__
        groups.append(Group(kind, node.func, node.rule, members, key[0]))
    lane: dict = {}
    start = 0
    for g in groups:
        g.start = start
        for k, i in enumerate(g.members):
            lane[i] = start + k
        start += len(g.members)
    for g in groups:
        if g.kind == "getitem":
            g.source = lanes[g.members[0]][1]
            g.keys = np.array([int(nodes[i].args[1]) for i in g.members], dtype=np.intp)
            continue
        for pos in range(len(nodes[g.members[0]].args)):
            linked = [{p: q.index for p, _, q in nodes[i].inputs}.get(pos) for i in g.members]
            if linked[0] is not None:
                g.operands.append(("lanes", np.array([lane[j] for j in linked], dtype=np.intp)))
            else:
                g.operands.append(("const", np.array([nodes[i].args[pos] for i in g.members], dtype=np.float64)))
    stacks, covered = _stacks(nodes, lane, flow)
    covered |= set(lane)
    return Block(groups, lane, first, stacks, covered)


def _stacks(nodes, lane: dict, flow: Flow):
    """Concatenate nodes that stack lanes (``np.stack`` of scalars, a list output): node -> lanes."""
    stacks: dict = {}
    covered: set = set()
    users: dict = {}
    for node in nodes:
        for _, _, p in node.inputs:
            users.setdefault(p.index, []).append(node.index)
    for node in nodes:
        if node.func is not np.concatenate or not node.inputs or len(node.args) != 1:
            continue
        if node.kwargs.get("axis", 0) != 0 or not isinstance(node.args[0], (list, tuple)):
            continue
        items = node.args[0]
        links = {sub: p for pos, sub, p in node.inputs if pos == 0 and sub is not None}
        if len(links) != len(items):
            continue
        picked = []
        for sub in range(len(items)):
            r = links[sub]
            if r.func is not np.reshape or value_shape(r.value) != (1,) or len(r.inputs) != 1:
                break
            (_, _, s), = r.inputs
            if s.index not in lane or users.get(r.index) != [node.index]:
                break
            picked.append((r.index, lane[s.index]))
        else:
            stacks[node.index] = np.array([k for _, k in picked], dtype=np.intp)
            covered |= {r for r, _ in picked}
    return stacks, covered


def contiguous(indices: np.ndarray):
    """``(start, stop)`` if ``indices`` is a run ``start, start + 1, ...``, else None (a slice then
    replaces a gather)."""
    if indices.size and indices[-1] - indices[0] == indices.size - 1 and np.all(np.diff(indices) == 1):
        return int(indices[0]), int(indices[-1]) + 1
    return None
