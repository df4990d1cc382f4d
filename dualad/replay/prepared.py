"""``dualad.prepare``: derivatives of one function at many points, recorded once and replayed.

>>> import numpy as np, dualad
>>> rhs = lambda y: np.stack([-0.04 * y[0] + 1e4 * y[1] * y[2], 3e7 * y[1] ** 2])
>>> jac = dualad.prepare(rhs, np.ones(3))
>>> jac(np.array([1.0, 0.0, 0.0]))
array([[-0.04,  0.  ,  0.  ],
       [ 0.  ,  0.  ,  0.  ]])
>>> f = lambda v: v ** 2 if v[0] > 0 else -v
>>> p = dualad.prepare(f, np.ones(2))
>>> p.jacobian(np.array([-1.0, 1.0])) + 0.0, p.mismatches
(array([[-1.,  0.],
       [ 0., -1.]]), 1)
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import forward, valueforms
from ..common import extra_arguments
from ..errors import InputError, OutputError
from ..tape.graph import value_shape
from .codegen import GuardFailed
from .arguments import same_value, type_blind
from .recording import ReplayRefused, record
from .trace import Trace, hashable

__all__ = ["prepare", "Prepared", "ReplayRefused"]

_REMEDY = "remedy: use the plain functions (dualad.jacobian, dualad.jvp, dualad.tape.vjp, dualad.gradient), " \
          "which run f at every point"


def _point(x, name: str = "x"):
    if type(x) is np.ndarray and x.dtype.kind == "f":
        return x  # the programs never write into their arguments: no copy needed
    return forward.as_input(x, name)


def _complex(value) -> bool:
    if isinstance(value, tuple):
        return any(_complex(v) for v in value)
    dtype = getattr(value, "dtype", None)
    return isinstance(value, complex) or (dtype is not None and dtype.kind == "c")


_FLOAT64 = np.dtype(np.float64)


def _all_finite(a) -> bool:
    """:func:`_finite` by the array's own ``sum`` method where it has one (a numpy value: no dispatch)."""
    try:
        return math.isfinite(a.sum())
    except (AttributeError, TypeError):
        return _finite(a)


def _finite(a) -> bool:
    """All entries finite (a sum is nan or inf if any entry is, or if it overflows: then the plain
    path decides)."""
    try:
        return math.isfinite(np.sum(a))
    except TypeError:
        return False


class Prepared:
    """Derivatives of ``f`` at new points by replaying a recording of ``f`` (see :func:`prepare`).

    Calls take f's arguments the way f does (``p(x)``, or ``p(t, y)`` with
    ``args``/``argnum``); the methods with a direction take it last:
    ``p.jvp(x, v)``, ``p.vjp(x, u)``, ``p.hvp(x, v)``.

    Counters: ``replays`` (calls answered by a compiled trace), ``mismatches``
    (calls no trace fitted: a guard failed, or the shapes or a constant argument
    differ), ``retapes`` (recordings made for such a branch: the first time a
    branch is met the plain functions answer, the second time they answer and it is
    recorded, compiled at its first replay; so a one-off costs one plain call), ``fallbacks`` (calls answered by the plain functions: a non-finite result,
    whose 0 x inf conventions the plain path applies, or an error in the replay).
    """

    def __init__(self, f: Callable, x_example: Any, *, args: tuple = (), argnum: int = 0, max_traces: int = 8,
                 sparse: bool = False):
        if not callable(f):
            raise InputError(f"prepare needs a function, got {type(f).__name__}; remedy: pass the function first")
        self.f = f
        self.args = extra_arguments(args, "prepare")
        if isinstance(argnum, bool) or not isinstance(argnum, (int, np.integer)) or not 0 <= argnum <= len(self.args):
            raise InputError(f"argnum={argnum!r} must be the position of x among f's {len(self.args) + 1} "
                             "arguments; remedy: pass an int between 0 and len(args)")
        if isinstance(max_traces, bool) or not isinstance(max_traces, (int, np.integer)) or max_traces < 1:
            raise InputError(f"max_traces must be a positive int, got {max_traces!r}")
        self.argnum = int(argnum)
        self.max_traces = int(max_traces)
        self.sparse = bool(sparse)
        self.replays = 0
        self.retapes = 0
        self.mismatches = 0
        self.fallbacks = 0
        self._misses: dict = {}  # first failures answered plainly -> meetings so far (see _unfitted)
        self._patience = 2  # meetings of a failure before its branch is recorded (_new_front adapts it)
        self._wasted = 0  # traces dropped from the cache in a row without having answered a call
        self._front_mark = 0  # self.replays when the front trace became the front
        self.traces: list[Trace] = []
        x = _point(x_example, "x_example")
        if not isinstance(x, np.ndarray) and not isinstance(x, np.generic):
            raise InputError("prepare differentiates plain arrays; nested differentiation (a Dual or tape value "
                             f"as x_example) is not supported; {_REMEDY}")
        x = np.asarray(x)
        self._example = x.copy()  # what a pickled or deep-copied object records again (__reduce__)
        trace = self._record(x, self.args)
        if trace is None:
            raise ReplayRefused(self._refusal)
        self.traces.append(trace)

    def __reduce__(self):
        """Pickled (sent to another process) or deep-copied as its recipe: f, the example point and the
        options; the copy records f again (compiled programs and tapes do not pickle). f must pickle
        itself: a module-level function with ``pickle``, a lambda or closure with ``cloudpickle``."""
        return _prepared_again, (self.f, self._example, self.args, self.argnum, self.max_traces, self.sparse)

    # ------------------------------------------------------------------ recording
    def _record(self, x: np.ndarray, args: tuple) -> Trace | None:
        """A new trace at ``(x, args)``, or None (with ``self._refusal`` set) if f cannot be replayed safely."""
        full = args[:self.argnum] + (x,) + args[self.argnum:]
        try:
            rec = record(self.f, full, self.argnum, extras_as_values=True)
        except Exception:  # noqa: BLE001 - f's own error, if it is one, is raised again below
            if not args:
                raise
            # f treats an extra argument as a plain number (float(t), an index, a shape: np.zeros(k) raises
            # numpy's TypeError on a recorded value): keep them constants
            rec = record(self.f, full, self.argnum, extras_as_values=False)
        if rec.extra_nodes and not (same_value(self.f, full, rec.tape.value)
                                    and type_blind(self.f, full, sorted(rec.extra_nodes), at_given=False)):
            # f's value differs from its value on the caller's own arguments (here, or at other values of
            # them): f decides on the type of a float argument (isinstance(t, float), np.isscalar(t),
            # hasattr(a, "shape")), which the recording saw as a tape value and took another branch for;
            # keep the extras constants (compared at each call)
            rec = record(self.f, full, self.argnum, extras_as_values=False)
        out = rec.tape.value
        if not isinstance(out, np.ndarray) and not isinstance(out, (np.generic, float, int)):
            self._refusal = (f"prepare: f returned {type(out).__name__}, which a replay does not reproduce; "
                             f"{_REMEDY}")
            return None
        if any(_complex(node.value) for node in rec.tape.nodes):
            # complex intermediates follow JAX's convention in the engines' complex kernel (real-linear
            # maps for non-holomorphic functions), which the replay programs do not reproduce
            self._refusal = ("prepare: f computes with complex values, which a replay does not support; "
                             f"{_REMEDY}")
            return None
        if rec.unguarded:
            kinds = ", ".join(sorted(set(rec.unguarded)))
            self._refusal = (f"prepare: f makes value-dependent decisions that a replay cannot check ({kinds}), "
                             f"so a replay could silently use the wrong branch; {_REMEDY}")
            return None
        trace = Trace(rec, self.argnum)
        if x.dtype != np.float64 and not self.sparse:
            # the programs fold constants in float64 where forward mode may keep x's precision (or widen
            # where they do not): the plain path's dtype, asked once, is the one every call answers in
            try:
                with np.errstate(all="ignore"):
                    trace.jacobian_dtype = np.asarray(valueforms.jacobian(self._bound(args), x)).dtype
            except Exception:  # noqa: BLE001 - f raises on the plain path: the calls will say so
                pass
        return trace

    def __repr__(self) -> str:
        return (f"Prepared({getattr(self.f, '__name__', 'f')}, traces={len(self.traces)}, replays={self.replays}, "
                f"mismatches={self.mismatches}, retapes={self.retapes}, fallbacks={self.fallbacks})")

    # ------------------------------------------------------------------ dispatching a call to a trace
    def _split(self, call_args: tuple, extra: int, what: str):
        want = len(self.args) + 1 + extra
        if len(call_args) != want:
            raise InputError(f"{what} takes {want} argument(s) (f's {len(self.args) + 1}, x at position "
                             f"{self.argnum}{', then the direction' if extra else ''}), got {len(call_args)}; "
                             "remedy: call it the way f is called")
        fargs = call_args[:len(self.args) + 1]
        x = _point(fargs[self.argnum])
        rest = fargs[:self.argnum] + fargs[self.argnum + 1:]
        return x, rest, call_args[len(self.args) + 1:]

    def _run(self, x, args: tuple, compute: Callable, plain: Callable, check: Callable, already_failed=None):
        """``compute(trace)`` on the first trace whose guards hold at ``(x, args)``; else a new recording.

        ``already_failed``: ``(trace, GuardFailed)`` when the caller's shortcut already ran that trace and a
        guard failed; it is not run again (on a new branch, each replay run before the plain answer is
        cost). A failed replay tells which decisions f makes at x up to the failed guard: a trace that
        shares them and then recorded another value there is skipped without running.
        """
        xs, xdt = np.shape(x), np.asarray(x).dtype
        miss = known = skip = None
        if already_failed is not None:
            skip, failure = already_failed
            miss = _failure(skip, failure)
            known = skip.decided(failure)
        for position, trace in enumerate(self.traces):
            if trace is skip:
                continue
            if trace.x_shape != xs or trace.x_dtype != xdt:
                continue
            if known is not None and trace.decides_otherwise(known):
                continue  # a failed replay showed f deciding otherwise than this trace: not run
            if not trace.accepts(args):
                continue
            try:
                result = compute(trace)
            except GuardFailed as failed:
                if miss is None:
                    miss = _failure(trace, failed)  # the guard and the decision made there
                seen = trace.decided(failed)
                if seen is not None and (known is None or len(seen) > len(known)):
                    known = seen  # f's decisions here, as far as any failed replay got
                continue
            except _UsageError as usage:
                raise usage.error from None
            except Exception:  # noqa: BLE001 - the plain path raises the error f itself raises, if any
                self.fallbacks += 1
                return plain()
            if not check(result):
                self.fallbacks += 1  # non-finite: the plain path applies the 0 x inf conventions
                return plain()
            trace.used = True
            if position:
                self._credit_front()
                self.traces.insert(0, self.traces.pop(position))
            self.replays += 1
            self._front_mark = self.replays
            return result
        if miss is None:
            miss = ("arguments", xs, xdt.str, hashable(tuple(args)))
        return self._unfitted(x, args, miss, plain)

    def _unfitted(self, x, args: tuple, miss, plain: Callable):
        """No trace fits ``(x, args)`` (``miss``: the first failure, a key of ``self._misses``): a branch (or
        shape, or constant argument) not recorded yet. The first time it is met the plain functions answer
        (one plain call: what a one-off costs); the second time f is recorded for it too (its programs
        are compiled when it first answers a call), and from then on it is replayed.

        ``miss`` names the failed guard together with the decision f made there (the new order of an
        argsort, not only "the order differs"), so a stream of points on ever new branches of an order is
        not recorded at each second call. Recordings that are dropped from the bounded cache without
        ever being replayed make later ones wait for more meetings (:meth:`_recording_due`)."""
        self.mismatches += 1
        if not self._recording_due(miss):
            return plain()
        self.retapes += 1
        trace = self._record(x, args)
        if trace is not None:
            # kept, not yet compiled: the plain functions answer this call, and the programs are written at
            # the trace's first replay, so a recording that is never replayed costs no compilation
            self._new_front(trace)
        else:  # this branch cannot be guarded: answer plainly, keep nothing
            self.fallbacks += 1
        return plain()

    def _recording_due(self, miss) -> bool:
        """Count a meeting of the failure ``miss``; True when it is due to be recorded: its second
        meeting, or more (``self._patience``) while recent recordings were dropped unused."""
        count = self._misses.get(miss, 0) + 1
        if count < self._patience:
            if miss not in self._misses and len(self._misses) >= 64:
                self._misses.clear()  # bounded: one-off branches are forgotten
            self._misses[miss] = count
            return False
        self._misses.pop(miss, None)
        return True

    def _credit_front(self) -> None:
        """Replays since the front trace became the front are its own (every other trace that answers a
        call is moved to the front): mark it used before it stops being the front."""
        if self.replays > self._front_mark:
            self.traces[0].used = True

    def _new_front(self, trace) -> None:
        """``trace`` (just recorded) goes first; the cache keeps ``max_traces``. Traces dropped without
        having answered a call were recordings wasted on one-off branches: after four of them in a
        row, a branch must be met twice as often before it is recorded (up to 1024
        meetings); a dropped trace that was used halves that again (down to the second meeting)."""
        self._credit_front()
        self.traces.insert(0, trace)
        self._front_mark = self.replays
        for dropped in self.traces[self.max_traces:]:
            if dropped.used:
                self._wasted = 0
                self._patience = max(2, self._patience // 2)
            else:
                self._wasted += 1
                if self._wasted >= 4:
                    self._wasted = 0
                    self._patience = min(1024, 2 * self._patience)
        del self.traces[self.max_traces:]

    def _bound(self, args: tuple) -> Callable:
        f, i = self.f, self.argnum
        if not args:
            return f
        return lambda x: f(*args[:i], x, *args[i:])

    # ------------------------------------------------------------------ public derivatives
    def jacobian(self, *call_args: Any) -> Any:
        """The Jacobian at the point (shape ``f(x).shape + x.shape``), like :func:`dualad.jacobian`; with
        ``sparse=True`` a ``scipy.sparse.csr_matrix`` (flattened outputs x inputs), like
        :func:`dualad.sparse_jacobian`."""
        if self.sparse:
            return self._sparse_jacobian(call_args)
        failed = None
        if len(call_args) == 1 and not self.args:
            # the common call, kept short: f(x) alone, x of the most recent trace's shape and dtype
            x = call_args[0]
            trace = self.traces[0]
            if type(x) is np.ndarray and x.shape == trace.x_shape and x.dtype is trace.x_dtype:
                try:
                    J = trace.jacobian_code(x)
                except GuardFailed as guard:  # another branch: the general path tries the other traces
                    guard.__traceback__ = None  # (the failed program's frame and its arrays: released now)
                    J, failed = None, (trace, guard)
                except Exception:  # noqa: BLE001 - anything else: the general path decides
                    J = None
                if J is not None:  # the program raised if J is not finite
                    self.replays += 1
                    return _own(J)  # (a wide f's rows can be a view of the program's read-only seed)
                if failed is not None and len(self.traces) == 1:
                    # no other trace to try: straight to the plain answer (or the recording), the general
                    # path's checks of x and of the other traces skipped (a new branch's cost is one plain
                    # call plus this bookkeeping)
                    return self._unfitted(x, (), _failure(trace, failed[1]),
                                          lambda: valueforms.jacobian(self.f, x))
        elif len(call_args) == len(self.args) + 1 and self.traces[0].direct:
            # f(t, y): the extra arguments of the recorded kinds go straight to the program too
            trace = self.traces[0]
            x = call_args[self.argnum]
            if type(x) is np.ndarray and x.shape == trace.x_shape and x.dtype is trace.x_dtype:
                extras = trace.direct_extras(call_args)
                if extras is not None:
                    try:
                        J = trace.jacobian_code(x, *extras)
                    except Exception:  # noqa: BLE001 - a failed guard, or anything: the general path decides
                        J = None
                    if J is not None:  # the program raised if J is not finite
                        self.replays += 1
                        return _own(J)
        x, args, _ = self._split(call_args, 0, "jacobian")
        import dualad
        return self._run(x, args, lambda tr: _own(tr.jacobian(x, args)),
                         lambda: dualad.jacobian(self._bound(args), x), _finite, failed)

    __call__ = jacobian

    def _sparse_jacobian(self, call_args: tuple) -> Any:
        x, args, _ = self._split(call_args, 0, "jacobian")
        import dualad

        def compute(trace):
            return trace.sparse_jacobian(x, args, self._bound)
        return self._run(x, args, compute, lambda: dualad.sparse_jacobian(self._bound(args), x),
                         lambda J: _finite(J.data))

    def jvp(self, *call_args: Any) -> Any:
        """``(f(x), J @ v)``, called as ``p.jvp(x, v)`` (f's arguments, then the direction)."""
        failed = None
        if len(call_args) == 2 and not self.args:
            # the common call, kept short (as in jacobian): x of the front trace's shape and dtype, v a float64
            # array of x's shape; the forward program with v as its one direction
            x, v = call_args
            trace = self.traces[0]
            if type(x) is np.ndarray and x.shape == trace.x_shape and x.dtype is trace.x_dtype \
                    and type(v) is np.ndarray and v.shape == x.shape and v.dtype is _FLOAT64 \
                    and trace.constant_output is None and trace.jacobian_dtype is None:
                try:
                    scalar_style = trace.value_and_jacobian
                    if scalar_style is not None:  # f(x) and J as Python floats: J @ v
                        value, J = scalar_style(x)
                        t = np.asarray(J @ v)
                    else:
                        value, t = trace.forward(x, v[..., None])
                        if t is not None:
                            t = np.array(t[..., 0])
                except GuardFailed as guard:  # another branch: the general path tries the other traces
                    guard.__traceback__ = None
                    value, t, failed = None, None, (trace, guard)
                except Exception:  # noqa: BLE001 - anything else: the general path decides
                    value, t = None, None
                if t is not None and _all_finite(value) and _all_finite(t):
                    self.replays += 1
                    return _own(value, x), t
        x, args, (v,) = self._split(call_args, 1, "jvp")
        v = _point(v, "v")
        if np.shape(v) != np.shape(x):
            raise InputError(f"v must have x's shape {np.shape(x)}, got shape {np.shape(v)}; remedy: pass one "
                             "direction shaped like x")
        import dualad

        def compute(tr):
            value, t = tr.push(x, args, np.asarray(v, dtype=np.result_type(v, np.float64))[..., None])
            t = t[..., 0]
            if tr.jacobian_dtype is not None:  # x not float64: the plain tangent's dtype (as the Jacobian's)
                t = t.astype(tr.jacobian_dtype, copy=False)
            return _own(value, *call_args), _own(t, *call_args)
        return self._run(x, args, compute, lambda: dualad.jvp(self._bound(args), x, v),
                         lambda r: _finite(r[0]) and _finite(r[1]), failed)

    def vjp(self, *call_args: Any) -> Any:
        """``(f(x), uᵀ J)``, called as ``p.vjp(x, u)`` (u shaped like f(x)), like :func:`dualad.tape.vjp`."""
        failed = None
        if len(call_args) == 2 and not self.args:
            # the common call, kept short: x of the front trace's shape and dtype, u an array of the output's
            # shape and dtype; the one-cotangent reverse program
            x, u = call_args
            trace = self.traces[0]
            if type(x) is np.ndarray and x.shape == trace.x_shape and x.dtype is trace.x_dtype \
                    and type(u) is np.ndarray and u.shape == trace.y_shape and u.dtype == trace.y_dtype \
                    and trace.constant_output is None:
                try:
                    scalar_style = trace.value_and_jacobian
                    if scalar_style is not None:  # f(x) and J as Python floats: u @ J
                        value, J = scalar_style(x)
                        a = u @ J if J.ndim == 2 else u * J
                    else:
                        value, a = trace.reverse_single(x, u)
                except GuardFailed as guard:  # another branch: the general path tries the other traces
                    guard.__traceback__ = None
                    value, a, failed = None, None, (trace, guard)
                except Exception:  # noqa: BLE001 - anything else: the general path decides
                    value, a = None, None
                if type(a) is np.ndarray and _all_finite(value) and _all_finite(a):
                    self.replays += 1
                    return _own(value, x, u), _own(a, x, u)
        x, args, (u,) = self._split(call_args, 1, "vjp")
        from .. import tape

        def compute(tr):
            kind = np.asarray(u).dtype.kind
            if kind not in "biuf":  # a complex u cast to the real output's dtype lost its imaginary part
                raise _UsageError(InputError(f"u must be a real array (f(x) is real), got dtype {np.asarray(u).dtype}; "
                                          "remedy: pass a real cotangent shaped like the output"))
            uu = np.asarray(u, dtype=tr.y_dtype)
            if uu.shape != tr.y_shape:
                raise _UsageError(InputError(f"u must have f(x)'s shape {tr.y_shape}, got shape {uu.shape}; "
                                          "remedy: pass one cotangent shaped like the output"))
            value, a = tr.pull_one(x, args, uu)
            return _own(value, *call_args), _own(a, *call_args)
        return self._run(x, args, compute, lambda: tape.vjp(self._bound(args), x, u),
                         lambda r: _finite(r[0]) and _finite(r[1]), failed)

    def value_and_grad(self, *call_args: Any) -> Any:
        """``(f(x), gradient)`` of a scalar-valued f, by one replayed reverse sweep."""
        failed = None
        if len(call_args) == 1 and not self.args:
            # the common call, kept short (as in jacobian): f(x) alone, x of the front trace's shape and dtype
            x = call_args[0]
            trace = self.traces[0]
            if type(x) is np.ndarray and x.shape == trace.x_shape and x.dtype is trace.x_dtype \
                    and trace.y_shape == () and trace.constant_output is None:
                try:
                    scalar_style = trace.value_and_jacobian
                    if scalar_style is not None:  # f(x) and its one Jacobian row as Python floats
                        value, a = scalar_style(x)
                    else:
                        value, a = trace.reverse_single(x, trace.one)
                except GuardFailed as guard:  # another branch: the general path tries the other traces
                    guard.__traceback__ = None
                    value, a, failed = None, None, (trace, guard)
                except Exception:  # noqa: BLE001 - anything else: the general path decides
                    value, a = None, None
                if a is not None and type(a) is np.ndarray and math.isfinite(value) and math.isfinite(a.sum()):
                    self.replays += 1
                    return _own(value, x), _own(a)
        x, args, _ = self._split(call_args, 0, "value_and_grad")
        from .. import tape

        def compute(tr):
            if tr.y_shape != ():
                raise _UsageError(OutputError(f"value_and_grad needs a scalar-valued function, but f returned shape "
                                           f"{tr.y_shape}; remedy: use jacobian or vjp for vector outputs"))
            value, a = tr.pull_one(x, args, tr.one)
            return _own(value, *call_args), _own(a)
        return self._run(x, args, compute, lambda: tape.value_and_grad(self._bound(args), x),
                         lambda r: _finite(r[0]) and _finite(r[1]), failed)

    def gradient(self, *call_args: Any) -> Any:
        """The gradient of a scalar-valued f (shape ``x.shape``)."""
        return self.value_and_grad(*call_args)[1]

    def hvp(self, *call_args: Any) -> Any:
        """``H @ v`` of a scalar-valued f, called as ``p.hvp(x, v)``: the replayed reverse program run
        forward-mode on ``x + εv`` (guards checked on the way, as always)."""
        x, args, (v,) = self._split(call_args, 1, "hvp")
        import dualad

        def compute(tr):
            if tr.y_shape != ():
                raise _UsageError(OutputError(f"hvp needs a scalar-valued function, but f returned shape "
                                           f"{tr.y_shape}; remedy: use jacobian or vjp for vector outputs"))
            program = tr.reverse
            values = tr._values(args)
            seed = np.ones((1,), tr.y_dtype)

            def gradient(z):
                _, a = program(z, *values, seed)
                if a is None:
                    return np.zeros(tr.x_shape)
                return a[..., 0]
            return _own(dualad.jvp(gradient, x, v)[1])
        return self._run(x, args, compute, lambda: dualad.hvp(self._bound(args), x, v),
                                 _finite)


class _UsageError(Exception):
    """A usage error found once a trace is known (u of the wrong shape): raised as is, never retried."""

    def __init__(self, error: Exception):
        super().__init__(error)
        self.error = error


def _prepared_again(f, x_example, args, argnum, max_traces, sparse) -> "Prepared":
    return Prepared(f, x_example, args=args, argnum=argnum, max_traces=max_traces, sparse=sparse)


def _failure(trace, failed) -> tuple:
    """The key of a first meeting: the trace, its failed guard, and the decision made there if it is not a
    bool (a bool guard that failed decided the other bool)."""
    args = failed.args
    if len(args) == 1:
        return id(trace), args[0]
    return id(trace), args[0], hashable(args[1])


def _own(a, *callers):
    """An array the caller may keep and write to: a replay may return a view of its seed or a constant
    (read-only, or shared with later answers), or one of the caller's own arrays (``callers``: f = lambda
    x: x answers x itself, and its vjp u itself)."""
    if isinstance(a, np.ndarray):
        if not (a.flags.writeable and a.flags.owndata):
            return np.array(a)
        for c in callers:
            if a is c:
                return a.copy()
    return a


def prepare(f: Callable, x_example: Any, *, args: tuple = (), argnum: int = 0, max_traces: int = 8,
            sparse: bool = False) -> Prepared:
    """Record ``f`` at ``x_example`` once; return a :class:`Prepared` whose derivatives replay it.

    The replay is compiled straight-line numpy code: no per-operation dispatch.
    Every value-dependent decision f made (comparisons, ``argmax``/``argsort``
    orders, ``nonzero``, masks) is re-checked at each new point; where one
    differs, the call is answered by the plain functions, and a branch met a
    second time is recorded and compiled too (``retapes``); up to ``max_traces``
    branches are kept. A function whose decisions cannot be
    checked is refused with :class:`ReplayRefused`. What f reads from outside its
    arguments (a closure's or global array, random numbers drawn inside f) is frozen
    at recording, as in ``jax.jit``: pass what changes in ``args``, whose non-float
    values are compared with a copy taken at recording (changes in place are seen).

    Extra arguments that are not differentiated (``t`` of ``rhs(t, y)``) go in
    ``args``, x's position in ``argnum``; then the object is called like f, so
    it passes straight as ``solve_ivp(..., jac=dualad.prepare(rhs, y0, args=(0.0,), argnum=1))``.

    ``sparse=True``: the Jacobian is a ``scipy.sparse.csr_matrix``, computed by the replayed forward
    program with one direction per colour of the pattern (detected once per recorded branch, as
    :class:`dualad.SparseJacobian` detects it).

    >>> import numpy as np, dualad
    >>> p = dualad.prepare(lambda v: np.sin(v) * v[0], np.zeros(2))
    >>> p.jacobian(np.array([0.0, 1.0])).round(6)  # diag(cos v) v0 + sin(v) e0
    array([[0.      , 0.      ],
           [0.841471, 0.      ]])
    >>> p.replays
    1
    """
    return Prepared(f, x_example, args=args, argnum=argnum, max_traces=max_traces, sparse=sparse)
