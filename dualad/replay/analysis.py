"""What a recording's nodes depend on: the point (recomputed at replay), x (carry tangents), neither (constants).

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> rec = record(lambda v: np.sin(v) * 2.0 + np.ones(2), (np.zeros(2),), 0)
>>> flow = Flow(rec)
>>> [node.op for node in rec.tape.nodes], flow.varies, flow.output
(['input', 'sin', 'multiply', 'add'], [True, True, True, True], 3)
"""
from __future__ import annotations

from ..rules import Custom, Elementwise, ZeroDerivative
from ..tape.graph import Output
from .recording import Recording

__all__ = ["Flow"]


class Flow:
    """Per node: ``varies`` (its value depends on the arguments of the call), ``active`` (on x,
    so it has a tangent), ``needed_backward`` (an active node the output depends on); and
    ``output``, the output's node index (None for an output that does not depend on x or extras)."""

    def __init__(self, rec: Recording):
        tape = rec.tape
        nodes = tape.nodes
        n = len(nodes)
        inputs = {rec.x_node} | set(rec.extra_nodes.values())
        varies = [False] * n
        active = [False] * n
        for node in nodes:
            i = node.index
            if i in inputs:
                varies[i] = True
                active[i] = i == rec.x_node
            elif node.inputs:
                varies[i] = any(varies[p.index] for _, _, p in node.inputs)
                if type(node.rule) is Output:
                    (_, _, parent), = node.inputs
                    dead = node.rule.i in getattr(parent.rule, "constant_outputs", ())
                    active[i] = active[parent.index] and not dead
                else:
                    active[i] = any(active[p.index] for _, _, p in node.inputs)
            elif i in rec.sources:  # a piecewise-constant node: recomputed, never a tangent
                varies[i] = any(varies[p.index] for _, _, p in rec.sources[i])
        self.varies = varies
        self.active = active
        out = tape.output_node
        self.output = out.index if out is not None and varies[out.index] else None
        needed = [False] * n
        if self.output is not None and active[self.output]:
            needed[self.output] = True
            for node in reversed(nodes):
                if needed[node.index]:
                    for _, _, p in node.inputs:
                        if active[p.index]:
                            needed[p.index] = True
        self.needed_backward = needed


def kind_of(node) -> str:
    """``'input'``, ``'constant'``, ``'elementwise'``, ``'linear'``, ``'custom'``, ``'output'`` or ``'zero'``."""
    rule = node.rule
    if node.func is None:
        return "input"
    t = type(rule)
    if t is Elementwise:
        return "elementwise"
    if t is Custom:
        return "custom"
    if t is Output:
        return "output"
    if t is ZeroDerivative:
        return "zero"
    if rule is None:
        return "constant"
    return "linear"
