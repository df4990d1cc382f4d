"""How a numpy call on traced values is evaluated through the rule table.

How each kind of rule moves a pattern
-------------------------------------
``Elementwise``
    The union of the (broadcast) input patterns. A partial that is identically
    zero (checked once per ufunc on sample points of the rule's domain, e.g.
    ``copysign``'s sign argument) contributes nothing. Partials are *not*
    evaluated at ``x``: ``x * y`` depends on ``y`` even where ``x == 0``.
``Linear``
    The rule's tangent map is applied to probe tangents that number the input
    entries, with every other operand replaced by its absolute value
    normalised to 0/1 (1 wherever it is nonzero or depends on the input), so
    coefficients such as matmul's matrix cannot cancel. Maps that only move
    entries (rules marked ``selection``: indexing, reshape, transpose,
    broadcast_to, roll, assignment, concatenate, np.where) need one probe
    direction: the entry's number.
    Others get four -- ``1``, ``w`` and two pseudo-random values of ``w``
    (a hash of the index) -- which identify every output entry that copies
    one input entry and flag those that combine several (reductions, products). Those are
    resolved exactly by colouring the inputs (``j mod G``, then random
    colours, four directions per colour) until no colour holds two of an
    entry's sources, and one-hot probes (through the rule's transpose when it
    has one) for whatever is left. This is the dense "apply the map to the 0/1
    pattern, threshold > 0" recipe without an ``(entries, n)`` array per
    value. A rule with a ``selector`` (``np.where``'s condition) keeps *both*
    branches, whatever the condition is at ``x``. ``np.sum`` over axes needs no
    probe: each output entry reads every entry along them, grouped directly.
``Custom``
    Read off the entry's properties in :mod:`dualad.rules`: a ``selection``
    (``concatenate``, whose jvp only copies) is probed like a linear map; a
    ``pattern_like`` entry takes that Linear function's pattern over the same
    axes (``max``/``min``/``prod`` that of ``sum``: every reduced entry, not
    just the winner at ``x``; ``cumprod`` that of ``cumsum``). Any other
    custom rule (``solve``, ``inv``, ``det``, ``slogdet``...) is treated as
    coupling everything: each output entry depends on every input of every
    traced operand, except ``constant_outputs`` (``slogdet``'s sign), unless
    the function declares its own pattern (``dualad.custom_jvp(...,
    sparsity=...)``, see :mod:`dualad.sparse.declared`).
``ZeroDerivative`` / ``NoDerivative``
    An empty pattern / a plain array.
``Composite``
    The implementation is called on the tracers, as for Duals (``np.cross`` of
    two equally shaped stacks of 3-vectors is read off its definition instead:
    entry k reads entries k+1 and k+2 of both vectors, the composite's pattern).
"""
from __future__ import annotations

import inspect
import math
import operator
from functools import lru_cache
from typing import Any

import numpy as np

from ..common import put_at, strip as _strip, unsupported as _unsupported
from ..decisions import note_composite, note_index
from ..errors import ConversionError, OutputError, UnsupportedFunctionError, describe
from ..interpret import Interpreter
from ..keywords import stack_nested
from ..wirtinger import any_complex
from ..rules import NEG_ONE, ONE, TABLE, Custom, Elementwise, Linear
from . import constants, pattern as P
from .probe import structure
from .tracer import Tracer
from .views import STALE, assign, fresh, link_view

__all__ = ["apply_ufunc", "apply_function", "apply_rule", "getitem", "check_key", "stack_output", "Tracing", "TRACING"]

# ----------------------------------------------------------------------------- helpers
def check_key(key):
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, Tracer) for k in parts):
        raise ConversionError("indexing with a traced value would lose its dependencies; remedy: index "
                              "with integers that do not depend on the input")


def getitem(t: Tracer, key):
    check_key(key)
    if type(key) is not int:
        note_index(key)
    return apply_rule(operator.getitem, TABLE[operator.getitem], (t, key), {})


def _has_tracer(x) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tracer(y) for y in x)
    if isinstance(x, dict):
        return any(_has_tracer(y) for y in x.values())
    return False


def _size(shape) -> int:
    return math.prod(shape)


@lru_cache(maxsize=256)
def _broadcast_map(in_shape: tuple, out_shape: tuple) -> np.ndarray:
    """For each entry of ``out_shape``, the entry of ``in_shape`` broadcasting reads."""
    idx = np.arange(_size(in_shape), dtype=P.IDX).reshape(in_shape)
    m = np.ascontiguousarray(np.broadcast_to(idx, out_shape)).reshape(-1)
    m.flags.writeable = False
    return m


@lru_cache(maxsize=None)
def _identically_zero(ufunc, i: int) -> bool:
    """Is the rule's partial for input ``i`` zero everywhere (judged on sample points of its domain)?"""
    rule = TABLE[ufunc]
    partial = rule.partials[i]
    if partial is ONE or partial is NEG_ONE or partial is None:
        return False
    rng = np.random.default_rng(12345)
    domain = rule.domain or ((-2.0, 2.0),)
    # random points of the domain, and the special values where piecewise partials switch
    # (heaviside's partial in its second argument is 1 only where the first is exactly 0)
    special = np.array([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 0.0, 1.0, 0.0])
    samples = [np.concatenate([rng.uniform(*domain[min(j, len(domain) - 1)], size=32), np.roll(special, j)])
               for j in range(ufunc.nin)]
    try:
        with np.errstate(all="ignore"):
            p = partial(ufunc(*samples), *samples)
        return bool(np.all(np.asarray(p) == 0))
    except Exception:  # a partial that cannot run on samples is not known to vanish
        return False


def _partial_counts(ufunc, rule, i: int, inputs, values, out) -> bool:
    """Does a partial that vanished on the sample points count here after all?

    Yes where it is nonzero at the traced point itself, so detection is exact at x whatever the
    sampling missed.
    """
    with np.errstate(all="ignore"):
        p = rule.partials[i](out, *values)
    return bool(np.any(np.asarray(p) != 0))


# ----------------------------------------------------------------------------- elementwise
def _elementwise(ufunc, rule: Elementwise, inputs, kwargs=None, level=None):
    values = [x.value if isinstance(x, Tracer) else x for x in inputs]
    try:
        out = ufunc(*values)
    except ConversionError:  # a list operand holding traced values (x + [x[1], 2.0]): one array to numpy
        stacked = tuple(stack_nested(x) for x in inputs)
        if all(a is b for a, b in zip(stacked, inputs)):
            raise
        return _elementwise(ufunc, rule, stacked, kwargs, level)
    shape = np.shape(out)
    patterns = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tracer):
            continue
        fresh(x)
        if rule.partials[i] is None:
            raise _unsupported(ufunc, f" with respect to argument {i}")
        if not x.layers or (_identically_zero(ufunc, i) and not _partial_counts(ufunc, rule, i, inputs, values, out)):
            continue
        layers = x.layers
        if x.shape != shape:
            layers = P.gather(layers, _broadcast_map(x.shape, shape), x.size)
        patterns.append(layers)
    return Tracer(out, P.union(patterns, _size(shape)) if patterns else ())


# ----------------------------------------------------------------------------- Linear and Custom rules
def _slots(args):
    """The traced operands: (argument position, index in a list argument or None, tracer)."""
    slots = []
    for i, a in enumerate(args):
        if isinstance(a, Tracer):
            slots.append((i, None, a))
        elif isinstance(a, (list, tuple)):
            for j, b in enumerate(a):
                if isinstance(b, Tracer):
                    slots.append((i, j, b))
    return slots


def _stack_nested(a):
    """A list argument whose items are lists holding tracers gets those items stacked, as numpy would."""
    if isinstance(a, (list, tuple)) and any(isinstance(b, (list, tuple)) and _has_tracer(b) for b in a):
        return type(a)(stack_output(b) if isinstance(b, (list, tuple)) and _has_tracer(b) else b for b in a)
    return a


def _unit(v, tracer=None):
    """A 0/1 stand-in for an operand: 1 wherever it is nonzero or depends on the input."""
    if tracer is not None:
        nz = np.asarray(tracer.value) != 0
        if tracer.layers:
            with_deps = nz | P.row_has_deps(tracer.layers, tracer.size).reshape(nz.shape)
            if not with_deps.all():  # entries zero by value and independent of x (np.stack([x, a])): relied on
                constants.note(tracer.value)
            nz = with_deps
        else:  # a value that does not depend on x (a float argument, or computed from one): its zeros count
            constants.note(tracer.value)
        return nz.astype(np.float64)
    if isinstance(v, (np.ndarray, np.generic, float, int)) and not isinstance(v, bool) \
            and np.asarray(v).dtype.kind in "iuf":
        constants.note(v)  # the pattern now relies on v's zeros: a SparseJacobian checks they stay zero
        return (np.abs(np.asarray(v)) > 0).astype(np.float64)
    return v


def _tangent_struct(args, slots, tangents):
    """Tangents laid out like the arguments (None for constants), as rules' jvp/maps expect."""
    struct = [None] * len(args)
    for k, (i, j, _) in enumerate(slots):
        put_at(struct, args, i, j, tangents.get(k))
    return struct


def _linear_maps(func, rule: Linear, args, values, kwargs, slots):
    for i, j, _ in slots:
        if j is not None or rule.tangent.get(i) is None:
            raise _unsupported(func, f" with respect to argument {i}")
    units = {}

    def args_for(i):
        """Arguments for the map of position ``i``: the other operands as 0/1 stand-ins."""
        if i not in units:
            a = list(values)
            for j, arg in enumerate(args):
                if j != i and j in rule.tangent:
                    a[j] = _unit(values[j], arg if isinstance(arg, Tracer) else None)
            if rule.selector is not None:  # keep both choices: the condition may flip away from x
                a[rule.selector] = np.full(np.shape(values[rule.selector]), i == rule.selector + 1)
            units[i] = a
        return units[i]

    def fwd(tangents):
        total = None
        for k, t in tangents.items():
            i = slots[k][0]
            c = rule.tangent[i](t, *args_for(i), **kwargs)
            total = c if total is None else total + c
        return total

    def bwd(k, ct):
        i = slots[k][0]
        transpose = rule.transpose.get(i) if hasattr(rule.transpose, "get") else None
        if ct is None:
            return transpose is not None
        return transpose(ct, *args_for(i), **kwargs)

    return fwd, bwd


def _bound(func, args, kwargs):
    try:
        b = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {}
    return b.arguments


def _as_linear(func, proxy, args, kwargs, out):
    """The pattern of the Linear function ``proxy`` over the same axes (``Custom.pattern_like``)."""
    bound = _bound(func, args, kwargs)
    kw = {"axis": bound.get("axis")}
    if proxy is np.sum and bound.get("keepdims") is not None:
        kw["keepdims"] = bool(bound.get("keepdims"))
    traced = apply_rule(proxy, TABLE[proxy], (args[0],), kw)
    return Tracer(out, traced.layers)


def _coupled(out, slots, constant_outputs=()):
    """Every output entry depends on everything the traced operands depend on."""
    rows = [P.to_csr(tr.layers, tr.size)[1] for _, _, tr in slots if tr.layers]
    deps = np.unique(np.concatenate(rows)) if rows else np.zeros(0, P.IDX)

    def wrap(o):
        size = int(np.size(o))
        if len(deps) == 0 or size == 0:
            return Tracer(o, ())
        return Tracer(o, (np.broadcast_to(deps, (size, len(deps))),))

    if isinstance(out, tuple):
        items = [out[i] if i in constant_outputs else wrap(o) for i, o in enumerate(out)]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return wrap(out)


def apply_rule(func, rule, args, kwargs, level=None) -> Any:
    """The pattern of a Linear or Custom rule's result (keywords vetted by the skeleton)."""
    args = tuple(_stack_nested(a) for a in args)
    slots = _slots(args)
    selection = rule.selection
    for _, _, tr in slots:
        if not (selection and len(slots) == 1 and tr._root is None):
            fresh(tr)  # a copy from an array with entries changed through a view is checked below
    values = [_strip(a) for a in args]
    out = func(*values, **kwargs)
    if type(rule) is Custom:
        if rule.pattern_like is not None:
            return _as_linear(func, rule.pattern_like, args, kwargs, out)
        declared = getattr(func, "sparsity_pattern", None)  # a user's rule with a declared pattern
        if declared is not None:
            return declared(out, values, slots)
        if not rule.selection:
            # slogdet's sign is constant for real matrices only (complex: det/|det| moves)
            return _coupled(out, slots, () if any_complex(values) else rule.constant_outputs)

        def fwd(tangents):
            return rule.jvp(out, values, kwargs, _tangent_struct(args, slots, tangents))
        bwd = None
    else:
        summed = _axis_sum(func, args, kwargs, slots, out)
        if summed is not None:
            return summed
        fwd, bwd = _linear_maps(func, rule, args, values, kwargs, slots)
    layers, smap = structure(np.shape(out), slots, fwd, bwd, selection)
    if selection and len(slots) == 1 and slots[0][2]._dirty is not None:
        dirty = slots[0][2]._dirty
        if smap is None or dirty[smap[smap >= 0]].any():
            raise UnsupportedFunctionError(STALE)
    if len(slots) == 1 and out is slots[0][2].value and type(rule) is not Custom:
        return slots[0][2]  # numpy returned its argument itself (np.real of a real array): the same value
    result = Tracer(out, layers)
    if len(slots) == 1 and isinstance(out, np.ndarray) and out.base is not None \
            and np.may_share_memory(out, slots[0][2].value):
        source = slots[0][2]
        if smap is None and (func is np.real or func is np.imag) and out.size == source.size:
            # z.real / z.imag: numpy's view of one part of each entry (of all of it for a real z); a
            # write through it changes the entry, whose other part keeps its dependencies
            smap = P.arange(out.size)
            result._part = np.result_type(source.value).kind == "c"
        link_view(result, source, smap)
    return result


def _axis_sum(func, args, kwargs, slots, out):
    """``np.sum`` over axes, read off its definition: output entry i reads every entry along the
    summed axes (all with coefficient 1), so its pattern is the union of their rows, grouped directly
    rather than probed (the same result: probing finds exactly these sources). None for other calls
    (``where=``, ``initial=``, a list argument: probed as before)."""
    if func is not np.sum or len(slots) != 1 or slots[0][:2] != (0, None):
        return None
    bound = _bound(func, args, kwargs)
    if not bound or set(bound) - {"a", "axis", "dtype", "keepdims"}:
        return None
    tr = slots[0][2]
    shape = tr.shape
    axis = bound.get("axis")
    ndim = len(shape)
    summed = tuple(range(ndim)) if axis is None else \
        tuple(int(a) % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    out_size = int(np.size(out))
    group = math.prod(shape[a] for a in summed)
    if not tr.layers or out_size == 0 or group == 0:
        return Tracer(out, ())
    # entries of each output, in output order: the kept axes first (C order), the summed ones last
    order = np.moveaxis(np.arange(tr.size, dtype=P.IDX).reshape(shape), summed, range(ndim - len(summed), ndim))
    src = np.ascontiguousarray(order).reshape(-1)
    layers = P.grouped_gather(tr.layers, src, np.arange(0, group * out_size + 1, group, dtype=P.IDX))
    if group > 1 or len(layers) > 1:  # the group's rows side by side repeat inputs: merged once, here
        layers = P.merge(layers, out_size)
    return Tracer(out, layers)


@lru_cache(maxsize=64)
def _cross_maps(size: int) -> tuple:
    """For 3-vectors along the last axis: the entries (k+1) mod 3 and (k+2) mod 3 of each entry's vector."""
    idx = np.arange(size, dtype=P.IDX).reshape(-1, 3)
    maps = (np.ascontiguousarray(idx[:, [1, 2, 0]]).reshape(-1), np.ascontiguousarray(idx[:, [2, 0, 1]]).reshape(-1))
    for m in maps:
        m.flags.writeable = False  # cached: the gathers of a layer by them are remembered too
    return maps


def _cross_of_3_vectors(args):
    """``np.cross(a, b)`` of two equally shaped stacks of 3-vectors, from its definition: entry k of a
    product reads entries k+1 and k+2 (mod 3) of both vectors. The composite's six slices, products and
    stack give the same pattern at several times the cost. None for any other form (the composite)."""
    if len(args) != 2:
        return None
    a, b = args
    shape = np.shape(a.value if isinstance(a, Tracer) else a)
    if not shape or shape[-1] != 3 or np.shape(b.value if isinstance(b, Tracer) else b) != shape:
        return None
    if not all(isinstance(v, Tracer) or (isinstance(v, np.ndarray) and v.dtype.kind in "biuf") for v in (a, b)):
        return None
    if any_complex((a, b)):
        return None
    note_composite(np.cross)
    for t in (a, b):
        if isinstance(t, Tracer):
            fresh(t)
    out = np.cross(*_strip((a, b)))
    size = math.prod(shape)
    patterns = [P.gather(t.layers, m, size) for t in (a, b) if isinstance(t, Tracer) and t.layers
                for m in _cross_maps(size)]
    return Tracer(out, P.union(patterns, size) if patterns else ())


def _zero(func, rule, args, kwargs, level=None):
    return Tracer(func(*_strip(args), **_strip(kwargs)), ())


# ----------------------------------------------------------------------------- dispatch
class Tracing(Interpreter):
    """The sparsity tracer's part of the dispatch skeleton (:mod:`dualad.interpret`): values carry patterns."""

    value_type = Tracer
    noun = "a traced value"
    loses = "the dependencies"
    plural = "traced values"

    def top(self, objs) -> Any:
        return True if _has_tracer(objs) else None  # tracers do not nest: one level

    def call(self, func, args: tuple, kwargs: dict) -> Any:
        if func is np.cross and not kwargs:
            crossed = _cross_of_3_vectors(args)
            if crossed is not None:
                return crossed
        return super().call(func, args, kwargs)

    # the engine's functions are the hooks themselves: (func, rule, args, kwargs, level)
    elementwise = staticmethod(_elementwise)
    rule = staticmethod(apply_rule)
    zero = staticmethod(_zero)

    def assign(self, target, result) -> None:
        assign(target, result if isinstance(result, Tracer) else Tracer(result, ()))


TRACING = Tracing()
#: what ``Tracer.__array_ufunc__`` / ``__array_function__`` do
apply_ufunc = TRACING.apply_ufunc
apply_function = TRACING.apply_function


def stack_output(y) -> Any:
    """A list/tuple output as one traced array (nested lists become nested axes), as ``np.array`` would."""
    items = [stack_output(v) if isinstance(v, (list, tuple)) else v for v in y]
    for v in items:  # a string or None in the list would otherwise be traced as a constant
        if not isinstance(v, Tracer) and not (isinstance(v, (np.ndarray, np.generic, int, float, bool))
                                              and np.asarray(v).dtype.kind in "biuf"):
            raise OutputError(f"the function returned a list holding {describe(v)}, which is not numeric; "
                              "remedy: return numbers or arrays only")
    if len({np.shape(v.value) if isinstance(v, Tracer) else np.shape(v) for v in items}) > 1:
        raise OutputError("the function returned a list of arrays of different shapes; "
                          "remedy: return one array, or a list of equally shaped arrays")
    if not any(isinstance(v, Tracer) for v in items):
        return np.array(items) if items else np.zeros(0)
    return np.stack(items)
