"""``Var``: a value being recorded on a tape, usable wherever numpy expects an array.

numpy hands every ufunc and array function called on a Var to this module
(NEP 13 and NEP 18). One dict lookup in the rule table says what to do:

- Elementwise, Linear, Custom: run the function on the values and append a
  node to the tape (the backward step is read from the same rule later);
- Composite: run its numpy implementation, which comes back here primitive
  by primitive;
- ZeroDerivative: the result is a constant node (a buffer you can fill);
- NoDerivative: a plain result.

Values may themselves be differentiable (``Dual`` numbers, or values of an
outer tape): that is how forward-over-reverse (``dualad.hvp``) works. Each tape
has a tag from the Dual tag counter; in an operation the highest-tagged
differentiable value is the variable and lower ones are constants.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import aliasing, dispatch, lifetime
from ..arraylike import OPERANDS, ArrayLike, install_operators, primal as _primal, sequence_operand
from ..buffers import zeros_like
from ..common import unsupported
from ..decisions import note_index, note_piecewise_constant
from ..dual import Dual
from ..errors import ConversionError
from ..interpret import Interpreter
from ..keywords import stack_nested
from ..rules import SETITEM, TABLE, Custom, Elementwise, Linear
from ..subclasses import refuse_array_subclass
from .graph import Node, Output, Tape, value_shape

__all__ = ["Var"]

_OPERANDS = OPERANDS + (Dual,)


class Var(ArrayLike):
    """A value recorded on a :class:`~dualad.tape.Tape`; made by the tape functions, not by hand.

    ``value`` is the plain result (or a Dual in mixed mode), ``node`` the
    tape entry that produced it. Operators, numpy functions, indexing and
    ``v[key] = item`` all record; comparisons and ``bool()`` act on values.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.grad(lambda v: np.sum(np.sin(v) * v), np.array([0.0, 1.0]))
    array([0.        , 1.38177329])
    """

    # alias: set only for roots and views (dualad.aliasing); __weakref__: a root's group finds its views
    __slots__ = ("value", "node", "tape", "alias", "__weakref__")
    _noun = "a tape value"
    _short = "value"
    _escape = "use tape.stop_gradient(v) if the value really is a constant"

    def __init__(self, value, node: Node, tape: Tape):
        self.value = value
        self.node = node
        self.tape = tape

    # ----------------------------------------------------------------- array-like
    @property
    def shape(self) -> tuple:
        return value_shape(self.value)

    def __repr__(self) -> str:
        return f"Var({self.value!r}, node={self.node.label})"

    def astype(self, dtype, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> "Var":
        dt, itself = self.astype_arguments(dtype, order, casting, subok, copy)
        if itself:
            return self
        if dt.kind not in "fc" or (dt.kind == "f" and self.dtype.kind == "c") or dt.itemsize < self.dtype.itemsize:
            raise ConversionError(
                f"astype({dt}) on a tape value of dtype {self.dtype} is not supported (it would drop or round "
                "the derivative); remedy: keep the float dtype, or cast the input before differentiating")
        return self + np.zeros((), dt)  # promotion by an exact zero: same values, derivative 1

    # ----------------------------------------------------------------- numpy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())) if kwargs else inputs:
            if not isinstance(x, _VAR_OPERANDS):
                return NotImplemented
        return apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not issubclass(t, (Var, Dual, np.ndarray)):
                return NotImplemented
        return apply_function(func, args, kwargs)

    # ----------------------------------------------------------------- indexing
    def __getitem__(self, key):
        if type(key) is int or type(key) is slice:
            # x[i], x[a:b]: a key with nothing to vet, note or protect (copy-on-record is for
            # arrays), so the node is pushed here as record() would push it, without its argument
            # split and checks (the per-element path of scalar-style code and of parameter slicing)
            tape, value = self.tape, self.value
            out = value[key]
            result = Var(out, tape.push(_GETITEM, _GETITEM_RULE, (value, key), {}, ((0, None, self.node),), out),
                         tape)
            kind = type(out)
            if kind is _F64:  # x[i] of a 1-D array: a number, never a view
                return result
            if kind is _ARRAY and type(value) is _ARRAY:  # plain arrays: numpy's base says view or not
                if out.base is not None:
                    pending = tape.pending_views
                    pending.append((result, out, _GETITEM, (self, key), None))
                    if len(pending) > PENDING_VIEWS_MAX:
                        note_pending_views(tape)
                return result
            # (values with layers, forward over reverse: the general test below)
        else:
            _check_key(key)
            note_index(key)  # index arrays are value-dependent decisions (recorded only while a log is active)
            # a plain key: this Var is the variable, so record at once (what call() would conclude)
            result = record(_GETITEM, _GETITEM_RULE, (self, key), {}, self.tape)
        plain = result.value
        if type(plain) is not _ARRAY:  # a scalar, or a Dual value (forward over reverse)
            plain = _primal(plain)
            if type(plain) is not _ARRAY:
                return result
        if plain.base is not None:  # else a copy (fancy indexing): not a view
            pending = result.tape.pending_views
            pending.append((result, plain, _GETITEM, (self, key), None))
            if len(pending) > PENDING_VIEWS_MAX:
                note_pending_views(result.tape)
        return result

    def __setitem__(self, key, item):
        setitem(self, key, item)

    def _assign(self, result) -> None:
        """Make this Var hold ``result`` (for ``+=`` and ``out=``), as numpy's in-place write would.

        A Var in a group of views is written through its root (every view sees it).
        The old value is never written to: nodes that read it keep it intact.
        """
        if self.tape.pending_views:
            note_pending_views(self.tape)
        if aliasing.alias_of(self) is not None:
            aliasing.write(self, Ellipsis, result, _raw_setitem, np.copy)
            return
        self._replace(result)

    def _replace(self, result) -> None:
        if isinstance(result, Var) and result.tape is self.tape:
            self.value, self.node = result.value, result.node
        else:  # a constant (or a value of an outer level) now lives in this Var
            check_alive(result, "as the value assigned into a tape value")
            self.node = self.tape.push(constant, None, (result,), {}, (), result, name=self.node.name)
            self.value = result

    # ----------------------------------------------------------------- aliasing (dualad.aliasing)
    def _release(self) -> None:
        """Nothing to drop: a Var's value is never written in place."""

    def _become(self, other: "Var") -> None:
        """Take ``other``'s value, node and tape (a view derived again from its root)."""
        self.value, self.node, self.tape = other.value, other.node, other.tape

    def __copy__(self) -> "Var":
        return Var(self.value, self.node, self.tape)  # values are never written in place: sharing is safe

    def __deepcopy__(self, memo) -> "Var":
        return Var(self.value, self.node, self.tape)


_VAR_OPERANDS = (Var,) + _OPERANDS
_ARRAY = np.ndarray  # module globals: one lookup on the per-operation paths, not a global and an attribute
_F64 = np.float64
_GETITEM = operator.getitem
_GETITEM_RULE = TABLE[operator.getitem]
_PLAIN_ITEMS = frozenset({int, float})  # items of a list or tuple argument with nothing to record or protect


def constant(value):
    """The op of a node holding a constant (what a Var was assigned from outside the tape)."""
    return value


# --------------------------------------------------------------------------- which level is the variable
def top_tape(objs) -> Tape | None:
    """The tape of the highest-tagged Var in ``objs`` (one level into lists), or None."""
    best = None
    for x in objs:
        if isinstance(x, Var):
            if best is None or x.tape.tag > best.tag:
                best = x.tape
        elif isinstance(x, (list, tuple)):
            t = top_tape(x)
            if t is not None and (best is None or t.tag > best.tag):
                best = t
    return best


def _levels(objs) -> tuple:
    """``(top_tape(objs), dispatch.top_tag(objs))`` in one pass: the recording path's first question."""
    tape, tag = None, -1
    for x in objs:
        if isinstance(x, Var):
            if tape is None or x.tape.tag > tape.tag:
                tape = x.tape
        elif isinstance(x, Dual):
            if x.tag > tag:
                tag = x.tag
        elif isinstance(x, (list, tuple)):
            t, d = _levels(x)
            if t is not None and (tape is None or t.tag > tape.tag):
                tape = t
            if d > tag:
                tag = d
    return tape, tag


def top_level(objs) -> Any:
    """The level a call on ``objs`` belongs to: the tape of the highest-tagged Var (one level
    into lists), forward mode's interpreter when a Dual outranks every Var (Vars are then its
    constants), or None when no Var is there. What the skeleton's ``top`` hook and the
    operators ask first, written as one flat loop (a call per operation on the hot path)."""
    tape, tag = None, -1
    for x in objs:
        t = type(x)
        if t is Var:
            if tape is None or x.tape.tag > tape.tag:
                tape = x.tape
        elif t is Dual:
            if x.tag > tag:
                tag = x.tag
        elif t is not _ARRAY and isinstance(x, (list, tuple)):
            for y in x:
                if isinstance(y, (ArrayLike, list, tuple)):
                    break
            else:
                continue  # only plain entries (a shape, a list of numbers): nothing to find
            tape, tag = _levels(objs)  # values inside a list: the full search
            break
    if tape is None:
        return None
    return dispatch.FORWARD if tag > tape.tag else tape


def _check_key(key):
    parts = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, (Var, Dual)) for k in parts):
        raise ConversionError("indexing with a differentiable value would drop its derivative; remedy: index "
                              "with integers computed from tape.stop_gradient(v)")


# --------------------------------------------------------------------------- recording
#: views waiting for registration on one tape: past this many they are registered (weakly: a
#: view nobody holds is then freed), so a long loop of x[i] rows keeps no list of all of them
PENDING_VIEWS_MAX = 1024


def note_pending_views(tape: Tape) -> None:
    """Register the views made on ``tape`` since the last write (:mod:`dualad.aliasing`).

    Why deferred: most programs make views (``theta[a:b].reshape(...)``) and never write
    into anything, and a view's registration costs a few times the rest of its node.
    Nothing reads a Var's alias record except a write into a Var of the same tape, and
    every such write (``_assign``, :func:`setitem`) calls this first; so the views are
    registered in the order they were made, from the values they were made of (no
    Var's value changes until a write), exactly as if each had been registered at once.
    """
    pending, tape.pending_views = tape.pending_views, []
    for result, plain, func, args, kwargs in pending:
        _note_views(result, plain, func, args, kwargs, tape)


def _note_views(result, plain, func, args, kwargs, tape):
    """Register ``result`` (whose plain array is ``plain``) as a view of the argument whose array
    numpy's result is a view of."""
    for pos, a in enumerate(args):
        if type(a) is Var and a.tape is tape and aliasing.note_view(
                result, a, func, tuple(args), kwargs, pos, plain,
                a.value if type(a.value) is _ARRAY else _primal(a.value)):
            return


def _constant(a):
    """A recorded constant the caller cannot change behind the tape's back (copy-on-record).

    The backward sweep reads constants (``x * buf``, ``W @ x``) long after they were
    recorded, and numpy has no version counter to tell whether f (or its caller)
    wrote into them meanwhile: a work buffer reused in a loop would silently give
    a wrong gradient. So a writable array (or a read-only view of one) is copied
    when it is recorded; a read-only array that owns its memory is kept as is, so
    ``W.flags.writeable = False`` skips the copy of a large constant. A Dual
    constant (forward over reverse) is held in an object of the tape's own.
    """
    if type(a) is _ARRAY:
        if a.flags.writeable or (a.base is not None and not _frozen(a)):
            return a.copy()  # (inside lists; top-level arrays go through _recorded_array)
        return a
    if type(a) is Dual:
        lifetime.check_tag(a.tag, "as a constant on a tape")
        return Dual._make(a.value, a.tangent, a.tag)  # its slots cannot be rebound by a later write
    if isinstance(a, np.ndarray):
        return np.array(a)
    return a


_SMALL = 64  # entries: below this a repeated constant is simply copied again (cheaper than comparing)


def _recorded_array(a: np.ndarray, tape: Tape) -> np.ndarray:
    """A copy of the writable constant ``a`` for ``tape`` (see :func:`_constant`).

    The same array recorded again (a matrix used at every step of a loop) shares one copy
    while its contents are unchanged, so memory grows with the distinct contents, not the uses.
    """
    if a.size <= _SMALL:
        return a.copy()
    copies = tape.__dict__.setdefault("constant_copies", {})
    held = copies.get(id(a))
    if held is not None and held[0] is a and held[1].shape == a.shape and np.array_equal(held[1], a):
        return held[1]
    copy = a.copy()
    copies[id(a)] = (a, copy)  # holding a keeps its id from being reused by another array
    return copy


def _frozen(a) -> bool:
    base = a.base
    return isinstance(base, np.ndarray) and not base.flags.writeable and base.base is None


def _split(args, tape: Tape):
    """The argument values (this tape's Vars replaced by their values, constants protected by
    :func:`_constant`) and the recorded inputs."""
    values, inputs = [], []
    for pos, a in enumerate(args):
        kind = type(a)
        if kind is Var:
            if a.tape is tape:
                values.append(a.value)
                inputs.append((pos, None, a.node))
            else:
                values.append(a)
        elif kind is float or kind is int:  # a Python number: immutable, nothing to protect or look into
            values.append(a)
        elif (kind is tuple or kind is list) and set(map(type, a)) <= _PLAIN_ITEMS:  # a shape, axes: nothing inside
            values.append(a)
        elif isinstance(a, (list, tuple)) and top_tape(a) is tape:
            items = []
            for sub, b in enumerate(a):
                if isinstance(b, Var) and b.tape is tape:
                    items.append(b.value)
                    inputs.append((pos, sub, b.node))
                else:
                    items.append(_constant(b))
            values.append(type(a)(items))
        elif type(a) is _ARRAY:
            values.append(_recorded_array(a, tape) if a.flags.writeable or (a.base is not None and not _frozen(a))
                          else a)
        elif type(a) is Dual:
            values.append(_constant(a))
        else:
            if isinstance(a, np.ndarray):
                refuse_array_subclass(a, "a constant")  # np.matrix / masked arrays
            values.append(a)
    return tuple(values), tuple(inputs)


def check_alive(x, where: str) -> None:
    """Raise :class:`~dualad.errors.LifetimeError` if ``x`` (a Var or Dual, any depth) outlived its call."""
    while isinstance(x, (Var, Dual)):
        if type(x) is Var:
            if x.tape.closed is not None:
                raise lifetime.escaped("a tape value", x.tape.closed, where)
        else:
            lifetime.check_tag(x.tag, where)
        x = x.value


def _check_differentiable(func, rule, inputs):
    """Refuse at once (not later, in backward) an argument the rule cannot differentiate."""
    kind = type(rule)
    if kind is Elementwise:
        for pos, _, _ in inputs:
            if rule.partials[pos] is None:
                raise unsupported(func, f" with respect to argument {pos}")
    elif kind is Linear:
        for pos, _, _ in inputs:
            if pos not in rule.transpose:
                raise unsupported(func, f" with respect to argument {pos}")


def record(func, rule, args, kwargs, tape: Tape):
    """Run ``func`` on the values and append one node; the result is a Var (a tuple of Vars)."""
    values, inputs = _split(args, tape)
    if type(rule) is Elementwise:  # _check_differentiable's commonest case inline (a call per operation)
        partials = rule.partials
        for pos, sub, _ in inputs:
            if sub is not None:  # a list operand holding tape values (x + [v, 2.0]): numpy reads it as an array
                return record(func, rule, tuple(stack_nested(a) for a in args), kwargs, tape)
            if partials[pos] is None:
                raise unsupported(func, f" with respect to argument {pos}")
    else:
        _check_differentiable(func, rule, inputs)
    try:
        out = func(*values, **kwargs)
    except ConversionError:  # a nested list operand holding tape values ([[v], [w]] * x): one array to numpy
        stacked = tuple(stack_nested(a) for a in args) if type(rule) is Elementwise else args
        if all(a is b for a, b in zip(stacked, args)):
            raise
        return record(func, rule, stacked, kwargs, tape)
    node = tape.push(func, rule, values, kwargs, inputs, out)
    if type(rule) is Linear and func is not _GETITEM and (type(out) is _ARRAY or isinstance(out, ArrayLike)):
        plain = out if type(out) is _ARRAY else _primal(out)
        # a view (base set), or the input itself (np.atleast_1d returns it)
        if type(plain) is _ARRAY and (plain.base is not None or (values and (
                values[0] if type(values[0]) is _ARRAY else _primal(values[0])) is plain)):
            result = Var(out, node, tape)
            pending = tape.pending_views  # reshape, transpose, ravel...: numpy's views
            pending.append((result, plain, func, args, kwargs))
            if len(pending) > PENDING_VIEWS_MAX:
                note_pending_views(tape)
            return result
    if isinstance(out, tuple):  # several outputs (slogdet): one projection node each
        items = []
        for i, o in enumerate(out):
            pick = Output(i)
            items.append(Var(o, tape.push(pick, pick, (out,), {}, ((0, None, node),), o), tape))
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)
    return Var(out, node, tape)


class Recording(Interpreter):
    """The tape's part of the dispatch skeleton (:mod:`dualad.interpret`): each call appends a node."""

    value_type = Var
    noun = "a tape value"
    mode = " (reverse mode)"

    top = staticmethod(top_level)
    # recording is the hook itself: (func, rule, args, kwargs, tape)
    elementwise = rule = staticmethod(record)

    def zero(self, func, rule, args, kwargs, tape) -> Any:
        values, inputs = _split(args, tape)
        out = func(*values, **kwargs)
        node = tape.push(func, rule, values, kwargs, (), out)
        if inputs:  # no derivative flows, but a replay (dualad.replay) must recompute it from these
            note_piecewise_constant(node, inputs)
        return Var(out, node, tape)

    def assign(self, target, result) -> None:
        target._assign(result)


RECORDING = Recording()

#: ``func(*args, **kwargs)`` with Vars among ``args``, by the function's rule kind
call = RECORDING.call
#: what ``Var.__array_function__`` does
apply_function = RECORDING.apply_function


def ufunc_call(ufunc, inputs: tuple) -> Any:
    """``ufunc(*inputs)`` with a Var among the inputs and no keywords: the operators' fast path."""
    tape = top_level(inputs)
    if tape is None:  # a Var only in out= (np.sin(a, out=v))
        return call(ufunc, inputs, {})
    if tape is dispatch.FORWARD:  # a Dual outranks every Var: forward mode's call
        return dispatch.apply_ufunc(ufunc, "__call__", inputs, {})
    rule = TABLE.get(ufunc)
    kind = type(rule)
    if kind is Elementwise or kind is Linear or kind is Custom:  # what call() would do, minus its checks
        return record(ufunc, rule, inputs, {}, tape)
    return call(ufunc, inputs, {})


_SEQUENCES = (list, tuple)  # np.multiply([0.2, 0.3], x): a list operand is numpy's array_like

def apply_ufunc(ufunc, method, inputs, kwargs) -> Any:
    """What ``Var.__array_ufunc__`` does: a plain call records at once, the rest by the skeleton."""
    if method == "__call__" and not kwargs:  # np.sin(v), np.add(v, w): no out= to handle
        if len(inputs) == 2 and (type(inputs[0]) in _SEQUENCES or type(inputs[1]) in _SEQUENCES):
            inputs = tuple(sequence_operand(a) if type(a) in _SEQUENCES else a for a in inputs)  # numpy's array_like
        return ufunc_call(ufunc, inputs)
    return RECORDING.apply_ufunc(ufunc, method, inputs, kwargs)


def _is_plain(v) -> bool:
    return not isinstance(v, (Var, Dual))


def setitem(buf: Var, key, item) -> None:
    """``buf[key] = item`` recorded as the functional node ``buf = SETITEM(buf, key, item)``,
    with numpy's view semantics (a write into a view is a write into its root)."""
    _check_key(key)
    note_index(key)
    if buf.tape.pending_views:
        note_pending_views(buf.tape)
    aliasing.write(buf, key, stack_nested(item), _raw_setitem, np.copy)


def _raw_setitem(buf: Var, key, item) -> None:
    plain = _primal(buf.value)
    if type(plain) is np.ndarray and not plain.flags.writeable:
        raise ValueError(dispatch.READ_ONLY)
    if isinstance(item, Var) and item.tape is not buf.tape:
        check_alive(item, "as the value written into a tape value")
    if isinstance(item, Var) and item.tape.tag > buf.tape.tag:
        # the buffer belongs to an outer level: it becomes a constant of the item's tape
        inner = Var(buf.value, buf.node, buf.tape)
        buf.tape = item.tape
        buf.node = item.tape.push(constant, None, (inner,), {}, (), inner)
        buf.value = inner
    item_value = item.value if isinstance(item, Var) and item.tape is buf.tape else item
    if _is_plain(buf.value) and not _is_plain(item_value):
        # a plain buffer cannot hold a differentiable item: give it the item's layers (zero tangent)
        buf._replace(buf + zeros_like(item_value, buf.shape))
    buf._replace(call(SETITEM, (buf, key, item), {}))


def _assign(target: Var, result) -> None:
    target._assign(result)


install_operators(Var, call=ufunc_call, assign=_assign, operands=_VAR_OPERANDS)
