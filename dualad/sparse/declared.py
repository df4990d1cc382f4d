"""Sparsity of a function with rules of its own (``dualad.custom_jvp`` and friends) whose user
declared which outputs depend on which inputs.

Without a declaration such a function couples every output to every input (see
:mod:`dualad.sparse.dispatch`). With one, output entry ``r`` depends on the union of the
dependencies of the argument entries the declaration names for ``r``.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import CustomRuleError, describe
from . import pattern as P
from .tracer import Tracer

__all__ = ["declared_pattern"]


def _rows_of(declared, m: int, n: int, name: str):
    """``(indptr, indices)`` of an ``(m, n)`` boolean pattern given dense or as scipy.sparse."""
    if hasattr(declared, "tocsr"):
        S = declared.tocsr()
        if S.shape != (m, n):
            raise CustomRuleError(f"{name}: a declared sparsity pattern has shape {S.shape}, expected {(m, n)} "
                                  "(output size, argument size); remedy: give one (out.size, arg.size) pattern per "
                                  "differentiated argument")
        S = S.copy()
        S.data = np.asarray(S.data != 0)
        S.eliminate_zeros()
        S.sort_indices()
        return S.indptr.astype(P.IDX), S.indices.astype(P.IDX)
    D = np.asarray(declared)
    if D.shape != (m, n):
        raise CustomRuleError(f"{name}: a declared sparsity pattern is {describe(D)}, expected shape {(m, n)} "
                              "(output size, argument size); remedy: give one (out.size, arg.size) pattern per "
                              "differentiated argument")
    rows, cols = np.nonzero(D)
    indptr = np.zeros(m + 1, dtype=P.IDX)
    np.cumsum(np.bincount(rows, minlength=m), out=indptr[1:])
    return indptr, cols.astype(P.IDX)


def declared_pattern(function, out, values, slots) -> Tracer:
    """The traced output of ``function`` (a :class:`dualad.custom.CustomFunction`) from its declared pattern.

    ``values`` are the primitive's plain arguments (argument 0 holds the static ones) and
    ``slots`` the traced operands as ``(position, None, tracer)``.
    """
    if isinstance(out, tuple):
        raise CustomRuleError(f"{function.name}: a declared sparsity pattern needs a single array output; "
                              "remedy: leave sparsity= out (every output then depends on every input)")
    m = int(np.size(out))
    declared = function.sparsity
    primals = list(values[1:])
    if declared == "elementwise":
        patterns = []
        for pos, _, tr in slots:
            if not tr.layers:
                continue
            shape = np.shape(out)
            try:
                rowmap = np.ascontiguousarray(np.broadcast_to(
                    np.arange(tr.size, dtype=P.IDX).reshape(tr.shape), shape)).reshape(-1)
            except ValueError:
                raise CustomRuleError(f"{function.name}: declared elementwise, but argument {pos - 1} of shape "
                                      f"{tr.shape} does not broadcast to the output's shape {shape}; remedy: "
                                      "declare the pattern as a matrix per argument") from None
            patterns.append(P.gather(tr.layers, rowmap, tr.size))
        return Tracer(out, P.union(patterns, m) if patterns else ())
    if not callable(declared):
        raise CustomRuleError(f"{function.name}: sparsity must be 'elementwise' or a callable returning one "
                              f"pattern per differentiated argument, got {describe(declared)}")
    per_arg = declared(*values[0].merge(primals))
    if not isinstance(per_arg, (list, tuple)):
        per_arg = (per_arg,)
    if len(per_arg) != len(primals):
        raise CustomRuleError(f"{function.name}: the sparsity callable returned {len(per_arg)} patterns for "
                              f"{len(primals)} differentiated arguments; remedy: return one per argument")
    patterns = []
    for pos, _, tr in slots:
        if not tr.layers:
            continue
        indptr, indices = _rows_of(per_arg[pos - 1], m, math.prod(tr.shape), function.name)
        patterns.append(P.grouped_gather(tr.layers, indices, indptr))
    return Tracer(out, P.union(patterns, m) if patterns else ())
