"""Forward mode: how a numpy call on Duals is evaluated through the rule table.

One dict lookup finds the rule; the rule says how tangents move. Nothing here
knows a derivative formula (those live in :mod:`dualad.rules`).
"""
from __future__ import annotations

import math
import operator
import sys
from typing import Any

import numpy as np

from . import aliasing, lifetime, wirtinger
from .arraylike import ArrayLike, primal as _primal, sequence_operand
from .common import all_finite as _all_finite, func_name as _name, ndim as _ndim
from .common import chain_product, partial_at
from .common import shape as _shape, unsupported
from .diagonal import dense as _dense
from .dual import Dual
from .errors import ConversionError
from .interpret import Interpreter
from .subclasses import refuse_array_subclass
from .decisions import note_composite, note_index
from .keywords import stack_nested
from .rules import NEG_ONE, ONE, TABLE, Custom, Elementwise, Linear, setitem_tangent

_GETITEM = TABLE[operator.getitem]
_GETITEM_FUNC = operator.getitem


def top_tag(objs) -> int:
    """The highest tag among the Duals in ``objs`` (one level into lists), or -1."""
    tag = -1
    for x in objs:
        kind = type(x)
        if kind is Dual:
            if x.tag > tag:
                tag = x.tag
        elif kind is not _ARRAY and isinstance(x, (list, tuple)):  # (an ndarray, the commonest constant: no call)
            t = top_tag(x)
            if t > tag:
                tag = t
    return tag


def _first(objs, tag):
    for x in objs:
        if isinstance(x, Dual) and x.tag == tag:
            return x
        if isinstance(x, (list, tuple)):
            found = _first(x, tag)
            if found is not None:
                return found
    return None


def _is_batched(d: Dual) -> bool:
    return _ndim(d.tangent) > _ndim(d.value)


def _split(x, tag, batched):
    """Value and batched tangent (or None) of ``x`` at ``tag``; lists split element by element."""
    if isinstance(x, Dual) and x.tag == tag:
        return x.value, (x.tangent if batched else x.tangent[..., None])
    if isinstance(x, (list, tuple)) and top_tag(x) == tag:
        parts = [_split(y, tag, batched) for y in x]
        return type(x)(p[0] for p in parts), [p[1] for p in parts]
    if type(x) is Dual:  # a lower level's Dual: a constant here, if its call is still running
        lifetime.check_tag(x.tag, "with a Dual of a running call")
    elif type(x) is not _ARRAY and isinstance(x, _ARRAY):
        refuse_array_subclass(x, "an argument")
    return x, None


def _scale(partial, tangent, batched):
    """partial * tangent by :func:`dualad.common.chain_product`'s convention (0 where the tangent
    is 0 and the partial infinite), with the finite cases, by far the commonest, checked inline."""
    if type(partial) is _F64:  # a scalar partial (scalar-style code): the quick check
        if _isfinite(partial):
            return partial * tangent
    elif type(partial) is _ARRAY:  # an array partial (array code): the same, inline
        if partial.dtype.kind == "f" and _isfinite(  # see common.all_finite
                partial.dot(partial) if partial.ndim == 1 else _vdot(partial, partial)):
            if type(tangent) is not _ARRAY:  # a storage format (DiagonalTangent) may scale rows in O(n)
                scale_rows = getattr(type(tangent), "scale_rows", None)  # its protocol (dualad.diagonal)
                scaled = scale_rows(tangent, partial) if scale_rows is not None else None
                if scaled is not None:
                    return scaled
            return (partial[..., None] if batched and partial.ndim else partial) * tangent
        if batched and partial.ndim:
            partial = partial[..., None]
    elif batched and _ndim(partial) > 0:
        partial = partial[..., None]
    if _all_finite(partial):
        return partial * tangent
    return chain_product(partial, tangent)  # the one 0 x inf convention (dualad.common)


# With a numpy float64 scalar among two scalar operands (scalar-style code), these
# operators run numpy's scalar math: the ufunc's result, dtype and RuntimeWarnings
# without the ufunc call's overhead (about 30 ns instead of 500 ns).
_SCALAR_OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
                     np.divide: operator.truediv, np.power: operator.pow}
_SCALAR_OPERANDS = (np.float64, float, int)
_FLOAT64 = np.dtype(np.float64)


def ufunc_call(ufunc, inputs: tuple) -> Any:
    """``ufunc(*inputs)`` with a Dual among the inputs: forward mode's elementwise kernel.

    What a Dual's operators, ``np.sin(x)`` and every Elementwise rule come to. The
    tangent is the sum over the Dual inputs of partial x tangent (the partials from the
    rule table, their product NaN-safe by :func:`_scale`). Two shortcuts run in front of
    the general path (:func:`_general`), as functions the callers reach directly, because
    in scalar-style loops (Lorenz-96, ``x[i] * x[j]``) they run once per operator, where
    every Python call and lookup counts:

    * one input (``np.sin(x)``, ``-x``): :func:`unary_call`, no broadcast to do;
    * two operands of ``+ - * / **``: the operator's own kernel (:func:`binary_kernel`),
      which a Dual's operators call without this function.
    """
    if len(inputs) == 2:
        kernel = BINARY_KERNELS.get(ufunc)
        if kernel is not None:
            return kernel(inputs[0], inputs[1])
        rule = TABLE.get(ufunc)
        if type(rule) is Linear:  # W @ x: a float64 array and a Dual of one (else None: the skeleton's way)
            result = _linear_pair(ufunc, rule, inputs[0], inputs[1])
            if result is not None:
                return result
    elif len(inputs) == 1 and type(inputs[0]) is Dual:
        return unary_call(ufunc, inputs[0])
    rule = TABLE.get(ufunc)
    if type(rule) is not Elementwise:
        return FORWARD.apply_ufunc(ufunc, "__call__", inputs, {})
    return _general(ufunc, rule, inputs, None)


def _linear_pair(ufunc, rule: Linear, a, b) -> Any:
    """``ufunc(a, b)`` for a Linear two-input ufunc (``W @ x``) of a float64 ndarray and a Dual whose
    value is one, or None for anything else (then the skeleton's general route runs).

    What :func:`apply_rule` does for these operands, without the skeleton's questions that they
    answer already: one Dual (no other level, no outer engine), plain ndarrays (no subclass, no
    complex values), no keywords, and a ufunc's result is a new array (never a view to register).
    """
    if type(b) is Dual and type(a) is _ARRAY:
        d, position = b, 1
    elif type(a) is Dual and type(b) is _ARRAY:
        d, position = a, 0
    else:
        return None
    value, t = d.value, d.tangent
    if type(value) is not _ARRAY or value.dtype is not _FLOAT64 or (a if position else b).dtype is not _FLOAT64:
        return None
    if type(t) is not _ARRAY and getattr(type(t), "dense", None) is None:  # (a nested Dual, a tape value)
        return None
    linear_map = rule.tangent.get(position)
    if linear_map is None:
        return None  # (the skeleton raises the rule's refusal)
    batched = t.ndim > value.ndim
    values = (a, value) if position else (value, b)
    out = ufunc(*values)
    tangent = linear_map(t if batched else t[..., None], *values)
    if tangent.dtype is not _FLOAT64:  # (as _wrap: the value's dtype)
        tangent = tangent.astype(_FLOAT64)
    return Dual._make(out, tangent if batched else tangent[..., 0], d.tag)


def binary_kernel(ufunc) -> Any:
    """``kernel(a, b)``: ``ufunc(a, b)`` (``a * b``...) with a Dual among the operands, for one of
    the scalar operators (``+ - * / **``); what a Dual's operators call.

    Scalar-style code (float64 Duals of one tag, or a Dual and a plain scalar) takes the
    short path: the tag read off the operands, numpy's scalar arithmetic for the value
    (``operator.mul``...: the ufunc's result, dtype and warnings, about 30 ns instead of
    500), no broadcast or dtype bookkeeping, which float64 scalars never need, and a finite
    scalar partial multiplying the tangent directly (no 0 x inf can arise). Anything else
    goes to :func:`_general`. One closure per ufunc, so the operator and the ufunc are bound
    once rather than looked up per call; the rule is read from the table at each call.
    """
    op = _SCALAR_OPERATORS[ufunc]

    def kernel(a, b):
        rule = TABLE.get(ufunc)
        if type(rule) is not Elementwise:
            return FORWARD.apply_ufunc(ufunc, "__call__", (a, b), {})
        scalar = False
        if type(a) is Dual:
            tag, va = a.tag, a.value
            if type(b) is Dual:
                vb = b.value
                scalar = b.tag == tag and type(va) is _F64 and type(vb) is _F64  # else mixed tags
            else:
                vb = b
                scalar = type(va) is _F64 and type(b) in _SCALAR_OPERANDS
        elif type(b) is Dual:
            tag, va, vb = b.tag, a, b.value
            scalar = type(vb) is _F64 and type(a) in _SCALAR_OPERANDS
        partial_a, partial_b = rule.partials
        if scalar and partial_a is not None and partial_b is not None:  # (else: the general path's error)
            out = op(va, vb)
            # unrolled over the two operands: a loop costs more than this arithmetic
            tangent = None
            if type(a) is Dual:
                t = a.tangent
                if partial_a is ONE:  # x + c: the tangent passed on without a call
                    tangent = t
                elif partial_a is NEG_ONE:
                    tangent = -t
                else:
                    try:  # the plain call: partial_at only if the caller's np.errstate trapped
                        p = partial_a(out, va, vb)
                    except FloatingPointError:
                        p = partial_at(partial_a, out, va, vb)
                    # a finite scalar partial cannot meet 0 x inf; anything else: the NaN-safe product
                    tangent = p * t if (type(p) is _F64 or type(p) is float) and _isfinite(p) \
                        else _scale(p, t, True)
                if type(b) is not Dual:
                    return Dual._make(out, tangent, tag)
            t = b.tangent
            if partial_b is ONE:
                c = t
            elif partial_b is NEG_ONE:  # x - y: one subtraction, not a negation and an addition
                return Dual._make(out, -t if tangent is None else tangent - t, tag)
            else:
                try:
                    p = partial_b(out, va, vb)
                except FloatingPointError:
                    p = partial_at(partial_b, out, va, vb)
                c = p * t if (type(p) is _F64 or type(p) is float) and _isfinite(p) \
                    else _scale(p, t, True)
            return Dual._make(out, c if tangent is None else tangent + c, tag)
        if type(a) is not type(b):  # one Dual and a constant (x + b, 2.0 * x): array code's short path
            result = _array_pair(ufunc, rule, a, b)
            if result is not None:
                return result
        return _general(ufunc, rule, (a, b), op)
    return kernel


def _array_pair(ufunc, rule: Elementwise, a, b) -> Any:
    """``ufunc(a, b)`` for one Dual of a float64 array (ndim >= 1) and a constant that does not widen
    it: a float64 array of its shape or of trailing part of it (a bias row), a Python float or int,
    or a float64 scalar; None for anything else (then :func:`_general` runs).

    What :func:`_general` does for these operands, without its questions that they answer already:
    one Dual (no other level), the result has the Dual's shape (no tangent to broadcast) and is
    float64 (no complex value, no cast).
    """
    if type(a) is Dual:
        d, c, position = a, b, 0
    elif type(b) is Dual:
        d, c, position = b, a, 1
    else:
        return None
    value = d.value
    if type(value) is not _ARRAY or value.dtype is not _FLOAT64 or not value.ndim:
        return None
    kind = type(c)
    if kind is _ARRAY:
        if c.dtype is not _FLOAT64 or (c.shape != value.shape and (
                c.ndim > value.ndim or c.shape != value.shape[value.ndim - c.ndim:])):
            return None
    elif kind is not float and kind is not _F64 and kind is not int:
        return None
    partial = rule.partials[position]
    if partial is None:
        return None  # (the general path raises the refusal)
    values = (c, value) if position else (value, c)
    out = ufunc(*values)
    t = d.tangent
    if partial is ONE:
        tangent = t
    elif partial is NEG_ONE:
        tangent = -t
    else:
        try:  # the plain call: partial_at only if the caller's np.errstate trapped (zero-cost try)
            p = partial(out, *values)
        except FloatingPointError:
            p = partial_at(partial, out, *values)
        tangent = _scale(p, t, t.ndim > value.ndim)
    return Dual._make(out, tangent, d.tag)


def _general(ufunc, rule: Elementwise, inputs: tuple, op) -> Any:
    """The elementwise kernel's general path: any number of inputs, arrays, broadcasting, nested
    tags, dtypes (``op``: the scalar operator of ``ufunc``, or None)."""
    tag = top_tag(inputs)
    if len(inputs) == 2:  # (two operands, the common case, without a comprehension's frame)
        a, b = inputs
        values = (a.value if type(a) is Dual and a.tag == tag else a,
                  b.value if type(b) is Dual and b.tag == tag else b)
    else:
        values = tuple([x.value if type(x) is Dual and x.tag == tag else x for x in inputs])
    if op is not None and ((type(values[0]) is np.float64 and type(values[1]) in _SCALAR_OPERANDS) or (
            type(values[1]) is np.float64 and type(values[0]) in _SCALAR_OPERANDS)):
        out = op(*values)  # a float64 scalar with a constant (mixed tags): numpy's scalar math
    else:
        try:
            out = ufunc(*values)
        except ConversionError:  # numpy read a list operand holding Duals (x + [x[1], 2.0]) as an array
            stacked = tuple(stack_nested(x) for x in inputs)
            if all(a is b for a, b in zip(stacked, inputs)):
                raise
            return ufunc_call(ufunc, stacked)  # as numpy reads it: one stacked operand, derivatives kept
    if type(out) is not np.float64:
        if getattr(out, "dtype", _FLOAT64).kind == "c":  # before a real partial meets a complex value
            return _complex_elementwise(ufunc, rule, inputs, tag, values, out)
        if type(out) is not _ARRAY and isinstance(out, _ARRAY):
            refuse_array_subclass(out, f"an operand of {_name(ufunc)}")  # np.matrix / masked constants
    partials = rule.partials
    tangent = proto = None
    for i, x in enumerate(inputs):
        if type(x) is not Dual:
            continue
        if x.tag != tag:  # a lower level's Dual: a constant here, if its call is still running
            lifetime.check_tag(x.tag, f"in {_name(ufunc)} with a Dual of a running call")
            continue
        proto = x
        partial = partials[i]
        t = x.tangent
        if partial is ONE:  # x + c, x - y: the tangent passed on without a call
            tangent = t if tangent is None else tangent + t
            continue
        if partial is NEG_ONE:  # one subtraction, not a negation and an addition
            tangent = -t if tangent is None else tangent - t
            continue
        if partial is None:
            raise unsupported(ufunc, f" with respect to argument {i}", inputs)
        try:  # the plain call: partial_at only if the caller's np.errstate trapped (zero-cost try)
            p = partial(out, *values)
        except FloatingPointError:
            p = partial_at(partial, out, *values)
        if (type(p) is np.float64 or type(p) is float) and math.isfinite(p):
            c = p * t  # a finite scalar partial: no 0 x inf can arise
        else:
            value = x.value  # (ndarray ranks read directly, as in the one-input branch)
            c = _scale(p, t, t.ndim > value.ndim if type(t) is _ARRAY and type(value) is _ARRAY
                       else _ndim(t) > _ndim(value))
        tangent = c if tangent is None else tangent + c
    if type(out) is np.float64 and (type(tangent) is np.float64 or (type(tangent) is _ARRAY and
                                                                     tangent.dtype == _FLOAT64)):
        return Dual._make(out, tangent, tag)  # a scalar result (scalar-style code): nothing to broadcast or cast
    if len(inputs) > 1:
        if type(out) is _ARRAY and type(tangent) is _ARRAY and type(proto.tangent) is _ARRAY \
                and type(proto.value) is _ARRAY:  # the attributes themselves (no calls)
            want, have = out.shape, tangent.shape
            batched = proto.tangent.ndim > proto.value.ndim
        else:
            want, have = _shape(out), _shape(tangent)
            batched = _ndim(proto.tangent) > _ndim(proto.value)
        if batched:  # directions last
            want = want + have[-1:]
        if have != want:  # an input broadcast against a larger one
            tangent = np.broadcast_to(tangent, want)
    dtype = out.dtype
    if dtype is _FLOAT64 and tangent.dtype is _FLOAT64:  # float64 in, float64 out: nothing to cast
        return Dual._make(out, tangent, tag)
    if tangent.dtype != dtype and dtype.kind == "f":
        if tangent.dtype.kind == "c":  # a real result of complex inputs (np.abs(z)): their own rule
            return _complex_elementwise(ufunc, rule, inputs, tag, values, out)
        tangent = tangent.astype(dtype)  # a float64 partial (tie weights) must not promote float32
    elif dtype.kind == "c":
        return _complex_elementwise(ufunc, rule, inputs, tag, values, out)
    return Dual._make(out, tangent, tag)




_F64 = np.float64  # (module globals: one lookup each on the per-operation paths)
_new_object = object.__new__
_isfinite = math.isfinite
_vdot = np.vdot
#: the operators' kernels, one per scalar operator (see :func:`binary_kernel`)
BINARY_KERNELS = {ufunc: binary_kernel(ufunc) for ufunc in _SCALAR_OPERATORS}


def unary_call(ufunc, x: Dual) -> Any:
    """``ufunc(x)`` for one Dual input (``np.sin(x)``, ``-x``): what ``Dual.__array_ufunc__`` calls directly.

    The one-input part of forward mode's elementwise kernel (:func:`ufunc_call`), a function of
    its own so that ``np.sin(x)`` reaches it without the two-operand guards: the tangent already
    has the result's shape, so there is nothing to broadcast.
    """
    rule = TABLE.get(ufunc)
    if type(rule) is not Elementwise:
        return FORWARD.apply_ufunc(ufunc, "__call__", (x,), {})
    value = x.value
    out = ufunc(value)
    partial = rule.partials[0]
    t = x.tangent
    if partial is ONE:
        tangent = t
    elif partial is NEG_ONE:
        tangent = -t
    elif partial is None:
        raise unsupported(ufunc, " with respect to argument 0", (x,))
    elif type(rule.complex) is tuple and out.dtype.kind != "c" and wirtinger.is_complex(value):
        # np.abs(z): a real result of a complex input, by its Wirtinger pair (the real partial is sign(x))
        return _complex_elementwise(ufunc, rule, (x,), x.tag, (value,), out)
    else:
        try:  # the plain call: partial_at only if the caller's np.errstate trapped (zero-cost try)
            p = partial(out, value)
        except FloatingPointError:
            p = partial_at(partial, out, value)
        tangent = None
        if type(p) is _ARRAY and type(value) is _ARRAY and p.dtype is _FLOAT64 and _isfinite(
                p.dot(p) if p.ndim == 1 else _vdot(p, p)):
            # array code's commonest case, _scale's first branch inline: a finite float64 partial
            # (p . p finite: see common.all_finite) times an array tangent, or a storage format's rows
            if type(t) is _ARRAY:  # batched (a trailing axis of directions): the partial broadcast over it
                tangent = (p[..., None] if t.ndim > value.ndim and p.ndim else p) * t
            else:
                scale_rows = getattr(type(t), "scale_rows", None)  # the storage-format protocol (dualad.diagonal)
                if scale_rows is not None:
                    tangent = scale_rows(t, p)
        if tangent is None:  # anything else: _scale's general cases (0 x inf by chain_product)
            # batched: the tangent carries a trailing axis of directions (ndarray ranks read
            # directly: two common.ndim calls cost more than the rest of this branch's bookkeeping)
            if type(t) is _ARRAY and type(value) is _ARRAY:
                tangent = _scale(p, t, t.ndim > value.ndim)
            else:
                tangent = _scale(p, t, _ndim(t) > _ndim(value))
    dtype = out.dtype
    if dtype is _FLOAT64 and tangent.dtype is _FLOAT64:  # float64 in, float64 out: nothing to cast
        result = _new_object(Dual)  # (Dual._make inline: one call fewer per operation)
        result.value = out
        result.tangent = tangent
        result.tag = x.tag
        return result
    if tangent.dtype != dtype and dtype.kind == "f":
        if tangent.dtype.kind == "c":  # a real result of a complex input: its own rule
            return _complex_elementwise(ufunc, rule, (x,), x.tag, (value,), out)
        tangent = tangent.astype(dtype)  # a float64 partial must not promote float32
    elif dtype.kind == "c":
        return _complex_elementwise(ufunc, rule, (x,), x.tag, (value,), out)
    return Dual._make(out, tangent, x.tag)


def _complex_elementwise(ufunc, rule: Elementwise, inputs, tag, values, out):
    """``ufunc`` where complex numbers are involved: the rule's complex form (dualad.wirtinger) or its refusal."""
    tangents = []
    batched = False
    for x in inputs:
        if isinstance(x, Dual) and x.tag == tag:
            t = x.tangent
            batched = _ndim(t) > _ndim(x.value)
            d = _dense(t)  # a storage format (DiagonalTangent) as its dense array
            tangents.append(t if d is None else d)
        else:
            tangents.append(None)
    return Dual._make(out, wirtinger.elementwise_tangent(ufunc, rule, out, values, tangents, batched), tag)


def _zero_tangent_like(out, proto: Dual, batched: bool):
    shape = out.shape if isinstance(out, Dual) else np.shape(out)
    k = proto.tangent.shape[-1:] if batched else ()
    dtype = np.asarray(_primal(out)).dtype
    return np.zeros(shape + k, dtype=dtype if dtype.kind in "fc" else np.float64)


def _zero_derivative(func, rule, args, kwargs, tag):
    """``func`` on the values at ``tag``, with a zero tangent (ZeroDerivative entries)."""
    proto = _first(args, tag)
    values = [x.value if isinstance(x, Dual) and x.tag == tag else x for x in args]
    out = func(*values, **kwargs)
    return Dual._make(out, _zero_tangent_like(out, proto, _is_batched(proto)), tag)


def _wrap(out, tangent, tag, batched, func=None, args=()):
    if isinstance(out, tuple):  # several outputs (slogdet): constants where the rule gave no tangent
        items = [o if t is None else _wrap(o, t, tag, batched, func, args) for o, t in zip(out, tangent)]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    if tangent is None:
        return out
    dtype = getattr(out, "dtype", None)
    if dtype is not None and dtype.kind == "f" and tangent.dtype != dtype:
        if tangent.dtype.kind == "c":  # a real result of complex arguments (np.real(z), svd's s)
            if not _complex_ready(func):
                raise wirtinger.refuse(func, args)
            tangent = wirtinger.real_part_for(out, tangent)
        else:
            tangent = tangent.astype(dtype)  # float64 weights (ties) must not promote a float32 value
    elif dtype is not None and dtype.kind == "c" and not _complex_ready(func):
        raise wirtinger.refuse(func, args)
    return Dual._make(out, tangent if batched else tangent[..., 0], tag)


def _complex_ready(func) -> bool:
    """True when ``func``'s entry holds for complex values (``complex=True``: dualad.ops.complex)."""
    return getattr(TABLE.get(func), "complex", False) is True


def apply_rule(func, rule, args, kwargs, tag) -> Any:
    """Evaluate a Linear or Custom rule on Dual arguments at ``tag`` (keywords vetted by the skeleton)."""
    batched = _is_batched(_first(args, tag))
    split = [_split(a, tag, batched) for a in args]
    values = [s[0] for s in split]
    tangents = [s[1] for s in split]
    out = func(*values, **kwargs)
    if type(rule) is Custom:
        tangent = rule.jvp(out, values, kwargs, tangents)
    else:
        tangent = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            linear_map = rule.tangent.get(i)
            if linear_map is None:
                raise unsupported(func, f" with respect to argument {i}", args)
            c = linear_map(t, *values, **kwargs)
            tangent = c if tangent is None else tangent + c
    result = _wrap(out, tangent, tag, batched, func, args)
    if type(result) is Dual and (type(out) is _ARRAY or isinstance(out, ArrayLike)):
        # (a value with layers of its own, a Dual or a tape value: its plain array decides)
        plain = out if type(out) is _ARRAY else _primal(out)
        # a view (base set), or the input itself (np.atleast_1d returns it)
        if type(plain) is _ARRAY and (plain.base is not None or (values and _primal(values[0]) is plain)):
            _note_views(result, func, args, kwargs, tag)  # reshape, transpose, ravel...: numpy's views
    return result


class ForwardMode(Interpreter):
    """Forward mode's part of the dispatch skeleton (:mod:`dualad.interpret`): Duals carry tangents."""

    value_type = Dual
    noun = "a Dual"
    out_remedy = "leave out= away, or pass a Dual buffer made by dualad.zeros_like(x)"

    no_level = -1
    top = staticmethod(top_tag)  # the highest tag, -1 without a Dual

    def elementwise(self, ufunc, rule, args, kwargs, tag) -> Any:
        return ufunc_call(ufunc, args)  # the one kernel (it finds the rule and the tag again)

    # the engine's functions are the hooks themselves: (func, rule, args, kwargs, tag)
    rule = staticmethod(apply_rule)
    zero = staticmethod(_zero_derivative)

    def assign(self, target, result) -> None:
        assign(target, result)


FORWARD = ForwardMode()


_SEQUENCES = (list, tuple)  # np.multiply([0.2, 0.3], x): a list operand is numpy's array_like

def apply_ufunc(ufunc, method, inputs, kwargs) -> Any:
    """What ``Dual.__array_ufunc__`` does: a plain call by the kernel at once, the rest by the skeleton."""
    if method == "__call__" and not kwargs:  # the common case (np.sin(x), W @ x + b): no out= to manage
        if len(inputs) == 2 and (type(inputs[0]) in _SEQUENCES or type(inputs[1]) in _SEQUENCES):
            inputs = tuple(sequence_operand(a) if type(a) in _SEQUENCES else a for a in inputs)  # numpy's array_like
        return ufunc_call(ufunc, inputs)
    return FORWARD.apply_ufunc(ufunc, method, inputs, kwargs)


#: what ``Dual.__array_function__`` does
apply_function = FORWARD.apply_function

_STACK = np.stack


def stack_scalars(arrays) -> Any:
    """``np.stack(arrays)`` for a list of float64 scalar Duals of one tag (scalar-style code,
    ``np.stack([x[0] * x[1], ...])``), or None for anything else (then the composite runs).

    The composite would reshape every scalar to shape (1,) through the dispatch and
    concatenate: about 30 us for ten scalars, where the arrays of values and tangents
    are two ``np.array`` calls. The result is the composite's exactly (a new array, no
    views; mixed tags, constants, storage formats and nested Duals take the composite).
    """
    if type(arrays) is not list and type(arrays) is not tuple or not arrays:
        return None
    first = arrays[0]
    if type(first) is not Dual:
        return None
    tag = first.tag
    t0 = first.tangent
    tangent_type = type(t0)
    if tangent_type is _ARRAY:
        row_shape = t0.shape
    elif tangent_type is not np.float64:
        return None
    values, tangents = [], []
    for a in arrays:
        if type(a) is not Dual or a.tag != tag:
            return None
        value, t = a.value, a.tangent
        if type(value) is not np.float64 or type(t) is not tangent_type or (
                tangent_type is _ARRAY and t.shape != row_shape):
            return None
        values.append(value)
        tangents.append(t)
    note_composite(_STACK)  # what the composite would report to an active decision log
    tangent = np.array(tangents)
    if tangent.dtype != _FLOAT64:
        tangent = tangent.astype(_FLOAT64)  # as the composite's result: the value's dtype
    return Dual._make(np.array(values), tangent, tag)


# ----------------------------------------------------------------------------- indexing
def _check_key(key):
    if isinstance(key, Dual) or (isinstance(key, tuple) and any(isinstance(k, Dual) for k in key)):
        raise ConversionError("indexing with a Dual would drop its derivative; remedy: index with "
                              "integers computed from dual.value")


_GETITEM_TANGENT = _GETITEM.tangent[0]
_ARRAY = np.ndarray  # one global lookup instead of two in the per-index checks


def getitem(d: Dual, key):
    t, value = d.tangent, d.value
    if type(key) is int and type(t) is _ARRAY and type(value) is _ARRAY and t.ndim > value.ndim == 1:
        # x[i] on a batched 1-D Dual (scalar-style loops): a scalar, never a view; none of the checks
        # below, and the getitem rule's tangent for an int key (t[key]: rules._getitem_tangent) inline,
        # since a call here is a measurable share of each element's cost
        return Dual._make(value[key], t[key], d.tag)
    _check_key(key)
    if type(key) is not int and type(key) is not slice:
        note_index(key)  # index arrays are value-dependent decisions (recorded only while a log is active)
    if type(t) is not _ARRAY and type(t) is not Dual:
        dense = _dense(t)  # a storage format (DiagonalTangent): indexing couples its entries, go dense once
        if dense is not None:
            t = d.tangent = dense
    out = value[key]
    if _ndim(t) > _ndim(value):  # batched: the rule's layout already
        result = Dual._make(out, _GETITEM_TANGENT(t, value, key), d.tag)
    else:
        result = Dual._make(out, _GETITEM_TANGENT(t[..., None], value, key)[..., 0], d.tag)
    if type(out) is _ARRAY:  # a slice of an array value is numpy's view of it
        if out.base is not None:
            aliasing.note_view(result, d, _GETITEM_FUNC, (d, key), None, 0, out, value)
    elif isinstance(out, ArrayLike):  # a nested value (a Dual or a tape value): its plain array decides
        plain = _primal(out)
        if type(plain) is _ARRAY and plain.base is not None:
            aliasing.note_view(result, d, _GETITEM_FUNC, (d, key), None, 0, plain, _primal(value))
    return result


def _note_views(result, func, args, kwargs, tag):
    """Register ``result`` as a view of the argument whose array numpy's result is a view of."""
    plain = _primal(result)
    if type(plain) is not _ARRAY:
        return
    for pos, a in enumerate(args):
        if type(a) is Dual and a.tag == tag and aliasing.note_view(result, a, func, tuple(args), kwargs, pos,
                                                                   plain, _primal(a.value)):
            return


def _own(a):
    """``a`` if nobody else holds it (so it may be written in place), else a private copy.

    Duals share arrays freely (``x + 0`` passes the tangent on; a copy of a Dual shares
    both), so a write first makes sure the arrays it changes are this Dual's alone:
    an array that is not a view and is referenced only from the Dual's slot (the
    reference count says so exactly) is written in place; anything else is copied.
    """
    if type(a) is _ARRAY:
        if a.base is None and a.flags.writeable and sys.getrefcount(a) <= _OWN_REFS:
            return a
        return a.copy(order="K")  # keep the memory layout: later views/copies decide as numpy's would
    dense = _dense(a) if type(a) is not Dual else None
    if dense is not None:  # a storage format (DiagonalTangent): a dense array of our own
        return np.array(dense)
    if type(a) is Dual:
        if sys.getrefcount(a) <= _OWN_REFS:
            return a
        return Dual._make(a.value, a.tangent, a.tag)  # its own object; its arrays are copied when written
    if isinstance(a, ArrayLike):  # a tape value under a Dual (forward over reverse): copied on its tape
        return np.copy(a)
    return np.array(a, copy=True)


def _probe_refs() -> int:
    holder = Dual._make(np.zeros(1), np.zeros(1), 0)

    def count(a):
        return sys.getrefcount(a)
    return count(holder.value)


_OWN_REFS = _probe_refs()  # references to an array held only by a Dual slot, seen inside _own


def _lift(d: Dual, tag: int, proto: Dual):
    """Make ``d`` (a Dual of a lower tag, or its constant part) a Dual at ``tag`` with zero tangent."""
    batched = _is_batched(proto)
    k = proto.tangent.shape[-1:] if batched else ()
    inner = Dual._make(d.value, d.tangent, d.tag)
    dtype = np.asarray(_primal(d)).dtype
    d.value, d.tangent, d.tag = inner, np.zeros(d.shape + k, dtype=dtype), tag


def _check_live(item, d: Dual):
    if type(item) is Dual and item.tag != d.tag:
        lifetime.check_tag(item.tag, "as the value written into a Dual")
        lifetime.check_tag(d.tag, "as the buffer written into")


def setitem(d: Dual, key, item):
    """``d[key] = item``, updating value and tangent together, with numpy's view semantics."""
    _check_key(key)
    note_index(key)
    aliasing.write(d, key, stack_nested(item), _setitem, np.copy)


def _read_only(value) -> bool:
    """True for a read-only array value (np.broadcast_to's result): numpy refuses writes into it."""
    return type(value) is _ARRAY and not value.flags.writeable


READ_ONLY = ("assignment destination is read-only (numpy returns a read-only array here: np.broadcast_to, "
              "np.diagonal...); remedy: write into a copy (np.copy(...) or x.copy())")


def _setitem(d: Dual, key, item):
    if _read_only(d.value):
        raise ValueError(READ_ONLY)
    _check_live(item, d)
    if isinstance(item, Dual) and item.tag > d.tag:
        _lift(d, item.tag, item)
    d.value = _own(d.value)
    d.tangent = _own(d.tangent)
    batched = _is_batched(d)
    value = item.value if isinstance(item, Dual) and item.tag == d.tag else item
    if isinstance(value, Dual) and not isinstance(d.value, Dual):
        # the incoming value carries an outer derivative: give ours the same layer (zero tangent)
        d.value = Dual._make(d.value, np.zeros(d.value.shape + np.shape(_primal(value.tangent))[value.ndim:],
                                               d.value.dtype), value.tag)
    elif isinstance(value, ArrayLike) and not isinstance(d.value, ArrayLike):
        # the incoming value is a tape value (reverse over forward): ours joins its tape as a constant
        d.value = np.zeros_like(value, shape=np.shape(d.value)) + d.value
    if isinstance(item, Dual) and item.tag == d.tag:
        if isinstance(item.tangent, ArrayLike) and not isinstance(item.tangent, Dual) and \
                not isinstance(d.tangent, ArrayLike):
            d.tangent = np.zeros_like(item.tangent, shape=np.shape(d.tangent)) + d.tangent
        if isinstance(item.tangent, Dual) and not isinstance(d.tangent, Dual):
            # the incoming tangent carries an outer derivative: give ours the same layer
            d.tangent = Dual._make(d.tangent, np.zeros(d.tangent.shape + item.tangent.tangent.shape[
                item.tangent.ndim:], d.tangent.dtype), item.tangent.tag)
        d.value[key] = item.value
        t = item.tangent
        value = d.value
        if (value.dtype.kind == "c" if type(value) is _ARRAY else _is_complex(value)) and _is_complex(t) \
                and not _is_complex(d.tangent):
            # a complex value may carry a real tangent (x + 0j: real directions stay real); a complex
            # tangent written into it needs complex storage, or numpy drops its imaginary part
            d.tangent = _to_complex(d.tangent)
    else:
        d.value[key] = item
        t = None
    target = d.tangent if batched else d.tangent[..., None]
    if t is not None and not batched and not hasattr(t, "ndim"):
        t = np.asarray(t)  # a Python number (a 0-d tangent made by scalar arithmetic): index it as an array
    setitem_tangent(target, key, None if t is None else (t if batched else t[..., None]))


def _is_complex(a) -> bool:
    return np.asarray(_primal(a)).dtype.kind == "c"


def _to_complex(a):
    """``a`` (a tangent: an array, or a Dual or tape value carrying an outer derivative) as complex."""
    if type(a) is _ARRAY:
        return a.astype(np.result_type(a.dtype, np.complex64))
    if type(a) is Dual:
        return Dual._make(_to_complex(a.value), _to_complex(a.tangent), a.tag)
    return a + np.zeros((), np.result_type(np.asarray(_primal(a)).dtype, np.complex64))  # a tape value


def assign(target: Dual, result):
    """Make ``target`` hold ``result`` (for ``+=`` and ``out=``), as numpy's in-place write would.

    A target in a group of views is written through its root (every view sees it);
    otherwise it takes the result's arrays (never writing into arrays others may hold).
    """
    if aliasing.alias_of(target) is not None:
        aliasing.write(target, Ellipsis, result, _setitem, np.copy)
        return
    if not isinstance(result, Dual):  # a constant written into a Dual: zero tangent there
        _setitem(target, Ellipsis, result)
        return
    if result.tag != target.tag:
        _check_live(result, target)
    target.value, target.tangent, target.tag = result.value, result.tangent, result.tag
