"""numpy's view semantics for differentiable values, the same in forward and reverse mode.

The model (README, "Guarantees and limits"):

- A *view* is a Dual or tape value made by an operation whose numpy result is a
  view of its input's array (``x[1:]``, ``x[::2]``, ``x[0]`` of a 2-D x,
  ``reshape``, ``.T``/``transpose``, ``ravel``, ``squeeze``, ``swapaxes``,
  ``diagonal``, ``broadcast_to``...). dualad asks numpy which results are views
  (``result.base``), so a copy in numpy is a copy here too.
- The value the first view was taken of is the *root*; the root and its views
  form a :class:`Group`. Each view remembers the chain of calls from the root
  (``root[::2].reshape(2, 2)``), never the arrays themselves.
- A write into any member (``v[key] = item``, ``v += w``, ``np.sin(a, out=v)``)
  is carried out on the root, at the root positions the member's ``key``
  selects (found by running the same chain on an index array), with the mode's
  own ``root[key] = item`` (a recorded SETITEM in reverse mode; value and
  tangent written together in forward mode). Then every live member is derived
  again from the root by its chain. So later reads of the root or of any view
  see the write, with the derivative, exactly as numpy's shared memory would.
- Members are found through weak references: a view nobody holds costs nothing.

Nothing here knows a derivative or a mode; the modes pass in their ``setitem``.
"""
from __future__ import annotations

import operator
import weakref

import numpy as np

from . import decisions
from .errors import AliasingError, DualadError

__all__ = ["Group", "alias_of", "note_view", "write"]

_GETITEM = operator.getitem
_ARRAY = np.ndarray  # (module globals for note_view, which runs for every view made)
_weak = weakref.ref
_PRUNE_AT = 64  # prune dead weak references when a group's list grows past this (then doubles)


class Group:
    """A root value and weak references to its live views.

    Only weak references here: the root refers to its group (``root.alias``) and each
    view refers to the group and, strongly, to the root; so there is no reference
    cycle, and a finished call's values are freed at once by reference counting.
    """

    __slots__ = ("root_ref", "views", "index", "prune_at")

    def __init__(self, root):
        self.root_ref = weakref.ref(root)
        self.views: list = []
        self.index = None  # np.arange(root.size).reshape(root.shape), made at the first write
        self.prune_at = _PRUNE_AT

    @property
    def root(self):
        return self.root_ref()

    def flat_index(self) -> np.ndarray:
        if self.index is None:
            shape = self.root.shape
            self.index = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
        return self.index

    def live(self) -> list:
        """The live members other than the root (dead references dropped)."""
        out, refs = [], []
        for ref in self.views:
            v = ref()
            if v is not None:
                out.append(v)
                refs.append(ref)
        self.views = refs
        return out


def positions(view_alias) -> np.ndarray:
    """Root positions (flat indices, shaped like the view) of a view's entries."""
    chain = view_alias[1]
    for step in chain:
        if step[0] is _IMAG:  # on the index array np.imag would give zeros: a part of each entry sits
            chain = tuple((_REAL,) + tuple(s[1:]) if s[0] is _IMAG else s for s in chain)  # where the entry does
            break
    return derive(view_alias[0].flat_index(), chain)


def alias_of(x):
    """A value's alias record: None (no known views), a :class:`Group` (a root) or, for a view,
    the tuple ``(group, chain, root)``; chain holds the calls ``(func, pos, args, kwargs)`` that make it
    from the root."""
    return getattr(x, "alias", None)  # the slot is set only when views are involved


def derive(obj, chain: tuple):
    """Run a view's chain of calls on ``obj`` (the root, or an index array)."""
    for func, pos, args, kwargs in chain:
        if func is _GETITEM:  # the common step, without building an argument list
            obj = obj[args[1]]
        else:
            obj = func(*args[:pos], obj, *args[pos + 1:], **kwargs)
    return obj


def note_view(result, source, func, args: tuple, kwargs, pos: int, plain=None, source_plain=None) -> bool:
    """Record that ``result`` is a numpy view of ``source``, made by ``func(*args, **kwargs)``
    with ``source`` at ``args[pos]`` (``x[key]`` is ``note_view(v, x, operator.getitem, (x, key), None, 0)``).

    With ``plain`` and ``source_plain`` (their plain arrays) it first asks numpy whether the one
    is a view of the other (numpy points a view's ``base`` at the array owning the memory) and records nothing if not; returns whether
    it recorded. The chain step kept is ``(func, pos, args, kwargs)`` with ``source``'s place
    left as None, so a view never holds its source's arrays.
    """
    if plain is not None:  # is numpy's result a view of the source's array (or that array itself)?
        if type(plain) is not _ARRAY:
            return False
        if plain is not source_plain:
            base = plain.base
            if type(source_plain) is _ARRAY and source_plain.base is not None:
                source_plain = source_plain.base  # numpy points every view at the array owning the memory
            if base is None or base is not source_plain:
                return False
    # (the source first, as in x[key] and every reshape: one concatenation rather than three slices and two)
    step = (func, pos, (None,) + args[1:] if pos == 0 else args[:pos] + (None,) + args[pos + 1:], kwargs)
    alias = getattr(source, "alias", None)
    if type(alias) is tuple:
        group = alias[0]
        result.alias = (group, alias[1] + (step,), alias[2])
    else:
        if alias is None:
            alias = source.alias = Group(source)
        group = alias
        result.alias = (group, (step,), source)  # the view keeps its root alive (the group cannot)
    views = group.views
    views.append(_weak(result))
    if len(views) > group.prune_at:
        group.live()
        group.prune_at = max(_PRUNE_AT, 2 * len(group.views))
    return True


def _writeable(x) -> bool:
    while hasattr(x, "value"):
        x = x.value
    return not isinstance(x, np.ndarray) or x.flags.writeable


def _member(item, group: Group) -> bool:
    if item is group.root:
        return True
    alias = alias_of(item)
    return type(alias) is tuple and alias[0] is group


_REAL, _IMAG = np.real, np.imag  # views of one part of each complex entry


def _whole_entries(part, root, root_key, item):
    """The complex entries a write through ``z.real``/``z.imag`` (``part``: a view of part of each entry)
    leaves in the root: the written part from ``item``, the other part kept (as numpy's memory does)."""
    if root.dtype.kind != "c":  # np.real of a real value is all of it
        return item
    if np.result_type(item).kind == "c":
        item = np.real(item)  # numpy drops the imaginary part of a complex item written into a real view
    with decisions.unobserved():  # root_key follows from the view's chain, not from values
        old = root[root_key]
    return item + 1j * np.imag(old) if part is _REAL else np.real(old) + 1j * item


def write(target, key, item, setitem, copy=None) -> None:
    """``target[key] = item`` with numpy's aliasing: through the root when ``target`` is in a group.

    ``setitem(obj, key, item)`` is the mode's own write (it may replace ``obj``'s
    arrays); ``copy(item)`` snapshots an item that is itself a member (``v[1:] = v[:-1]``).
    """
    alias = alias_of(target)
    if alias is None:
        setitem(target, key, item)
        return
    if type(alias) is tuple:
        group, _, root = alias
        if not _writeable(target) and _writeable(root):
            raise ValueError("assignment destination is read-only (numpy makes this view read-only: "
                             "np.broadcast_to, np.diagonal...); remedy: write into a copy")
        try:
            where = positions(alias)[key]
        except (TypeError, ValueError) as err:
            if isinstance(err, DualadError):
                raise
            names = " -> ".join(getattr(f, "__name__", str(f)) for f, *_ in alias[1])
            raise AliasingError(
                f"dualad cannot follow this write through a view made by {names} ({err}); remedy: write "
                "into the array the view was taken of, or into a copy (v = v.copy())") from err
        if root.ndim == 0:
            root_key = Ellipsis
        elif np.ndim(where) == 0:
            root_key = np.unravel_index(int(where), root.shape)
        else:
            root_key = np.unravel_index(where, root.shape)
    else:
        group, root, root_key = alias, target, key
    if copy is not None and _member(item, group):
        item = copy(item)  # numpy reads an overlapping source before writing: take a snapshot
    if type(alias) is tuple:
        for step in alias[1]:  # (a chain is a step or two: a loop, not a generator, on this path)
            if step[0] is _REAL or step[0] is _IMAG:
                item = _whole_entries(step[0], root, root_key, item)
                break
    members = group.live()
    for v in members:
        v._release()  # the members' arrays are derived again below; dropping them first lets the
        # root be written in place when nobody else holds its arrays
    try:
        setitem(root, root_key, item)
    finally:
        for v in members:
            v._become(derive(root, v.alias[1]))
