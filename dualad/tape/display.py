"""Views of a recorded tape for teaching: a text listing and Graphviz DOT text.

The listing is the "gate" view of a computational graph: one row per node
with its operation, inputs, value, the local gradient of each input (the
gate's own derivative, read from the rule table by one local backward step)
and, after ``backward()``, the adjoint that reached it.
"""
from __future__ import annotations

import numpy as np

from ..arraylike import primal as _primal
from .graph import Node, Tape, local_vjp

__all__ = ["listing", "to_dot", "format_value", "local_gradients"]


def format_value(v, precision: int = 6, max_items: int = 4) -> str:
    """A short text form: numbers as numbers, small arrays inline, big arrays as dtype[shape]."""
    if v is None:
        return ""
    if isinstance(v, tuple):
        return "(" + ", ".join(format_value(x, precision, max_items) for x in v) + ")"
    arr = np.asarray(_primal(v))
    if arr.ndim == 0:
        x = arr.item()
        return f"{x:.{precision}g}" if isinstance(x, float) else str(x)
    if arr.size <= max_items:
        text = np.array2string(arr, precision=min(precision, 4), separator=", ", max_line_width=10 ** 6)
        return " ".join(text.split())  # one line, so a table row stays a row
    return f"{arr.dtype}{list(arr.shape)}"


def _describe_arg(a, labels: dict) -> str:
    if isinstance(a, list):
        return "[" + ", ".join(_describe_arg(b, labels) for b in a) + "]"
    if isinstance(a, (np.ndarray, np.generic, int, float)) and not isinstance(a, bool):
        return format_value(a, 4, 2)
    text = repr(a)
    return text if len(text) <= 24 else text[:21] + "..."


def _inputs_text(tape: Tape, node: Node) -> str:
    """The node's arguments: input names for recorded values, short forms of constants."""
    if node.func is None:
        return ""
    recorded = {(pos, sub): parent.label for pos, sub, parent in node.inputs}
    parts = []
    for pos, a in enumerate(node.args):
        if (pos, None) in recorded:
            parts.append(recorded[pos, None])
        elif isinstance(a, (list, tuple)) and any((pos, sub) in recorded for sub in range(len(a))):
            parts.append("[" + ", ".join(recorded.get((pos, sub)) or _describe_arg(b, {})
                                         for sub, b in enumerate(a)) + "]")
        elif node.inputs or node.rule is not None:
            parts.append(_describe_arg(a, {}))
    parts += [f"{k}={_describe_arg(v, {})}" for k, v in node.kwargs.items()]
    return ", ".join(parts)


def local_gradients(node: Node) -> list:
    """d node / d input for each recorded input of a scalar node (the gate's local gradients).

    One local backward step with cotangent 1, so it reads the same rule as
    the sweep. Empty for inputs, constants and non-scalar nodes.
    """
    if not node.inputs or isinstance(node.value, tuple) or np.shape(_primal(node.value)) != ():
        return []
    ct = np.ones((1,), dtype=np.asarray(_primal(node.value)).dtype)
    return [_first_direction(c) for _, c in local_vjp(node, ct)]


def _first_direction(c):
    """A local gradient without its direction axis; a tuple-valued input (slogdet's pair) part by part."""
    if isinstance(c, tuple):
        return tuple(None if part is None else _first_direction(part) for part in c)
    return c[..., 0]


def _adjoint_text(tape: Tape, node: Node) -> str:
    if tape.adjoints is None:
        return ""
    a = tape.adjoint(node)
    return "0" if a is None else format_value(a)


def listing(tape: Tape, precision: int = 6, max_rows: int | None = 60) -> str:
    """The tape as a table, one row per node, in execution order.

    A tape longer than ``max_rows`` shows its first and last nodes with a
    ``...`` row between them (``max_rows=None`` shows everything).

    >>> from dualad import tape
    >>> t = tape.record(lambda x, y, z: tape.label(x + y, "q") * z, -2.0, 5.0, -4.0)
    >>> _ = t.backward()
    >>> print(t.listing())  # doctest: +NORMALIZE_WHITESPACE
    Tape: 5 nodes, 64 bytes; adjoints after backward()
    #  node  op        inputs  value  local grads  adjoint
    0  x     input             -2                  -4
    1  y     input             5                   -4
    2  z     input             -4                  3
    3  q     add       x, y    3      1, 1         -4
    4  v4    multiply  q, z    -12    -4, 3        1
    """
    rows = [("#", "node", "op", "inputs", "value", "local grads", "adjoint")]
    nodes = tape.nodes
    skipped = 0
    if max_rows is not None and len(nodes) > max_rows:
        head = max(1, max_rows // 2)
        skipped = len(nodes) - 2 * head
        nodes = nodes[:head] + nodes[-head:]
    for node in nodes:
        if skipped and node is tape.nodes[-(max(1, max_rows // 2))]:
            rows.append(("...", f"({skipped} more nodes)", "", "", "", "", ""))
        local = ", ".join(format_value(g, precision) for g in local_gradients(node))
        rows.append((str(node.index), node.label, node.op, _inputs_text(tape, node),
                     format_value(node.value, precision), local, _adjoint_text(tape, node)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    state = "adjoints after backward()" if tape.adjoints is not None else "call backward() for adjoints"
    return f"Tape: {len(tape.nodes)} nodes, {tape.nbytes} bytes; {state}\n" + "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tape: Tape, precision: int = 4, local: bool = True) -> str:
    """Graphviz DOT text of the tape: inputs as ellipses, operations as boxes, data flowing left to right.

    Each node shows its value and, after ``backward()``, its adjoint (``grad``);
    with ``local=True`` each edge into a scalar gate is labelled with the
    gate's local gradient for that input. Render with ``dot -Tsvg tape.dot``.

    >>> from dualad import tape
    >>> t = tape.record(lambda x, y: x * y, 2.0, 3.0)
    >>> print(t.to_dot().splitlines()[0])
    digraph tape {
    """
    lines = ["digraph tape {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node in tape.nodes:
        head = node.label if node.func is None else f"{node.label} = {node.op}"
        text = f"{head}\nvalue {format_value(node.value, precision)}"
        if tape.adjoints is not None:
            text += f"\ngrad {_adjoint_text(tape, node)}"
        shape = "ellipse" if node.func is None else ("box" if node.inputs else "note")
        extra = ", style=bold" if node is tape.output_node else ""
        lines.append(f"  n{node.index} [shape={shape}, label={_quote(text)}{extra}];")
    for node in tape.nodes:
        grads = local_gradients(node) if local else []
        for slot, (pos, sub, parent) in enumerate(node.inputs):
            label = f"local {format_value(grads[slot], precision)}" if slot < len(grads) else ""
            attrs = f" [label={_quote(label)}]" if label else ""
            lines.append(f"  n{parent.index} -> n{node.index}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"
