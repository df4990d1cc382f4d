"""Linearise and transpose: a reverse-mode step from a forward-mode rule alone.

A ``Custom`` rule's ``jvp(out, args, kwargs, tangents)`` is linear in
``tangents``. Reverse mode needs the transpose of that linear map. Instead of
a second hand-written formula, :func:`transpose_jvp` *records* the JVP on a
fresh tape, with the tangents as the tape's inputs (``out``, ``args`` and
``kwargs`` are constants there), and sweeps that small tape backward from the
cotangent. That is JAX's linearise-and-transpose: every operation inside the
JVP already has its transpose in the rule table, so the formula is stated
once. A hand-written ``vjp`` on the entry still wins where it is faster (or
where the JVP would recurse, as ``solve``'s does).

Both layouts carry one trailing axis of ``k`` directions (see
:mod:`dualad.rules`). The recorded map takes ``args[i].shape + (k,)`` to
``out.shape + (k,)``; sweeping it with one more trailing axis (a single
cotangent direction of that whole map) gives all ``k`` cotangents at once.

>>> import numpy as np
>>> from dualad.tape.linearize import transpose_jvp
>>> jvp = lambda out, args, kwargs, tangents: 3.0 * tangents[0]       # d(3a) = 3 da
>>> ct = np.ones((2, 1))                                               # value shape (2,), k = 1
>>> transpose_jvp(jvp, None, (np.zeros(2),), {}, ct, [(0, None)])[0][:, 0]
array([3., 3.])
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..arraylike import primal
from ..common import put_at
from .graph import Tape, value_shape
from .var import Var

__all__ = ["transpose_jvp", "transpose_by_columns"]


def _float_dtype(x) -> np.dtype:
    dtype = np.asarray(primal(x)).dtype
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)  # a complex argument: complex tangents


def _directions(ct) -> int:
    """``k``: the length of the trailing direction axis of a cotangent (or of a tuple's first item)."""
    if isinstance(ct, tuple):
        ct = next(c for c in ct if c is not None)
    return value_shape(ct)[-1]


def transpose_jvp(jvp: Callable, out: Any, args: Sequence, kwargs: dict, ct: Any,
                  inputs: Sequence[tuple]) -> list:
    """The cotangents of ``args`` for cotangent ``ct`` of ``out``, by transposing ``jvp``.

    ``inputs`` lists ``(position, sub_position)`` of the differentiated arguments
    (``sub_position`` indexes into a list argument, else ``None``). Returns what a
    hand-written ``vjp`` returns: one entry per positional argument, ``None`` where
    it was not differentiated, a list of pieces for a list argument.
    """
    k = _directions(ct)
    tape = Tape()
    tangents: list = [None] * len(args)
    watched = []
    for pos, sub in inputs:
        a = args[pos] if sub is None else args[pos][sub]
        zero = np.zeros(value_shape(a) + (k,), _float_dtype(a))  # the map is linear: any point will do
        node = tape.push(None, None, (), {}, (), zero)
        tape.inputs.append(node)
        var = Var(zero, node, tape)
        put_at(tangents, args, pos, sub, var)
        watched.append((pos, sub, node))
    t_out = jvp(out, args, kwargs, tangents)
    outputs = t_out if isinstance(t_out, tuple) else (t_out,)
    cts = ct if isinstance(t_out, tuple) else (ct,)
    grads: dict = {}
    for t, c in zip(outputs, cts):
        if c is None or not (isinstance(t, Var) and t.tape is tape):
            continue  # no cotangent, or a piece of the output that does not depend on the tangents
        tape.output = t
        adjoints = tape.sweep(c[..., None])  # one direction of the recorded map: the trailing new axis
        for pos, sub, node in watched:
            g = adjoints[node.index]
            if g is not None:
                g = g[..., 0]
                grads[pos, sub] = g if (pos, sub) not in grads else grads[pos, sub] + g
    tape.output = None
    tape.pending_views = []  # (a cycle through the tape otherwise)
    result: list = [None] * len(args)
    for pos, sub, node in watched:
        g = grads.get((pos, sub))
        if g is None:  # the output does not depend on this argument
            g = np.zeros(node.value.shape, node.value.dtype)
        put_at(result, args, pos, sub, g)
    return result


def transpose_by_columns(jvp: Callable, out: Any, args: Sequence, kwargs: dict, ct: Any,
                         inputs: Sequence[int]) -> list:
    """The same result as :func:`transpose_jvp` for a ``jvp`` that cannot be recorded on a tape.

    A user's rule may convert its tangents to plain floats (a compiled JVP): then the Jacobian
    is formed from the jvp on the identity directions (one direction per input entry, in one
    call) and the cotangent is multiplied by its transpose. Exact as well; it costs a direction
    per input entry. ``inputs`` lists the positions of the differentiated (array) arguments.
    """
    import math

    k = _directions(ct)
    sizes = [math.prod(value_shape(args[pos])) for pos in inputs]
    n = sum(sizes)
    tangents: list = [None] * len(args)
    start = 0
    for pos, size in zip(inputs, sizes):
        dtype = _float_dtype(args[pos])
        block = np.zeros((size, n), dtype=dtype)
        block[:, start:start + size] = np.eye(size, dtype=dtype)
        tangents[pos] = block.reshape(value_shape(args[pos]) + (n,))
        start += size
    J = jvp(out, args, kwargs, tangents)  # out.shape + (n,), or a tuple of those

    def rows(x, width):
        return np.reshape(x, (-1, width))

    if isinstance(J, tuple):
        pairs = [(j, c) for j, c in zip(J, ct) if j is not None and c is not None]
        J = np.concatenate([rows(j, n) for j, _ in pairs], axis=0) if pairs else np.zeros((0, n))
        seed = np.concatenate([rows(c, k) for _, c in pairs], axis=0) if pairs else np.zeros((0, k))
    else:
        J, seed = rows(J, n), rows(ct, k)
    g = np.swapaxes(J, 0, 1) @ seed  # (n, k)
    result: list = [None] * len(args)
    start = 0
    for pos, size in zip(inputs, sizes):
        result[pos] = np.reshape(g[start:start + size], value_shape(args[pos]) + (k,))
        start += size
    return result
