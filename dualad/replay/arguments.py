"""Extra arguments a recording keeps as constants (a dict of parameters, a list, a string, an int used as
an index): a snapshot taken when f was recorded, and the check that a later call passes the same thing.

A replay is only right while such an argument is what f saw. Users change them in place between
calls (``params["k"] = 2.0``, ``weights[0] = 3.0``, a parameter object's attribute), passing the same
object again: so the recording keeps a deep copy, never the caller's object, and a call's argument is
compared with it by value, through lists, tuples, dicts and the attributes of plain objects.

>>> params = {"k": 1.0, "shape": [2, 3]}
>>> kept = snapshot(params)
>>> unchanged(params, kept)
True
>>> params["shape"][0] = 4
>>> unchanged(params, kept)
False
"""
from __future__ import annotations

import copy
import dataclasses
import types
from typing import Any

import numpy as np

__all__ = ["snapshot", "unchanged", "original", "Kept", "same_value", "type_blind"]

_DEPTH = 8  # nesting followed when comparing (a deeper difference counts as a change: safe)
_ATOMS = (type(None), bool, int, float, complex, str, bytes, np.generic)
_FLOATS = (float, np.float64)
# kept as they are and compared by identity (deepcopy does the same): code, not data
_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type, np.ufunc)


class _Uncopyable:
    """The caller's own object, which ``copy.deepcopy`` could not copy: equal to itself only while it is
    the same object (a change made in place is not seen: see :func:`snapshot`)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj


def snapshot(a: Any) -> Any:
    """A copy of ``a`` that later changes to the caller's object do not reach (numbers, strings and
    functions as they are)."""
    if isinstance(a, _ATOMS + _CODE):
        return a
    if type(a) is np.ndarray:
        return a.copy()
    try:
        return copy.deepcopy(a)
    except Exception:  # noqa: BLE001 - a lock, a generator, an open file: kept as the object itself
        return _Uncopyable(a)


class Kept:
    """An argument as a decision of a :class:`~dualad.decisions.DecisionLog` (``SparseJacobian``'s non-float
    extra arguments): a snapshot, compared with a later call's argument by value (``same_as``, which the
    log's check calls), so a dict or list changed in place is a changed decision."""

    __slots__ = ("kept",)

    def __init__(self, argument: Any):
        self.kept = snapshot(argument)

    def same_as(self, new: Any) -> bool:
        return unchanged(new.kept if type(new) is Kept else new, self.kept)

    def __repr__(self) -> str:
        return f"Kept({original(self.kept)!r})"


def original(kept: Any) -> Any:
    """The value to pass to f for a :func:`snapshot` (the snapshot itself, or the uncopyable object)."""
    return kept.obj if type(kept) is _Uncopyable else kept


def unchanged(new: Any, kept: Any, depth: int = 0) -> bool:
    """Is the call's argument ``new`` the recorded ``kept`` (a :func:`snapshot`) by value?"""
    if type(kept) is _Uncopyable:
        return new is kept.obj
    if isinstance(kept, _CODE):
        return new is kept
    if depth > _DEPTH:
        return False
    if type(new) is not type(kept):
        # an int where a float was: f may decide on the type (isinstance(k, int)), not only on the value; a
        # numpy float64 counts as a Python float (as in recording.kind_of_argument)
        return type(new) in _FLOATS and type(kept) in _FLOATS and _same_atom(new, kept)
    if isinstance(kept, _ATOMS):
        return _same_atom(new, kept)
    if isinstance(kept, np.ndarray):
        return new.dtype == kept.dtype and _same(new, kept)
    if isinstance(kept, (list, tuple)):
        return len(new) == len(kept) and all(unchanged(a, b, depth + 1) for a, b in zip(new, kept))
    if isinstance(kept, dict):
        return new.keys() == kept.keys() and all(unchanged(new[k], kept[k], depth + 1) for k in kept)
    if type(kept).__eq__ is object.__eq__ or dataclasses.is_dataclass(kept):
        # a plain object (a parameter class): equal by identity only, so compared by its attributes
        state_new, state_kept = _state(new), _state(kept)
        if state_kept is None:
            return new is kept  # no attributes to compare (a function, a module): the same object
        return state_new is not None and unchanged(state_new, state_kept, depth + 1)
    return _same(new, kept)


def _state(obj: Any):
    state = getattr(obj, "__dict__", None)
    slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())]
    if slots:
        state = dict(state or {})
        state.update({s: getattr(obj, s, None) for s in slots if isinstance(s, str)})
    return state


def same_decision(new, kept) -> bool:
    from .codegen import same_decision as compare  # codegen imports the recording, which imports this
    return compare(new, kept)


def _same_atom(new, kept) -> bool:
    if isinstance(new, (str, bytes)) or isinstance(kept, (str, bytes)):
        return type(new) is type(kept) and new == kept
    try:
        return same_decision(new, kept)
    except Exception:  # noqa: BLE001 - not comparable
        return False


def _same(new, kept) -> bool:
    try:
        equal = new == kept
        if isinstance(equal, (bool, np.bool_)):
            return bool(equal)
        return same_decision(new, kept)
    except Exception:  # noqa: BLE001 - not comparable: another argument
        return False


def same_value(f: Any, args: tuple, recorded: Any) -> bool:
    """Does ``f(*args)`` on plain values (private copies of the arrays) give the recorded output (up to
    rounding: dualad's composites may sum in another order)? A recording that passed float arguments
    to f as dualad values (to replay them at new values) is only right where f does not decide on
    their type (``isinstance(t, float)``, ``np.isscalar(t)``, ``hasattr(a, "shape")``).

    >>> same_value(lambda t: 2.0 if isinstance(t, float) else 3.0, (1.0,), 3.0)
    False
    """
    try:
        plain = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
        with np.errstate(all="ignore"):
            value = np.asarray(f(*plain), dtype=np.float64)
        recorded = np.asarray(recorded, dtype=np.float64)
        if value.shape != recorded.shape:
            return False
        scale = np.max(np.abs(recorded), initial=0.0, where=np.isfinite(recorded))
        return bool(np.allclose(value, recorded, rtol=1e-9, atol=1e-12 * scale + 1e-300, equal_nan=True))
    except Exception:  # noqa: BLE001 - f fails on plain values, or returns something else: not the same
        return False


def type_blind(f: Any, args: tuple, positions: list, at_given: bool = True) -> bool:
    """Does ``f`` give the same value whether the arguments at ``positions`` (floats, ints, float arrays)
    reach it as dualad values or as the caller passed them, at their values and at perturbed ones? A
    recording passes them as values so that new values replay; f that decides on their type
    (``isinstance(t, float)``, ``np.isscalar(t)``, ``hasattr(a, "shape")``) takes another branch on
    them than on the caller's argument, which the two points catch unless both values coincide there.
    ``at_given=False``: the perturbed point only (the caller compared the given one already).

    >>> type_blind(lambda y, t: y * 2.0 if isinstance(t, float) else y * t, (np.ones(2), 2.0), [1])
    False
    >>> type_blind(lambda y, t: y * t, (np.ones(2), 2.0), [1])
    True
    """
    from .. import valueforms  # the forward mode over the arguments (a lower layer, loaded by now)
    perturbed = tuple(_perturbed(a) if i in positions else a for i, a in enumerate(args))
    for values in ((args, perturbed) if at_given else (perturbed,)):
        def with_extras(extras, values=values):
            full = list(_copies(values))
            for i, e in zip(positions, extras):
                full[i] = e
            return f(*full)
        try:
            with np.errstate(all="ignore"):
                extras = tuple(values[i] for i in positions)
                wrapped = valueforms.jvp(with_extras, extras, tuple(np.zeros(np.shape(e)) for e in extras))[0]
        except Exception:  # noqa: BLE001 - f refuses dualad values there: the recording's own retry decides
            return False
        if not same_value(f, values, wrapped):
            return False
    return True


def _copies(values: tuple) -> tuple:
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in values)


def _perturbed(a: Any) -> Any:
    """Another value of the same type (and dtype, shape) as ``a``."""
    if isinstance(a, (bool, np.bool_)):
        return a
    if isinstance(a, (int, np.integer)):
        return type(a)(a + 1)
    if isinstance(a, np.ndarray):
        return (a * 1.37 + 0.1).astype(a.dtype)
    return type(a)(a * 1.37 + 0.1)
