"""A ``SparseJacobian``'s compiled call: f recorded once, replayed straight into the matrix's data array.

:class:`dualad.SparseJacobian` evaluates f with one tangent direction per
colour. At its second plain call that needed no re-detection (so the decision
log held at this point) it records f there on a tape (:func:`dualad.prepare`'s
recording, with every value-dependent decision kept as a guard), and writes the
compressed Jacobian as a straight-line program (:mod:`dualad.replay.sparse_code`). A call then runs that
program and wraps its data array in a copy of a template ``csr_matrix``; where
the program does not answer (a guard differs, a value is not finite, an argument
is of another kind) the call goes the plain way, which checks the decision log
and detects the pattern again where it changed.

>>> import numpy as np, dualad
>>> jac = dualad.SparseJacobian(lambda u: u[1:] * u[:-1], np.ones(4))
>>> _ = jac(np.ones(4)), jac(np.ones(4))  # plain calls; the second also compiles the replay
>>> jac(np.arange(4.0)).toarray()[1], jac.replays
(array([0., 2., 1., 0.]), 1)
"""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from ..replay.codegen import GuardFailed, same_decision
from ..replay.forward_code import forward_program
from ..replay.prepared import Prepared
from ..replay.sparse_code import sparse_data_program, with_data

__all__ = ["CompiledCall"]


class CompiledCall:
    """``f``'s compressed Jacobian for one pattern and colouring, as a compiled replay.

    ``is_float(a)`` says which of f's extra arguments are floats (passed to
    the program as values, their comparisons guarded); the others must equal
    the recorded ones. :meth:`matrix` returns the csr matrix, or None when the
    plain path must answer.
    """

    def __init__(self, f: Callable, x: np.ndarray, args: tuple, argnum: int, is_float: Callable, template: Any,
                 seed: np.ndarray, take: np.ndarray, dtype, reverse: tuple | None = None):
        self.argnum = argnum
        self.nargs = len(args) + 1
        self.f = f
        self.is_float = is_float
        self.guarded = guarded = [bool(is_float(a)) for a in args]
        floats = tuple(a for pos, a in enumerate(args) if guarded[pos])
        plain = {pos: a for pos, a in enumerate(args) if not guarded[pos]}
        # what the recording saw, kept apart from the caller's objects: a dict of parameters changed in
        # place between calls is a different argument (objects compared by identity never match a copy,
        # so those calls go the plain way)
        self.plain = copy.deepcopy(plain)
        i = argnum

        def bound(x, *values):
            it = iter(values)
            full = [next(it) if guarded[pos] else plain[pos] for pos in range(len(guarded))]
            return f(*full[:i], x, *full[i:])
        # the recording and its refusals (ReplayRefused: decisions no guard can check, complex values)
        # are prepare's; floats it cannot keep as values it keeps as constants (accepts() compares them)
        trace = Prepared(bound, x, args=floats).traces[0]
        self.trace = trace
        self.x_shape, self.x_dtype = trace.x_shape, trace.x_dtype
        self.value_position = list(trace.value_position)  # positions in (x, *floats) passed as values
        S = template
        rows = np.repeat(np.arange(S.shape[0], dtype=np.int64), np.diff(S.indptr))
        if trace.y_size != S.shape[0]:
            raise ValueError("the recording's output size differs from the pattern's rows")
        # f's value from the recording (a values-only program), compared at every call with f run on the
        # caller's plain arguments: see matrix()
        self.values_program = forward_program(trace.rec, False, trace.flow)
        self.program = sparse_data_program(trace.rec, seed.reshape(self.x_shape + seed.shape[-1:]), take, rows,
                                           S.indices, dtype, trace.flow)
        self.template = template
        self.reverse = None
        if reverse is not None:  # bicolouring: rows read from reverse passes, (W, their data positions, take)
            weights, at, reverse_take = reverse
            cotangents = np.ascontiguousarray(weights.T).reshape(trace.y_shape + (weights.shape[0],))
            cotangents.flags.writeable = False
            # the replayed reverse sweep, written now (not in the first call)
            self.reverse = (trace.reverse, cotangents, at, reverse_take, weights.shape[0])

    def matrix(self, call_args: tuple):
        """The Jacobian at f's arguments ``call_args``, or None (a guard, a value or an argument says:
        the plain path)."""
        self.value_changed = False
        if len(call_args) != self.nargs:
            return None
        i = self.argnum
        x = call_args[i]
        if type(x) is not np.ndarray or x.shape != self.x_shape or x.dtype is not self.x_dtype:
            return None
        values = [x] if not self.guarded else self._values(call_args)
        if values is None:
            return None
        try:
            data = self.program(*values)
            if self.reverse is not None:
                data = self._reverse_rows(data, values)
        except GuardFailed:
            return None
        except Exception:  # noqa: BLE001 - not finite, or anything else: the plain path decides (and raises)
            return None
        if not self._same_value(call_args, values):
            self.value_changed = True  # f is not the function recorded: the caller detects its pattern again
            return None
        return with_data(self.template, data)

    def _same_value(self, call_args: tuple, values: list) -> bool:
        """Does f, run now on the caller's plain arguments, still compute what the recording computes?

        The recording froze what f reads from outside its arguments (a parameter in a closure or a
        global, random numbers) and the branches f takes on plain copies (``u.value``); a SparseJacobian
        used to re-run f at every call, where such a change showed. One plain evaluation of f (on
        floats, no derivatives) and the values-only replay catch every such change that moves f's value
        at this x; the call then goes the plain way, which runs f with its derivatives.
        """
        # on private copies of the arrays: f may write into its input (x += 1), the caller's x stays as is
        private = [a.copy() if type(a) is np.ndarray else a for a in call_args]
        try:
            now = np.asarray(self.f(*private), dtype=float)
            recorded = np.asarray(self.values_program(*values), dtype=float)
        except Exception:  # noqa: BLE001 - f raises or returns another kind of value: the plain path decides
            return False
        if now.shape != recorded.shape:
            return False
        if (now == recorded).all():  # the usual answer: the replay calls the same numpy functions in order
            return True
        # the replay may order a sum or a product differently from f: equal up to rounding, entry by entry
        # (np.allclose costs 4x this; a NaN anywhere goes the plain way)
        return bool((np.abs(now - recorded) <= 1e-12 * np.abs(now)).all())

    def _reverse_rows(self, data, values: list):
        """``data`` with the entries of the reverse rows from one replayed reverse sweep (``W J``)."""
        program, cotangents, at, take, k = self.reverse
        _, adjoint = program(*values, cotangents)
        if adjoint is None:
            rows = np.zeros(k * self.trace.x_size)
        else:
            rows = np.moveaxis(np.reshape(adjoint, (self.trace.x_size, k)), 0, 1).reshape(-1)
            if not math.isfinite(rows.sum()):
                raise FloatingPointError("not finite")
        data = np.array(data, dtype=np.result_type(data, rows))
        data[at] = rows[take]
        return data

    def _values(self, call_args: tuple) -> list | None:
        i = self.argnum
        args = call_args[:i] + call_args[i + 1:]
        floats = []
        for pos, a in enumerate(args):
            if self.guarded[pos]:
                if not self.is_float(a):  # a float became another kind of argument: a decision of its own
                    return None
                floats.append(a)
                continue
            old = self.plain[pos]
            if a is old:
                continue
            try:
                if not same_decision(a, old):
                    return None
            except Exception:  # noqa: BLE001 - not comparable: another argument
                return None
        floats = tuple(floats)
        if not self.trace.accepts(floats):
            return None
        full = (None,) + floats
        values = [call_args[i]]
        for pos in self.value_position:
            a = full[pos]
            values.append(a if isinstance(a, np.ndarray) else np.asarray(a, dtype=np.float64))
        return values
