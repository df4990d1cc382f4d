"""Sparse Jacobians: detect the pattern, colour the columns, evaluate once with one direction per colour."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..arraylike import ArrayLike
from ..common import extra_arguments
from ..dual import Dual, new_tag
from ..lifetime import finish_tag
from . import constants
from ..errors import ConversionError, DualadError, InputError, OutputError, describe, not_callable
from ..forward import as_input, split_output
from .. import decisions
from . import tracer
from .coloring import bicolor, check_coloring, color_columns
from .plot import as_pattern, plot_pattern

__all__ = ["jacobian_sparsity", "sparse_jacobian", "SparseJacobian", "MissingDependencyError", "SparsityChangedError",
           "SparsityError"]


class MissingDependencyError(DualadError, ImportError):
    """An optional dependency needed by this function is not installed."""


def _scipy_sparse():
    """``scipy.sparse``, imported only when a sparse function runs."""
    try:
        import scipy.sparse as sp
    except ImportError as err:
        raise MissingDependencyError(
            "sparse Jacobians return scipy.sparse matrices, and scipy is not installed; "
            "remedy: pip install dualad[scipy]") from err
    return sp


def _point(x, what: str = "x") -> np.ndarray:
    x = as_input(x, what)
    if isinstance(x, ArrayLike):
        raise InputError(f"{what} is a differentiable value ({describe(x)}); sparse Jacobians do not nest inside another "
                         "differentiation; remedy: call them on plain arrays")
    return x


def jacobian_sparsity(f: Callable, x: Any):
    """The structural nonzero pattern of the Jacobian of ``f`` at ``x``, as a boolean ``scipy.sparse.csr_matrix``.

    Shape ``(m, n)``: rows are the flattened (C order) outputs, columns the
    flattened inputs. ``f`` runs once on dependency-tracking values that go
    through dualad's rule table (see :mod:`dualad.sparse.dispatch`). The pattern
    contains every entry that can be nonzero *at this x*: ``np.where`` and
    ``max``/``min`` keep all candidates, but Python branches on values
    (``if x[0] > 0``), value-derived indices and ``np.sort`` follow ``x``, and
    can give another pattern elsewhere. Linear algebra (``solve``, ``inv``,
    ``det``) is taken to couple everything.

    >>> import numpy as np, dualad
    >>> S = dualad.jacobian_sparsity(lambda u: u[1:] - u[:-1], np.zeros(4))
    >>> S.toarray().astype(int)
    array([[1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    """
    if not callable(f):
        raise not_callable(f, "jacobian_sparsity")
    sp = _scipy_sparse()
    x = _point(x)
    value, (indptr, indices) = tracer.trace(f, x)
    m, n = int(np.size(value)), int(np.size(x))
    pattern = sp.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr), shape=(m, n))
    return as_pattern(pattern)  # the same matrix, with a .plot() method


def _as_pattern(sparsity, sp):
    if sp.issparse(sparsity):
        S = sp.csr_matrix(sparsity, dtype=bool)
    else:
        arr = np.asarray(sparsity)
        if arr.ndim != 2:
            raise InputError(f"sparsity must be an (m, n) matrix, got {describe(arr)}; remedy: pass "
                             "dualad.jacobian_sparsity(f, x) or a 2-D boolean array")
        S = sp.csr_matrix(arr != 0)
    S.eliminate_zeros()
    S.sum_duplicates()
    S.sort_indices()
    return S


def _colors(S, coloring) -> np.ndarray:
    if isinstance(coloring, str):
        return color_columns(S, coloring)
    colors = np.asarray(coloring)
    if colors.shape != (S.shape[1],) or colors.dtype.kind not in "iu" or (colors.size and colors.min() < 0):
        raise InputError(f"coloring must be a method name or n={S.shape[1]} non-negative ints, got "
                         f"{describe(colors)}")
    if not check_coloring(S, colors):
        raise InputError("the given coloring puts two columns that share a row in the same colour; "
                         "remedy: pass coloring='greedy'")
    return colors.astype(np.int64)


#: coloring="auto" moves rows to reverse passes only when each saves this many forward directions
_REVERSE_WEIGHT = 8.0


class SparsityChangedError(DualadError, ValueError):
    """f took another value-dependent decision than when its sparsity pattern was detected, and the
    pattern was declared fixed (``SparseJacobian(..., fixed=True)``)."""


class SparsityError(DualadError, ValueError):
    """A sparsity pattern misses a nonzero of the Jacobian (found by ``check=True``)."""


def _nonzero_masks(args: tuple) -> dict:
    """``{position: nonzero mask}`` of the float extra arguments that hold a zero (see ``_extra_nonzeros``)."""
    masks = {}
    for pos, a in enumerate(args):
        if _guarded(a):
            mask = np.asarray(a) != 0
            if not mask.all():
                masks[pos] = mask
    return masks


def _guarded(value):
    """Is this extra argument carried as a constant whose comparisons are recorded (a float array or scalar)?"""
    kind = getattr(value, "dtype", None)
    if kind is not None:
        return kind.kind == "f" and not isinstance(value, ArrayLike)
    return isinstance(value, float)


class _PlainReads:
    """What a detection's watch reports plain reads of x's values to (``unguarded``, as a replay's log)."""

    __slots__ = ("unguarded",)

    def __init__(self):
        self.unguarded: list = []


def _constant(a, k: int, tag: int) -> Dual:
    """A float extra argument as a Dual of ``tag`` with ``k`` zero directions: a constant whose comparisons are recorded."""
    value = np.array(a, copy=True)
    return Dual._make(value[()] if value.ndim == 0 else value, np.zeros(value.shape + (k,), value.dtype), tag)


class SparseJacobian:
    """Pattern and colouring of ``f``'s Jacobian, computed once; call it to get the Jacobian at new points.

    ``J = sj(x)`` evaluates ``f`` once with ``ncolors`` tangent directions and
    returns a ``scipy.sparse.csr_matrix`` of shape ``(m, n)`` (flattened
    outputs x flattened inputs).

    The pattern is detected at ``x_example`` together with a log of every
    value-dependent decision f made there (comparisons, ``argmax``/``argsort``/
    ``sort`` orders, ``nonzero``, values used as indices: see
    :mod:`dualad.decisions`). Each call checks the same decisions during its
    own pass, at no extra evaluation of f; where one differs, the pattern is
    detected again at the new x and the columns recoloured (counted in
    ``redetections``), so the result is always right. ``fixed=True`` raises
    :class:`SparsityChangedError` instead. A ``sparsity`` you pass is trusted
    (there is no log to check it with); ``check=True`` verifies every result
    with one extra directional derivative in a random direction and raises
    :class:`SparsityError` if the pattern misses an entry.

    ``coloring="bicolor"`` colours rows and columns together: the densest rows
    are read from reverse passes (``tape``, one cotangent per row colour,
    ``reverse_colors`` of them) and the other rows from ``ncolors`` forward
    directions, chosen to minimise the number of passes; an arrow pattern (a
    dense row and a dense column) then needs 3 passes instead of n.
    ``coloring="auto"`` does the same where each reverse pass saves at least 8
    forward directions, and is plain column colouring otherwise.

    Repeated calls are compiled (``replay=True``): at the second call f is
    recorded at that call's point, every value-dependent decision kept as a
    guard, and later calls run that recording as straight-line numpy code
    writing the matrix's data (``replays`` counts them); a call where a guard
    differs, an entry is not finite or a non-float extra argument changed runs
    f as above. The recording froze what f reads from outside its arguments
    (globals, closures, random numbers) and the branches f takes on plain copies
    (``u.value``), so every compiled call also runs f once on plain floats and
    compares its value with the recording's: where they differ, the call goes
    the plain way (a change that moves f's value at x cannot give a stale
    Jacobian). ``replay=False`` runs f with its derivatives at every call.

    The pattern itself relies on the zeros of constants f multiplies x by
    (``W @ x`` with a diagonal ``W`` is diagonal). Every call checks that those
    arrays have no new nonzero, and a compiled call whose value check fails and
    every recording detect the pattern again: a pattern that grew (a coupling
    written into ``W``, a global rebound to a denser matrix) is recoloured, or
    raises with ``fixed=True``.

    Extra arguments that are not differentiated (a time ``t``, parameters):
    give their example values as ``args`` and the position of x among f's
    arguments as ``argnum``; then call ``sj(*arguments)`` the way f is called,
    e.g. ``jac = SparseJacobian(rhs, y0, args=(0.0,), argnum=1)`` and
    ``solve_ivp(rhs, span, y0, method="BDF", jac=jac)``. Float extra arguments
    reach f as constants with zero derivative whose comparisons are guarded
    like x's (use numpy functions on them); any other extra argument is a
    decision itself (a new value means a new detection).

    >>> import numpy as np, dualad
    >>> sj = dualad.SparseJacobian(lambda u: u[1:] * u[:-1], np.ones(5))
    >>> sj.ncolors
    2
    >>> sj(np.arange(5.0)).toarray()
    array([[1., 0., 0., 0., 0.],
           [0., 2., 1., 0., 0.],
           [0., 0., 3., 2., 0.],
           [0., 0., 0., 4., 3.]])
    >>> jac = dualad.SparseJacobian(lambda u: u ** 2 if u[0] > 0 else u ** 2 + u[0], np.ones(3))
    >>> jac(np.array([-1.0, 1.0, 1.0])).toarray()[1], jac.redetections
    (array([1., 2., 0.]), 1)
    """

    def __init__(self, f: Callable, x_example: Any, sparsity=None, coloring: str | Any = "greedy", *,
                 args: tuple = (), argnum: int = 0, fixed: bool = False, check: bool = False,
                 executor: Any = None, replay: bool = True):
        self._sp = _scipy_sparse()
        self.replay = bool(replay)
        self.executor = executor  # colour groups on a concurrent.futures.Executor (dualad.parallel)
        x = _point(x_example, "x_example")
        if not callable(f):
            raise not_callable(f, "SparseJacobian")
        self.f = f
        self.args = extra_arguments(args, "SparseJacobian")
        if not isinstance(argnum, (int, np.integer)) or not 0 <= argnum <= len(self.args):
            raise InputError(f"argnum={argnum!r} must be the position of x among f's {len(self.args) + 1} "
                             "arguments; remedy: pass an int between 0 and len(args)")
        self.argnum = int(argnum)
        self.fixed = bool(fixed)
        self.check = bool(check)
        self.coloring = coloring
        self.input_shape = np.shape(x)
        self.redetections = 0
        self.replays = 0  # calls answered by the compiled replay (dualad.sparse.replayed)
        self.user_pattern = sparsity is not None
        self.decisions = None  # the DecisionLog of the last detection (None for a pattern you pass)
        self._pattern_constants: list = []  # constants whose zeros the detected pattern relies on (sparse.constants)
        # float extra arguments' nonzeros at detection ({position among the extras: mask}, only those with a
        # zero): the pattern relies on their zeros as on a constant's (A in A @ x, passed as an argument)
        self._extra_nonzeros: dict = {}
        # float extra arguments reach f as dualad constants (their comparisons guarded), unless f was seen
        # deciding on their type (isinstance(t, float)): then as the caller passed them (see _trace)
        self._wrap_floats = True
        # f read a plain copy of x's values (``u.value``) while its pattern was detected: what it decided on
        # that copy is invisible to the decision log, so every plain call detects the pattern again
        self._reads_plain = False
        self._compiled = None  # CompiledCall for the current pattern, written after a first plain call
        self._compile_refused = False
        self._plain_calls = 0  # clean plain calls since the pattern was found or the replay last answered
        self._compiles = 0  # recordings since the replay last answered (each doubles the calls to wait)
        if sparsity is None:
            self._detect(x, self.args)
        else:
            self._set_pattern(_as_pattern(sparsity, self._sp), x.size)

    # ------------------------------------------------------------------ pattern and colouring
    def _function_of_x(self, args: tuple, wrap):
        """f as a function of x alone, the extra arguments placed around it (floats wrapped by ``wrap``)."""
        f, i = self.f, self.argnum
        if not args:
            return f  # nothing around x (and nothing of self captured: executors pickle what they run)
        extra = [wrap(a) if self._wrapped(a) else a for a in args]

        def g(x):
            return f(*extra[:i], x, *extra[i:])
        return g

    def _trace(self, x: np.ndarray, args: tuple):
        """Trace f at ``x``: (its decision log, the constants the pattern relies on, the pattern)."""
        from ..replay import plain_reads
        from ..replay.arguments import Kept, same_value, type_blind
        from ..replay.recording import kind_of_argument
        reads = _PlainReads()
        with decisions.recording() as log, constants.collecting() as found, \
                plain_reads.watching(reads, tracer.Tracer):
            for a in args:  # a non-float extra argument is a decision in itself
                if not self._wrapped(a):
                    # kept as a copy, compared by value: a dict or list changed in place is another decision
                    decisions.note("argument", Kept(a))
                else:  # a float's type too (an int, a 0-d array next time: f may decide on it)
                    decisions.note("argument type", (kind_of_argument(a), np.shape(a)))
            wrapped: list = []  # the float arguments' values as the tracer carries them

            def wrap(a):
                carried = tracer.Tracer(np.array(a, copy=True), ())
                wrapped.append(carried.value)
                return carried
            try:
                value, (indptr, indices) = tracer.trace(self._function_of_x(args, wrap), x)
            except ConversionError:
                if not wrapped:
                    raise
                wrapped = None  # f reads a float argument as a plain number (float(t), an index): see below
        if wrapped is None:
            self._wrap_floats = False  # from now on the float arguments reach f as passed (decisions)
            return self._trace(x, args)
        m, n = int(np.size(value)), int(np.size(x))
        S = self._sp.csr_matrix((np.ones(len(indices), dtype=bool), indices, indptr), shape=(m, n))
        # the pattern relied on the zeros of a value that does not depend on x: a float argument's own, or
        # one computed during the call (from an argument, say: no longer alive to tell). Then every call
        # checks the float arguments' zeros (pattern_holds_for); the caller's live constants are checked
        # by constants.moved
        full = args[:self.argnum] + (x,) + args[self.argnum:]
        positions = [i + (i >= self.argnum) for i, a in enumerate(args) if _guarded(a)]
        if wrapped and not (same_value(self.f, full, value) and type_blind(self.f, full, positions, at_given=False)):
            # f's value on the caller's own arguments differs: it decides on the type of a float argument
            # (isinstance(t, float), np.isscalar(t)), which it saw as a dualad value here: from now on the
            # float arguments reach f as passed, each a decision of its own (a new value, a new detection)
            self._wrap_floats = False
            return self._trace(x, args)
        relied = [(ref, mask) for ref, mask in found if ref() is None or any(ref() is w for w in wrapped)]
        kept = [(ref, mask) for ref, mask in found if (ref, mask) not in relied]
        masks = _nonzero_masks(args) if relied and self._wrap_floats else {}
        return log, (kept, bool(reads.unguarded), masks), S

    def _wrapped(self, a) -> bool:
        """Does the extra argument ``a`` reach f as a dualad constant (a float, whose comparisons are
        guarded), rather than as itself (a decision compared by value)?"""
        return self._wrap_floats and _guarded(a)

    def _adopt(self, log, found: tuple, S) -> None:
        """Take a detection's log, what it relied on (constants' zeros, plain reads of x) and its
        pattern S (None: keep the pattern and colours)."""
        self.decisions = log
        self._pattern_constants, self._reads_plain, self._extra_nonzeros = found
        if S is not None:  # a new pattern: colours, seed and compiled code start again
            self._compiled = None
            self._compile_refused = False
            self._plain_calls = self._compiles = 0
            self._set_pattern(S, S.shape[1])

    def _detect(self, x: np.ndarray, args: tuple) -> None:
        self._adopt(*self._trace(x, args))

    def _detect_again(self, x: np.ndarray, args: tuple) -> bool:
        """Detect at ``x`` (a decision differed from the log); True when the pattern is the one in use
        (then its colours and compiled call are kept)."""
        log, found, S = self._trace(x, args)
        same = S.shape == self.sparsity.shape and (S != self.sparsity).nnz == 0
        self._adopt(log, found, None if same else S)
        return same

    def _detect_if_grown(self, x: np.ndarray, args: tuple) -> bool:
        """Detect again at ``x`` after what f reads from outside its arguments changed; True when the
        pattern grew (then recoloured). A pattern inside the current one keeps the current pattern and
        colours: still right (the entries it adds are zeros), and no recolouring."""
        log, found, S = self._trace(x, args)
        grown = S.shape != self.sparsity.shape or S.multiply(self.sparsity).nnz != S.nnz
        if grown and self.fixed:
            raise SparsityChangedError(
                "f's sparsity pattern grew since it was detected: something f reads from outside its arguments "
                "(an array it multiplies x by, a global) or a zero of a float argument changed; remedy: leave fixed=False (the pattern is then "
                "detected again), or build a new SparseJacobian")
        self._adopt(log, found, S if grown else None)
        if grown:
            self.redetections += 1
        return grown

    def _set_pattern(self, S, n: int) -> None:
        self.sparsity = S
        m, cols = S.shape
        if cols != n:
            raise InputError(f"sparsity has {cols} columns but x has {n} entries")
        self.row_colors = None  # the rows read from reverse passes (bicolouring), -1 for the others
        if isinstance(self.coloring, str) and self.coloring in ("bicolor", "auto"):
            # "auto": a reverse pass (recording + sweep) costs about as much as _REVERSE_WEIGHT directions
            self.colors, row_colors = bicolor(S, 1.0 if self.coloring == "bicolor" else _REVERSE_WEIGHT)
            if (row_colors >= 0).any():
                self.row_colors = row_colors
        else:
            self.colors = _colors(S, self.coloring)
        self.ncolors = int(self.colors.max()) + 1 if n else 0
        self.reverse_colors = 0 if self.row_colors is None else int(self.row_colors.max()) + 1
        k = max(1, self.ncolors)
        seed = np.zeros((n, k))
        seed[np.arange(n), self.colors] = 1.0
        seed.flags.writeable = False  # shared by every call: f must never be able to change it
        self._seed = seed
        rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(S.indptr))
        self._take = rows * k + self.colors[S.indices]
        self._indices, self._indptr = S.indices.copy(), S.indptr.copy()
        self._k = k
        if self.row_colors is not None:  # nonzeros of the reverse rows: position in W J and in the data
            reverse_entry = self.row_colors[rows] >= 0
            self._reverse_at = np.flatnonzero(reverse_entry)
            self._reverse_take = self.row_colors[rows[reverse_entry]] * n + S.indices[reverse_entry]
            weights = np.zeros((self.reverse_colors, m))
            reverse_rows = np.flatnonzero(self.row_colors >= 0)
            weights[self.row_colors[reverse_rows], reverse_rows] = 1.0
            weights.flags.writeable = False
            self._weights = weights

    def pattern_holds_for(self, call_args: tuple) -> bool:
        """False when a float extra argument among ``call_args`` (f's arguments, x included) has a nonzero
        where it had a zero at detection: the pattern may rely on that zero (``A @ x`` with A an argument
        reads A's zeros as ``W @ x`` reads a constant's), so the call detects again."""
        args = call_args[:self.argnum] + call_args[self.argnum + 1:]
        for pos, mask in self._extra_nonzeros.items():
            try:
                new = np.asarray(args[pos]) != 0
                if new.shape != mask.shape or bool(np.any(new & ~mask)):
                    return False
            except Exception:  # noqa: BLE001 - not comparable (another kind of argument): detect again
                return False
        return True

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_compiled"] = None  # compiled code does not pickle: written again after two more calls
        state["_plain_calls"] = state["_compiles"] = 0
        state["_pattern_constants"] = []  # weak references to the caller's arrays: not this process's copies
        return state

    def plot(self, *, ax: Any = None, title: str | None = None) -> Any:
        """Spy plot of the pattern, each nonzero coloured by its column's colour (one tangent direction each).

        Needs matplotlib; returns the ``Axes``.
        """
        return plot_pattern(self.sparsity, self.colors, ax=ax, title=title)

    def __repr__(self) -> str:
        m, n = self.sparsity.shape
        reverse = f", reverse_colors={self.reverse_colors}" if self.reverse_colors else ""
        return (f"SparseJacobian(shape=({m}, {n}), nnz={self.sparsity.nnz}, ncolors={self.ncolors}{reverse}, "
                f"redetections={self.redetections}, replays={self.replays})")

    @property
    def shape(self) -> tuple:
        return self.sparsity.shape

    # ------------------------------------------------------------------ evaluation
    def _split_call(self, call_args: tuple):
        if len(call_args) != len(self.args) + 1:
            raise InputError(f"this SparseJacobian takes {len(self.args) + 1} argument(s) (f's, with x at position "
                             f"{self.argnum}), got {len(call_args)}; remedy: call it the way f is called")
        x = call_args[self.argnum]
        return x, call_args[:self.argnum] + call_args[self.argnum + 1:]

    def __call__(self, *call_args: Any):
        """The Jacobian at ``x`` (called like ``f``: ``sj(x)``, or ``sj(t, y)`` with ``args``/``argnum``)."""
        compiled = self._compiled
        # a zero of a constant the pattern relies on (W in W @ x) became nonzero since detection, or of a
        # float extra argument (A in A @ x, passed as one)
        moved = bool(self._pattern_constants) and constants.moved(self._pattern_constants) \
            or bool(self._extra_nonzeros) and not self.pattern_holds_for(call_args)
        changed = moved or self._reads_plain
        if compiled is not None and not moved:
            J = compiled.matrix(call_args)
            if J is not None:  # None: a guard, a value or an argument differs; the plain path decides
                self.replays += 1
                self._plain_calls = self._compiles = 0
                if self.check:
                    x, args = self._split_call(call_args)
                    J = self._verified(J, x, args)
                return J
            if compiled.value_changed:  # f computes another value than recorded: what else changed?
                changed = True
                self._compiled = None  # recorded again (pattern checked) after plain calls, as after a guard
        x, args = self._split_call(call_args)
        x = _point(x)
        if np.shape(x) != self.input_shape:
            raise InputError(f"x has shape {np.shape(x)}, but this SparseJacobian was built for shape "
                             f"{self.input_shape}; remedy: build another SparseJacobian")
        if changed and not self.user_pattern:
            # what f reads from outside its arguments changed (a constant written, a global rebound, a
            # parameter): detect again, so that no new nonzero is added into another column's entries
            self._detect_if_grown(x, args)
        try:
            J, check = self._compressed(x, args)
        except ConversionError:
            if not (self._wrap_floats and any(_guarded(a) for a in args)):
                raise
            # f reads a float argument as a plain number (float(t)) on this branch: the float arguments reach
            # f as passed from now on, each a decision (the pattern detected again)
            self._wrap_floats = False
            self._detect(x, args)
            self.redetections += 1
            J, check = self._compressed(x, args)
        redetected = check is not None and check.diverged
        if check is not None and check.diverged:
            if self.fixed:
                raise SparsityChangedError(
                    f"f took another value-dependent decision at this x than where its sparsity pattern was "
                    f"detected ({check.where}), so the pattern may not hold here; remedy: leave fixed=False "
                    "(the pattern is then detected again where this happens), or remove the branch on values")
            # detected again; an unchanged pattern (a parameter's value changed, not the structure) keeps its
            # colours and compiled call, and this call counts towards compiling as any plain call
            redetected = not self._detect_again(x, args)
            self.redetections += 1
            J, check = self._compressed(x, args)
            if check is not None and check.diverged:
                raise SparsityChangedError(
                    f"f made different decisions on two runs at the same x ({check.where}): it is not a "
                    "function of x alone (randomness, state kept between calls?); remedy: make f deterministic")
        if self.check:
            J = self._verified(J, x, args)
        if not redetected and self.replay and not self._compile_refused:
            # Used again and again without the replay answering: record and compile at this call's point,
            # whose decisions the plain pass just checked against the log (a user's pattern holds anywhere).
            # The second such call compiles; a replay that then never answers (another branch of a
            # user's pattern, non-finite entries) doubles the wait, so recordings stay a small fraction.
            self._plain_calls += 1
            if self._plain_calls >= 2 << self._compiles:
                # the recording freezes what f reads from outside its arguments as it is now, and the
                # compiled calls then compare values with it, not patterns: so the pattern must be this f's
                # (a global rebound since detection shows here and nowhere else)
                if not self.user_pattern and self._detect_if_grown(x, args):
                    J, _ = self._compressed(x, args)
                    if self.check:
                        J = self._verified(J, x, args)
                self._compile(x, args, J.data.dtype)
        return J

    def _compile(self, x: np.ndarray, args: tuple, dtype) -> None:
        """Record f at ``(x, args)`` and compile its compressed Jacobian for the current pattern."""
        self._plain_calls = 0
        self._compiles += 1
        self._compiled = None
        if self.executor is not None:
            self._compile_refused = True  # the executor's workers keep the plain path
            return
        from .replayed import CompiledCall
        reverse = None if self.row_colors is None else (self._weights, self._reverse_at, self._reverse_take)
        try:
            self._compiled = CompiledCall(self.f, x, args, self.argnum, self._wrapped, self._template_matrix(),
                                          self._seed, self._take, dtype, reverse)
        except Exception:  # noqa: BLE001 - ReplayRefused, or anything the recording meets: stay plain
            self._compile_refused = True

    def _template_matrix(self):
        """A csr matrix with the pattern's structure (the replay copies it, with data of its own)."""
        return self._sp.csr_matrix((np.zeros(len(self._indices)), self._indices, self._indptr),
                                   shape=self.sparsity.shape)

    def _compressed(self, x: np.ndarray, args: tuple):
        """One compressed pass: (the Jacobian, the decision check or None)."""
        from ..replay.recording import kind_of_argument
        dtype = x.dtype
        log = self.decisions
        tag = new_tag()
        g = self._function_of_x(args, lambda a: _constant(a, self._k, tag))
        check = None
        if self.executor is not None:  # groups of colours, one pass each, on the executor's workers
            from ..parallel import sweeps
            plain_g = self._function_of_x(args, lambda a: a)
            shape, t = sweeps.compressed_tangent(plain_g, x, self._seed.astype(dtype, copy=False),
                                                 executor=self.executor)
            value = np.empty(shape)  # only its size is read below
            if log is not None:  # the workers do not report decisions: check them here, in one direction
                one = new_tag()
                try:
                    with decisions.checking(log) as check:
                        for a in args:
                            if not self._wrapped(a):
                                decisions.note("argument", a)
                            else:
                                decisions.note("argument type", (kind_of_argument(a), np.shape(a)))
                        self._function_of_x(args, lambda a: _constant(a, 1, one))(
                            Dual._make(x.copy(), np.zeros(x.shape + (1,), dtype), one))
                finally:
                    finish_tag(one, "dualad.SparseJacobian")
        else:
            # the cached seed is read-only (set in _set_pattern), so nothing f does can change it
            seed = Dual._make(x, self._seed.astype(dtype, copy=False).reshape(self.input_shape + (self._k,)), tag)
            try:
                if log is None:
                    y = g(seed)
                else:
                    with decisions.checking(log) as check:
                        for a in args:
                            if not self._wrapped(a):
                                decisions.note("argument", a)
                            else:
                                decisions.note("argument type", (kind_of_argument(a), np.shape(a)))
                        y = g(seed)
            finally:
                finish_tag(tag, "dualad.SparseJacobian")
            value, t = split_output(y, tag, self._k, dtype)
        if isinstance(t, Dual) or isinstance(value, Dual):
            raise OutputError("the function returned a value of an outer differentiation; "
                              "sparse Jacobians do not nest")
        m = self.sparsity.shape[0]
        if int(np.size(value)) != m:
            if check is not None and check.diverged:
                return None, check  # another branch, another output size: detected again by the caller
            raise OutputError(f"f returned {np.size(value)} entries, but the sparsity pattern has {m} rows; "
                              "remedy: pass the pattern of this function (or let it be detected)")
        data = np.reshape(t, (-1,))[self._take] if m else np.zeros(0, dtype)
        if self.row_colors is not None:  # the dense rows, from reverse passes (one cotangent per row colour)
            from ..tape.api import weighted_rows  # the tape loads only when bicolouring asks for it
            _, rows = weighted_rows(self._function_of_x(args, lambda a: a), x, self._weights)
            data = np.array(data, dtype=np.result_type(data, rows))
            data[self._reverse_at] = np.reshape(rows, (-1,))[self._reverse_take]
        return self._sp.csr_matrix((data, self._indices, self._indptr), shape=self.sparsity.shape), check

    def _verified(self, J, x: np.ndarray, args: tuple):
        """``J`` after checking ``J @ v`` against a directional derivative in a random direction."""
        from ..forward import jvp
        v = np.random.default_rng(self.redetections + 7).standard_normal(x.size)
        _, Jv = jvp(self._function_of_x(args, lambda a: a), x, v.reshape(x.shape).astype(x.dtype))
        Jv = np.reshape(Jv, (-1,))
        got = J @ v
        scale = abs(J) @ np.abs(v) + np.abs(Jv)
        eps = np.finfo(x.dtype).eps
        bad = np.abs(got - Jv) > 1e3 * eps * scale + np.finfo(x.dtype).tiny
        if not bad.any():
            return J
        row = int(np.argmax(bad))
        if self.user_pattern:
            raise SparsityError(
                f"the sparsity pattern you passed misses nonzero entries of the Jacobian at this x (row {row} of "
                f"{bad.sum()} wrong rows: J @ v gives {got[row]:.6g}, the directional derivative {Jv[row]:.6g}); "
                "remedy: let SparseJacobian detect the pattern (sparsity=None), or pass a pattern that "
                "contains every entry that can be nonzero")
        raise SparsityError(
            f"the detected sparsity pattern misses nonzero entries at this x (row {row}): f must choose on "
            "values somewhere dualad cannot see (on .value, or in a branch on a plain copy); remedy: "
            "compute decisions from the differentiable values themselves")


def sparse_jacobian(f: Callable, x: Any, sparsity=None, coloring: str | Any = "greedy", *, check: bool = False,
                    executor: Any = None):
    """The Jacobian of ``f`` at ``x`` as a ``scipy.sparse.csr_matrix`` of shape ``(m, n)``, by colouring.

    The pattern is ``sparsity`` (a scipy sparse or dense boolean ``(m, n)``
    matrix) or detected by :func:`jacobian_sparsity`. Columns are coloured
    (``coloring``: "greedy" -- the best of band, natural-order and
    largest-first greedy colourings --, "natural", "largest_first", "band",
    or an array of one colour per column) and ``f`` runs ONCE with one tangent
    direction per colour. "bicolor" and "auto" also read the densest rows from
    reverse passes (see :class:`SparseJacobian`). Rows and columns are the flattened outputs and
    inputs, as in ``dualad.jacobian(f, x).reshape(m, n)``.

    To evaluate many Jacobians of one function, build a :class:`SparseJacobian`
    once instead. ``executor`` (a ``concurrent.futures.Executor``) evaluates
    groups of colours on its workers (the pattern is detected on the caller).

    >>> import numpy as np, dualad
    >>> J = dualad.sparse_jacobian(lambda u: u ** 2, np.array([1.0, 2.0, 3.0]))
    >>> J.toarray()
    array([[2., 0., 0.],
           [0., 4., 0.],
           [0., 0., 6.]])
    """
    # one call: recording and compiling a replay would not pay off
    return SparseJacobian(f, x, sparsity=sparsity, coloring=coloring, check=check, executor=executor,
                          replay=False)(x)
