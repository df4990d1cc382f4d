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

__all__ = ["snapshot", "unchanged", "original", "Kept"]

_DEPTH = 8  # nesting followed when comparing (a deeper difference counts as a change: safe)
_ATOMS = (type(None), bool, int, float, complex, str, bytes, np.generic)
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
        # an int where a float was seen and the like: numbers compare by value (a branch on it is
        # the same), anything else of another type is another argument
        return isinstance(new, _ATOMS) and isinstance(kept, _ATOMS) and _same_atom(new, kept)
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
