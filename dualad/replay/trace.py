"""One recorded branch of ``f`` and its compiled replay programs (written on first use).

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> trace = Trace(record(lambda v: v ** 3, (np.array([1.0, 2.0]),), 0), 0)
>>> trace.jacobian(np.array([1.0, 1.0]), ())
array([[3., 0.],
       [0., 3.]])
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..tape.graph import value_shape
from .analysis import Flow
from .arguments import original, unchanged
from .codegen import GuardFailed, same_decision
from .forward_code import forward_program
from .jacobian_code import jacobian_program
from .scalar_code import scalar_program
from .sparse_code import sparse_data_program, with_data
from .recording import Recording, Ref, kind_of_argument
from .reverse_code import reverse_program

__all__ = ["Trace", "hashable"]


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


class Trace:
    """A recording plus its programs: ``values`` (guards and output), ``forward`` (tangents), ``reverse``.

    ``extras`` are the arguments of ``f`` other than x, without x: the ones
    recorded as values are passed to the programs, the others must equal what
    the recording saw (:meth:`accepts`).
    """

    def __init__(self, rec: Recording, argnum: int):
        self.rec = rec
        self.argnum = argnum
        self.flow = Flow(rec)
        tape = rec.tape
        x = tape.nodes[rec.x_node].value
        self.x_shape = value_shape(x)
        self.x_dtype = np.dtype(np.asarray(x).dtype.str)  # numpy's own instance: compared with ``is``
        self.value_position = sorted(rec.extra_nodes)  # argument positions passed to the programs
        self.extra_shapes = {pos: np.shape(tape.nodes[i].value) for pos, i in rec.extra_nodes.items()}
        self.extra_types = rec.extra_types  # position -> (type, dtype) of the value extras f was recorded with
        out = tape.value
        self.y_shape = value_shape(out)
        self.y_dtype = _float_dtype(np.asarray(out).dtype)
        self.one = np.ones((), self.y_dtype)  # the seed of a gradient
        self.one.flags.writeable = False
        self.constant_output = None
        if self.flow.output is None:
            # the trace's own read-only copy (f may return a global array it later changes; a caller that
            # writes into an answer gets a copy: prepared._own)
            self.constant_output = np.array(out)
            self.constant_output.flags.writeable = False
        self.y_size = math.prod(self.y_shape)
        self.x_size = math.prod(self.x_shape)
        self._forward = None
        self._reverse = None
        self._reverse_single = None
        self._sparse = None
        # the dtype plain dualad.jacobian answers in, where it can differ from the program's (x not
        # float64: the programs fold some constants in float64); set by Prepared when it records
        self.jacobian_dtype = None
        # a call can go straight to the compiled Jacobian when no argument needs comparing
        self.direct = not rec.plain_extras
        self.signature = tuple(hashable(g.value) for g in rec.guards)
        self.used = False  # has this trace answered a call? (Prepared's cache policy)

    # ------------------------------------------------------------------ programs
    @property
    def forward(self):
        if self._forward is None:
            self._forward = forward_program(self.rec, True, self.flow)
        return self._forward

    @functools.cached_property  # after the first use an attribute: read on every call, without a call
    def jacobian_code(self):
        """The compiled ``run(x, *extras) -> J`` (identity seed, structured tangents), or the reverse
        program's rows when f has fewer outputs than inputs."""
        if self.constant_output is not None:
            zero = np.zeros(self.y_shape + self.x_shape, _float_dtype(self.x_dtype))
            decide = self.decide

            def jacobian(x, *extras):
                decide(x, *extras)  # another branch may make the output depend on x
                return zero.copy()
        elif (scalar := scalar_program(self.rec, self.flow)) is not None:
            jacobian = scalar  # scalar-style code: Python floats, the sparsity known now
        elif self.x_size <= self.y_size:
            jacobian = jacobian_program(self.rec, self.flow)
        else:
            m, n, y_shape, x_shape = self.y_size, self.x_size, self.y_shape, self.x_shape
            seed = np.eye(m, dtype=self.y_dtype).reshape(y_shape + (m,))
            seed.flags.writeable = False
            reverse = self.reverse

            def rows(x, *extras):
                _, a = reverse(x, *extras, seed)
                if a is None:
                    return np.zeros(y_shape + x_shape)
                if not math.isfinite(np.sum(a)):  # the plain path applies the 0 x inf conventions
                    raise FloatingPointError("not finite")
                return np.reshape(np.moveaxis(np.reshape(a, (n, m)), 0, 1), y_shape + x_shape)
            jacobian = rows
        wanted = self.jacobian_dtype
        if wanted is not None:
            program = jacobian

            def jacobian(x, *extras):  # the plain path's dtype (float32 x: float32 unless f widens)
                return program(x, *extras).astype(wanted, copy=False)
        return jacobian

    @functools.cached_property
    def decide(self):
        """The compiled ``run(x, *extras)`` that only re-checks the guards (raising
        :class:`~.codegen.GuardFailed` where f decides otherwise). A trace whose output does not depend
        on the point (``constant_output``: ``np.ones(3)``, ``x > 0``, ``np.argmax(x)``) answers with the
        recorded output and a zero derivative only while f makes the recorded decisions: on another
        branch the output may be another constant (a new mask) or depend on x (``x ** 2 if x[0] > 0
        else np.ones(3)``)."""
        return forward_program(self.rec, False, self.flow)

    @functools.cached_property
    def value_and_jacobian(self):
        """The compiled ``run(x) -> (f(x), J)`` of scalar-style code (Python floats: a prepared ``jvp`` is
        then ``J @ v``, a ``vjp`` ``u @ J``), or None for any other recording (and for x not float64, or
        extra arguments, where the plain dtype or the arguments need the general programs)."""
        if self.constant_output is not None or self.jacobian_dtype is not None or self.value_position:
            return None
        return scalar_program(self.rec, self.flow, with_value=True)

    @property
    def reverse(self):
        if self._reverse is None:
            self._reverse = reverse_program(self.rec, self.flow)
        return self._reverse

    @property
    def reverse_single(self):
        """The reverse program for one cotangent shaped like the output (no direction axis)."""
        if self._reverse_single is None:
            self._reverse_single = reverse_program(self.rec, self.flow, directions=False)
        return self._reverse_single

    # ------------------------------------------------------------------ decisions
    @functools.cached_property
    def guard_keys(self) -> tuple:
        """Each guard's computation as a hashable key: its kind, function, arguments (recorded nodes
        and constants), keywords, and the number of nodes before it (the same key in two traces of
        one f is the same decision, as long as every decision before it was the same)."""
        return tuple((g.kind, hashable(g.func), _computation(g.args), _computation(tuple(sorted(g.kwargs.items()))),
                      g.position) for g in self.rec.guards)

    def decided(self, failed) -> list | None:
        """The decisions f makes at a point where this trace's program raised ``failed`` (a
        :class:`~.codegen.GuardFailed`): this trace's own up to the failed guard (they held), then the
        one made there, each as ``(guard key, hashable value, value)``; None if unknown."""
        try:
            number = failed.args[0]
            guards = self.rec.guards
            if len(failed.args) > 1:
                value = failed.args[1]
            else:  # a bool decision: the other bool
                value = not bool(guards[number].value)
            keys, signature = self.guard_keys, self.signature
            known = [(keys[j], signature[j], guards[j].value) for j in range(number)]
            known.append((keys[number], hashable(value), value))
            return known
        except Exception:  # noqa: BLE001 - anything unexpected: no knowledge, every trace is tried
            return None

    def decides_otherwise(self, known: list) -> bool:
        """True when this trace cannot fit a point where f made the decisions ``known`` (from
        :meth:`decided` of another trace): it shares their first decisions and then records another
        value for the same computation. Only a skip: a trace not excluded here runs its own guards."""
        try:
            keys, signature, guards = self.guard_keys, self.signature, self.rec.guards
            for j, (key, value, raw) in enumerate(known):
                if j >= len(keys) or keys[j] != key:
                    return False  # another computation: this trace's own guards decide
                if signature[j] != value:
                    old = guards[j].value
                    if type(raw) is type(old) and (type(raw) in _EXACT or (
                            type(raw) is np.ndarray and raw.dtype == old.dtype and raw.dtype.kind in "biu")):
                        return True  # integers, bools, orders, masks: other bytes are another decision
                    if not same_decision(raw, old):
                        return True
            return False
        except Exception:  # noqa: BLE001 - not comparable: run it
            return False

    # ------------------------------------------------------------------ arguments
    def accepts(self, args: tuple) -> bool:
        """Do the extra arguments ``args`` (f's arguments without x) match what this trace takes?"""
        full = args[:self.argnum] + (None,) + args[self.argnum:]
        for pos, kept in self.rec.plain_extras.items():
            # by value, never by identity: a dict or list changed in place is the same object
            if not unchanged(full[pos], kept):
                return False
        for pos, shape in self.extra_shapes.items():
            if np.shape(full[pos]) != shape or kind_of_argument(full[pos]) != self.extra_types[pos]:
                return False
        return True

    def direct_extras(self, call_args: tuple):
        """The programs' extra arguments taken straight from f's arguments, or None if one is not a
        float (array) of the recorded shape."""
        out = []
        for pos in self.value_position:
            a = call_args[pos]
            kind = self.extra_types[pos][0]  # f may decide on the type: another type, another recording
            if type(a) is float or (type(a) is np.float64 and self.extra_shapes[pos] == ()):
                if kind is not float:
                    return None
                if self.extra_shapes[pos] != ():
                    return None
                out.append(a)
            elif type(a) is np.ndarray and kind is np.ndarray and a.dtype == self.extra_types[pos][1] \
                    and a.shape == self.extra_shapes[pos]:
                out.append(a)
            else:
                return None
        return out

    def _values(self, args: tuple) -> list:
        full = args[:self.argnum] + (None,) + args[self.argnum:]
        return [np.asarray(full[pos], dtype=np.float64) if not isinstance(full[pos], np.ndarray) else full[pos]
                for pos in self.value_position]

    # ------------------------------------------------------------------ derivatives
    def _zero_tangent(self, k: int):
        return np.zeros(self.y_shape + (k,), self.y_dtype)

    def push(self, x, args: tuple, seed):
        """``(value, tangent)`` for the batched tangent ``seed`` (``x.shape + (k,)``)."""
        if self.constant_output is not None:
            self.decide(x, *self._values(args))
            return self.constant_output, self._zero_tangent(seed.shape[-1])
        value, t = self.forward(x, *self._values(args), seed)
        if t is None:
            t = self._zero_tangent(seed.shape[-1])
        return value, t

    def pull(self, x, args: tuple, seed):
        """``(value, adjoint of x)`` for the batched cotangent ``seed`` (``y.shape + (k,)``)."""
        if self.constant_output is not None:
            self.decide(x, *self._values(args))
            return self.constant_output, np.zeros(self.x_shape + seed.shape[-1:], _float_dtype(self.x_dtype))
        value, a = self.reverse(x, *self._values(args), seed)
        if a is None:
            a = np.zeros(self.x_shape + seed.shape[-1:], _float_dtype(self.x_dtype))
        return value, a

    def pull_one(self, x, args: tuple, u):
        """``(value, adjoint of x)`` for one cotangent ``u`` shaped like the output (a gradient, a vjp)."""
        zero_dtype = _float_dtype(self.x_dtype)
        if self.constant_output is not None:
            self.decide(x, *self._values(args))
            return self.constant_output, np.zeros(self.x_shape, zero_dtype)
        value, a = self.reverse_single(x, *self._values(args), u)
        if a is None:
            a = np.zeros(self.x_shape, zero_dtype)
        return value, np.asarray(a)

    def sparse_jacobian(self, x, args: tuple, bound):
        """The Jacobian as a csr matrix: the forward program with one direction per colour of the
        pattern detected (once, at this trace's recorded point: its branch's structure)."""
        if self._sparse is None:
            from ..sparse import SparseJacobian  # scipy needed only here
            tape = self.rec.tape
            x0 = tape.nodes[self.rec.x_node].value
            full0 = [tape.nodes[i].value for pos, i in sorted(self.rec.extra_nodes.items())]
            recorded = dict(zip(self.value_position, full0))
            recorded.update({pos: original(kept) for pos, kept in self.rec.plain_extras.items()})
            extras = tuple(recorded[pos] for pos in sorted(recorded))
            # the extras as arguments (not bound as constants): the pattern's reliance on a float
            # argument's zeros (A in A @ x) is then known, and checked at every call below
            detector = SparseJacobian(lambda z, *e: bound(e)(z), x0, args=extras, replay=False)
            S = detector.sparsity
            k = max(1, detector.ncolors)
            seed = np.zeros((self.x_size, k), _float_dtype(self.x_dtype))
            seed[np.arange(self.x_size), detector.colors] = 1.0
            rows = np.repeat(np.arange(S.shape[0], dtype=np.int64), np.diff(S.indptr))
            take = rows * k + detector.colors[S.indices]
            template = type(S)((np.zeros(S.nnz, self.y_dtype), S.indices, S.indptr), shape=S.shape)
            # the compressed Jacobian straight into the data array (constants folded: replay/sparse_code.py)
            program = sparse_data_program(self.rec, seed.reshape(self.x_shape + (k,)), take, rows, S.indices,
                                          self.y_dtype, self.flow)
            self._sparse = (template, program, detector)
        template, program, detector = self._sparse
        if not detector.pattern_holds_for((x,) + tuple(args)):
            # a float argument has a nonzero where the pattern relied on a zero (A in A @ x): like a new branch
            raise PatternMayHaveGrown("the zeros of a float argument")
        return with_data(template, program(x, *self._values(args)))

    def jacobian(self, x, args: tuple):
        """The Jacobian: forward with the identity seed (one direction per input entry), or reverse
        with one cotangent per output entry when there are fewer outputs."""
        return self.jacobian_code(x, *self._values(args))


class PatternMayHaveGrown(GuardFailed):
    """A sparse replay's pattern relied on a zero that the call's arguments no longer have: like a failed
    guard, the plain path answers and the point is recorded again (with its own pattern) if met again."""


_EXACT = frozenset({bool, np.bool_, int, np.int64})


def _computation(obj):
    """A guard's arguments as nested tuples (a recorded node as ``("node", index)``), compared in C."""
    if isinstance(obj, Ref):
        return ("node", obj.node)
    if isinstance(obj, (tuple, list)):
        return (type(obj).__name__,) + tuple(_computation(item) for item in obj)
    return hashable(obj)


def hashable(value):
    """A hashable stand-in for a decision or argument value (arrays by shape, dtype and bytes)."""
    if isinstance(value, np.ndarray):
        return (value.shape, value.dtype, value.tobytes())  # (the dtype itself hashes: .str costs 0.3 us)
    if isinstance(value, tuple):
        return tuple(hashable(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)
