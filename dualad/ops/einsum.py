"""``np.einsum`` in every calling form, both modes: a Linear entry (linear in each operand).

numpy accepts ``einsum('ij,jk->ik', a, b)``, subscripts with ``...`` and the
interleaved integer-list form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``. Each
call is first rewritten to explicit letters (``...`` becomes fresh letters,
right-aligned as numpy broadcasts them); a further fresh letter stands for the
direction axis. The transpose handles an index repeated inside the operand
(``'ii->'``, ``'ii->i'``): the cotangent of the distinct indices is put on the
diagonal with identity matrices.

>>> import numpy as np, dualad
>>> dualad.tape.grad(lambda a: np.einsum("ii->", a), np.ones((2, 2))).tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from ..rules import TABLE, Linear, unbroadcast
from .common import shape_of

__all__ = ["explicit_einsum"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _interleaved(args):
    """(subscripts string, operands, operand positions) from the integer-list form."""
    items = list(args)
    out = None
    if len(items) % 2 == 1:
        out = items.pop()
    operands, subs, positions = [], [], []
    for j in range(0, len(items), 2):
        operands.append(items[j])
        subs.append(items[j + 1])
        positions.append(j)

    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)

    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, operands, positions


def explicit_einsum(args):
    """``(inputs, output, operands, positions)`` for any einsum call: explicit letters, no ``...``.

    ``positions[j]`` is the argument position of operand ``j``.
    """
    if isinstance(args[0], str):
        spec, operands, positions = args[0], list(args[1:]), list(range(1, len(args)))
    else:
        spec, operands, positions = _interleaved(args)
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    ins = ins.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum subscripts name {len(ins)} operands but {len(operands)} were given")
    used = set("".join(ins) + out) - set(".")
    free = [c for c in _LETTERS if c not in used]
    ellipsis_dims = [len(shape_of(op)) - (len(s) - 3) if "..." in s else 0 for s, op in zip(ins, operands)]
    widest = max(ellipsis_dims) if ellipsis_dims else 0
    broadcast, free = "".join(free[:widest]), free[widest:]
    ins = [s.replace("...", broadcast[widest - e:]) if "..." in s else s for s, e in zip(ins, ellipsis_dims)]
    if arrow:
        out = out.replace("...", broadcast)
    else:  # numpy's implicit output: the broadcast axes, then the indices seen once, alphabetically
        seen = "".join(s for s in ins)
        out = broadcast + "".join(sorted((c for c in set(seen) if seen.count(c) == 1 and c not in broadcast),
                                         key=_LETTERS.index))
    return ins, out, operands, positions, free[0]


def _operand_of(position, positions):
    return positions.index(position)


def _tangent(position):
    def tangent(t, *args, **kwargs):
        ins, out, operands, positions, batch = explicit_einsum(args)
        i = _operand_of(position, positions)
        spec = ",".join(s + batch if j == i else s for j, s in enumerate(ins)) + "->" + out + batch
        values = [t if j == i else op for j, op in enumerate(operands)]
        return np.einsum(spec, *values, optimize=len(operands) > 2)
    return tangent


def _transpose(position):
    def transpose(ct, *args, **kwargs):
        ins, out, operands, positions, batch = explicit_einsum(args)
        i = _operand_of(position, positions)
        target = ins[i]
        shape = shape_of(operands[i])
        sizes = dict(zip(target, shape))
        distinct = "".join(dict.fromkeys(target))
        others = [s for j, s in enumerate(ins) if j != i]
        reachable = "".join(c for c in distinct if c in out or any(c in s for s in others))
        spec = ",".join([out + batch] + others) + "->" + reachable + batch
        g = np.einsum(spec, ct, *[op for j, op in enumerate(operands) if j != i], optimize=len(operands) > 1)
        if reachable != distinct:  # an index summed only inside operand i: every entry gets the same adjoint
            g = np.expand_dims(g, tuple(p for p, c in enumerate(distinct) if c not in reachable))
            g = np.broadcast_to(g, tuple(sizes[c] for c in distinct) + shape_of(ct)[-1:])
        g = unbroadcast(g, tuple(sizes[c] for c in distinct))  # a size-1 axis of operand i that '...' broadcast
        if distinct == target:
            return g
        # an index repeated inside operand i ('ii'): the adjoint lives on the diagonal
        used = set("".join(ins) + out + batch)
        fresh = iter(c for c in _LETTERS if c not in used)
        result, eyes, eye_specs, seen = "", [], [], set()
        for c in target:
            if c in seen:
                f = next(fresh)
                eyes.append(np.eye(sizes[c]))
                eye_specs.append(c + f)
                result += f
            else:
                seen.add(c)
                result += c
        return np.einsum(",".join([distinct + batch] + eye_specs) + "->" + result + batch, g, *eyes)
    return transpose


class _ByPosition(dict):
    """Per-argument maps built on demand: einsum's operands sit at positions 1, 2, ... (string form)
    or 0, 2, 4, ... (interleaved form); which one is read from the arguments when the map runs."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, position):
        if not isinstance(position, int) or position < 0:
            raise KeyError(position)
        self[position] = self._make(position)
        return self[position]

    def get(self, position, default=None):
        try:
            return self[position]
        except KeyError:
            return default

    def __contains__(self, position):
        return isinstance(position, int) and position >= 0


TABLE[np.einsum] = Linear(_ByPosition(_tangent), _ByPosition(_transpose))
