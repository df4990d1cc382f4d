"""Short rich displays for Jupyter: differentiable values as one line of HTML, tapes as SVG graphs.

A ``Dual`` with a tangent of thousands of entries, or a tape value, shows its
kind, shape, dtype, number of directions (or its node on the tape) and a
clipped preview of the value, instead of printing every number. A recorded
:class:`~dualad.tape.Tape` renders as a graph through the optional
``graphviz`` package (``pip install dualad[graph]``, plus Graphviz's ``dot``
program); without either, the notebook shows its DOT text.

>>> import numpy as np, dualad
>>> d = dualad.Dual(np.arange(3.0), np.ones((3, 5)))
>>> print(d._repr_html_())
<div class="dualad-value"><b>Dual</b> shape (3,) float64 · 5 directions · tag 0 · value <code>[0. 1. 2.]</code></div>
"""
from __future__ import annotations

import html
import shutil
from typing import Any

import numpy as np

from .arraylike import ArrayLike, primal

__all__ = ["html_summary", "tape_svg", "tape_markdown"]


def _preview(value: Any, max_items: int = 6) -> str:
    arr = np.asarray(primal(value))
    with np.printoptions(threshold=max_items, edgeitems=2, precision=4, linewidth=120):
        text = np.array2string(arr) if arr.ndim else repr(arr.item())
    return " ".join(text.split())


def _directions(x: Any) -> str:
    tangent = x.tangent
    if isinstance(tangent, ArrayLike) or not hasattr(tangent, "shape"):
        tangent_ndim = np.ndim(primal(tangent))
        k = 1 if tangent_ndim == x.ndim else int(np.shape(primal(tangent))[-1])
    else:
        k = 1 if len(tangent.shape) == x.ndim else int(tangent.shape[-1])
    return f"{k} direction" + ("" if k == 1 else "s")


def html_summary(x: ArrayLike) -> str:
    """One line of HTML for a Dual, a tape value or a sparsity tracer: kind, shape, dtype, level, preview."""
    from .dual import Dual
    kind = type(x).__name__
    parts = [f"<b>{html.escape(kind)}</b> shape {tuple(x.shape)} {html.escape(str(x.dtype))}"]
    if isinstance(x, Dual):
        parts.append(_directions(x))
        parts.append(f"tag {x.tag}")
    node = getattr(x, "node", None)
    tape = getattr(x, "tape", None)
    if node is not None and tape is not None:
        parts.append(f"node {html.escape(str(node.label))} ({html.escape(str(node.op))}) "
                     f"of a tape of {len(tape.nodes)} nodes")
    parts.append(f"value <code>{html.escape(_preview(x.value))}</code>")
    return '<div class="dualad-value">' + " · ".join(parts) + "</div>"


def _graphviz() -> Any:
    """The graphviz package if it and Graphviz's ``dot`` program are both there, else None."""
    try:
        import graphviz
    except ImportError:
        return None
    return graphviz if shutil.which("dot") else None


def tape_svg(tape: Any) -> str | None:
    """The tape drawn as SVG by Graphviz, or None when graphviz or ``dot`` is missing (or fails)."""
    graphviz = _graphviz()
    if graphviz is None:
        return None
    try:
        return str(graphviz.Source(tape.to_dot()).pipe(format="svg", encoding="utf-8"))
    except Exception:  # dot crashed, timed out or is not runnable: fall back to the DOT text
        return None


def tape_markdown(tape: Any) -> str | None:
    """The DOT text as a Markdown code block, shown when no SVG can be made (else None)."""
    if _graphviz() is not None:
        return None  # the SVG is shown
    return (f"{tape!r}; install graphviz (pip install dualad[graph] and Graphviz's dot) to see the graph.\n\n"
            f"```dot\n{tape.to_dot()}\n```")
