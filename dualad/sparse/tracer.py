"""Dependency tracing: run ``f`` once on values that record which inputs each entry depends on.

A :class:`Tracer` is to sparsity what a ``Dual`` is to derivatives: numpy hands
it every ufunc and array function (NEP 13/18), and it looks the call up in the
SAME rule table, :data:`dualad.rules.TABLE`. Its "tangent" is a dependency
pattern (see :mod:`dualad.sparse.pattern`): a union plays the part of the sum.

How each kind of rule moves a pattern is described in :mod:`dualad.sparse.dispatch`;
the probing of linear maps in :mod:`dualad.sparse.probe`; assignment and views
in :mod:`dualad.sparse.views`.

The pattern is exact at the given ``x``, and conservative where noted there; Python-level branches on values (``if x[0] > 0``),
indices computed from values and ``np.sort`` follow the values at ``x`` and can
change elsewhere.

Assignment (``out[i] = ...``, ``r[1:] += ...``) replaces the pattern rows of the
written entries. numpy views share memory and patterns do not, so writing
through a view and then using the array it views (or another view of the
written entries) raises instead of returning a pattern with missing entries.
"""
from __future__ import annotations

import numpy as np

from ..arraylike import OPERANDS as _OPERANDS, ArrayLike, install_operators
from ..dual import Dual
from ..decisions import note_index
from ..keywords import stack_nested
from ..errors import OutputError, UnsupportedFunctionError, describe
from . import pattern as P

__all__ = ["Tracer", "trace"]



class Tracer(ArrayLike):
    """A value together with the set of inputs each of its entries depends on.

    >>> import numpy as np
    >>> from dualad.sparse.tracer import trace
    >>> value, (indptr, indices) = trace(lambda x: x[1:] * x[:-1], np.ones(3))
    >>> indptr.tolist(), indices.tolist()
    ([0, 2, 4], [0, 1, 1, 2])
    """

    # _layers: the pattern (see dualad.sparse.pattern). _owned: it is one ELL layer no other
    # value has seen, so __setitem__ may write rows in place. For a value that is a numpy view
    # of another traced value: _root (that value's root), _rootmap (root entry of each entry)
    # and _seen (the root's write count last checked). On a root: _writes (write count),
    # _stamp (last write of each entry) and _dirty (entries changed through a view). See _fresh.
    # _part: a view of one part of each complex entry (z.real): a write through it keeps the entry's other part.
    _noun = "a traced value"
    _loses = "lose track of which inputs it depends on (dualad.jacobian would refuse it on a Dual too)"
    _escape = "keep computing with numpy functions on it"
    __slots__ = ("value", "_layers", "_owned", "_root", "_rootmap", "_seen", "_writes", "_stamp", "_dirty", "_part")

    def __init__(self, value, layers: tuple = ()):
        self.value = value
        self._layers = layers
        self._owned = False
        self._root = self._rootmap = self._stamp = self._dirty = None
        self._seen = self._writes = 0
        self._part = False  # a view of one part (real or imaginary) of complex entries: z.real

    @property
    def layers(self) -> tuple:
        """The dependency pattern (read access shares it, so it is no longer written in place)."""
        self._owned = False
        return self._layers

    @layers.setter
    def layers(self, layers: tuple):
        self._layers = layers
        self._owned = False

    # ----------------------------------------------------------------- array-like
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    def __repr__(self) -> str:
        return f"Tracer(shape={self.shape}, layers={len(self.layers)})"

    def astype(self, dtype, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> "Tracer":
        dt, itself = self.astype_arguments(dtype, order, casting, subok, copy)
        if itself:
            return self
        if dt.kind != "f":
            self._refuse(f"astype({dt})", "cast to a float dtype")
        return Tracer(np.asarray(self.value).astype(dt), self.layers)

    # ----------------------------------------------------------------- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if not isinstance(x, (Tracer,) + _OPERANDS):
                if isinstance(x, ArrayLike):
                    raise foreign(x)
                return NotImplemented
        return _D.apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not (issubclass(t, Tracer) or issubclass(t, np.ndarray)):
                if issubclass(t, ArrayLike):
                    raise foreign(_first_of_type(t, (args, kwargs)))
                return NotImplemented
        return _D.apply_function(func, args, kwargs)

    def __getitem__(self, key):
        return _D.getitem(self, key)

    def __setitem__(self, key, item):
        _D.check_key(key)
        item = stack_nested(item)  # z[0:2] = [a, b]: one stacked value
        if type(item) is not Tracer and isinstance(item, ArrayLike):
            raise foreign(item)
        note_index(key)
        if self._root is not None:
            _views.fresh(self)
        if isinstance(item, Tracer):
            _views.fresh(item)
        _views.setitem(self, key, item)

def trace(f, x: np.ndarray):
    """Run ``f`` on a tracer of ``x``: ``(output value, (indptr, indices))`` of the output's pattern.

    Row ``i`` of the pattern lists the flat input indices output entry ``i``
    (flattened, C order) depends on, sorted and without duplicates.
    """
    with P.tracing():  # what the trace remembers is freed when it ends
        return _trace(f, x)


def _trace(f, x: np.ndarray):
    n = int(np.size(x))
    y = f(Tracer(np.array(x, dtype=np.result_type(x, np.float64), copy=True), P.identity(n) if n else ()))
    if isinstance(y, (list, tuple)):
        y = _D.stack_output(y)
    if isinstance(y, Tracer):
        _views.fresh(y)
        value, layers = y.value, y.layers
        if np.asarray(value).dtype.kind not in "biuf":  # complex: refused like the other engines
            raise OutputError(f"the function returned {describe(np.asarray(value))}, which is not real; "
                              "remedy: keep the computation real")
    elif isinstance(y, Dual):
        raise OutputError("the function returned a Dual while its sparsity was being traced; remedy: "
                          "return arrays computed from the input")
    elif isinstance(y, (np.ndarray, np.generic, int, float, bool)):
        value, layers = np.asarray(y), ()
        if value.dtype.kind not in "biuf":
            raise OutputError(f"the function returned {describe(value)}, which is not numeric; "
                              "remedy: return a float, an array, or a list/tuple of those")
    else:
        raise OutputError(f"the function returned a {type(y).__name__}, which dualad cannot "
                          "differentiate; remedy: return a float, an array, or a list/tuple of those")
    m = int(np.size(value))
    bound = sum(layer.size if isinstance(layer, np.ndarray) else len(layer.indices) for layer in layers)
    small = max(n, m, bound) < 2 ** 31  # int32 indices, as scipy.sparse would pick, when they surely fit
    return value, P.to_csr(layers, m, np.int32 if small else P.IDX)


from . import dispatch as _D  # noqa: E402  (dispatch needs the Tracer class above)
from . import views as _views  # noqa: E402


def foreign(x) -> Exception:
    """The error for a Dual or tape value met while detecting a sparsity pattern: one kept from a finished
    call (``LifetimeError``), or an outer derivative's value (a pattern of f is not differentiable)."""
    from ..tape.var import check_alive
    check_alive(x, "inside sparsity detection (jacobian_sparsity, SparseJacobian)")
    return UnsupportedFunctionError(
        f"sparsity detection met {describe(x)} of an outer derivative call: the pattern and the sparse "
        "Jacobian of f are not differentiated in turn; remedy: use dualad.jacobian or dualad.tape.jacobian "
        "inside the outer derivative, or pass .value if the outer value really is a constant here")


def _first_of_type(t: type, obj):
    if type(obj) is t:
        return obj
    if isinstance(obj, (list, tuple)):
        items = obj
    elif isinstance(obj, dict):
        items = obj.values()
    else:
        return None
    for item in items:
        found = _first_of_type(t, item)
        if found is not None:
            return found
    return None


def _call(ufunc, inputs):
    for x in inputs:
        if type(x) is not Tracer and isinstance(x, ArrayLike):
            raise foreign(x)
    return _D.apply_ufunc(ufunc, "__call__", inputs, {})


# other value types (a Dual, a tape value) reach _call, which names them, rather than numpy's bare TypeError
install_operators(Tracer, call=_call, assign=_views.assign, operands=(ArrayLike,) + _OPERANDS)
