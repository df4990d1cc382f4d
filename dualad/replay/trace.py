"""One recorded branch of ``f`` and its compiled replay programs (written on first use).

>>> import numpy as np
>>> from dualad.replay.recording import record
>>> trace = Trace(record(lambda v: v ** 3, (np.array([1.0, 2.0]),), 0), 0)
>>> trace.jacobian(np.array([1.0, 1.0]), ())
array([[3., 0.],
       [0., 3.]])
"""
from __future__ import annotations

import math

import numpy as np

from ..tape.graph import value_shape
from .analysis import Flow
from .codegen import same_decision
from .forward_code import forward_program
from .recording import Recording
from .reverse_code import reverse_program

__all__ = ["Trace"]


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
        self.x_dtype = np.asarray(x).dtype
        self.value_position = sorted(rec.extra_nodes)  # argument positions passed to the programs
        self.extra_shapes = {pos: np.shape(tape.nodes[i].value) for pos, i in rec.extra_nodes.items()}
        out = tape.value
        self.y_shape = value_shape(out)
        self.y_dtype = _float_dtype(np.asarray(out).dtype)
        self.constant_output = None if self.flow.output is not None else np.asarray(out)
        self.y_size = math.prod(self.y_shape)
        self.x_size = math.prod(self.x_shape)
        self._forward = None
        self._reverse = None
        self.signature = tuple(_hashable(g.value) for g in rec.guards)

    # ------------------------------------------------------------------ programs
    @property
    def forward(self):
        if self._forward is None:
            self._forward = forward_program(self.rec, True, self.flow)
        return self._forward

    @property
    def reverse(self):
        if self._reverse is None:
            self._reverse = reverse_program(self.rec, self.flow)
        return self._reverse

    # ------------------------------------------------------------------ arguments
    def accepts(self, args: tuple) -> bool:
        """Do the extra arguments ``args`` (f's arguments without x) match what this trace takes?"""
        full = args[:self.argnum] + (None,) + args[self.argnum:]
        for pos, old in self.rec.plain_extras.items():
            new = full[pos]
            if new is old:
                continue
            try:
                if not same_decision(new, old):
                    return False
            except Exception:  # not comparable: a different object is a different argument
                return False
        for pos, shape in self.extra_shapes.items():
            if np.shape(full[pos]) != shape:
                return False
        return True

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
            return self.constant_output, self._zero_tangent(seed.shape[-1])
        value, t = self.forward(x, *self._values(args), seed)
        if t is None:
            t = self._zero_tangent(seed.shape[-1])
        return value, t

    def pull(self, x, args: tuple, seed):
        """``(value, adjoint of x)`` for the batched cotangent ``seed`` (``y.shape + (k,)``)."""
        if self.constant_output is not None:
            return self.constant_output, np.zeros(self.x_shape + seed.shape[-1:], _float_dtype(self.x_dtype))
        value, a = self.reverse(x, *self._values(args), seed)
        if a is None:
            a = np.zeros(self.x_shape + seed.shape[-1:], _float_dtype(self.x_dtype))
        return value, a

    def jacobian(self, x, args: tuple):
        m, n = self.y_size, self.x_size
        if n <= m:  # forward: one direction per input entry
            _, t = self.push(x, args, np.eye(n, dtype=_float_dtype(self.x_dtype)).reshape(self.x_shape + (n,)))
            return np.reshape(t, self.y_shape + self.x_shape)
        _, a = self.pull(x, args, np.eye(m, dtype=self.y_dtype).reshape(self.y_shape + (m,)))
        return np.reshape(np.moveaxis(np.reshape(a, (n, m)), 0, 1), self.y_shape + self.x_shape)


def _hashable(value):
    if isinstance(value, np.ndarray):
        return (value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)
