"""Containers of arrays ("pytrees"): flatten to a list of leaves, rebuild from leaves.

Every derivative function accepts nested tuples, lists and dicts of arrays (and
dataclasses, and any type registered with :func:`register_pytree_node`) as its
inputs and outputs, works on the flattened leaves, and hands back the same
structure. The rules, as in JAX:

- tuples, lists, dicts (keys in sorted order), namedtuples, dataclass instances
  and registered types are *nodes*; everything else is a *leaf*;
- one exception keeps dualad's older convention: a list or tuple holding only
  scalars (numbers, numpy scalars, 0-d arrays or 0-d Duals, nested at any depth)
  is read as one array, the way ``np.array`` reads it. So ``[1.0, 2.0]`` is a
  vector, and a function returning ``[x[0] * x[1], np.exp(x[0])]`` returns a
  vector; ``(W, b)`` with arrays inside is a tuple of two leaves.
- ``None`` is a leaf (and, not being a number, is refused as an input).

>>> import numpy as np
>>> from dualad.pytree import tree_flatten, tree_unflatten
>>> leaves, treedef = tree_flatten({"W": np.ones((2, 3)), "b": (np.zeros(2), 1.5)})
>>> [np.shape(leaf) for leaf in leaves]
[(2, 3), (2,), ()]
>>> treedef
PyTreeDef({'W': *, 'b': (*, *)})
>>> tree_unflatten(treedef, [1, 2, 3])
{'W': 1, 'b': (2, 3)}
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from .arraylike import ArrayLike

__all__ = ["PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_map", "tree_structure",
           "register_pytree_node", "register_dataclass", "is_scalar_list"]

T = TypeVar("T")

#: type -> (flatten(node) -> (children, aux data), unflatten(aux data, children) -> node)
_REGISTRY: dict[type, tuple[Callable[[Any], tuple[Iterable[Any], Any]], Callable[[Any, Iterable[Any]], Any]]] = {}
_REGISTRY_LOCK = threading.Lock()

#: Types that are leaves at once (checked first: the common case costs one set lookup).
_LEAF_TYPES = frozenset({np.ndarray, float, int, bool, complex, str, type(None), np.float64, np.float32,
                         np.int64, np.bool_})
_SCALARS = (int, float, bool, np.generic)


def register_pytree_node(node_type: type, flatten: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten: Callable[[Any, Iterable[Any]], Any]) -> None:
    """Make instances of ``node_type`` containers: dualad differentiates through their children.

    ``flatten(node)`` returns ``(children, aux_data)``: the children are
    differentiated (they may be arrays or containers themselves), ``aux_data``
    is kept as it is (it must be hashable-free of arrays and compare with ``==``).
    ``unflatten(aux_data, children)`` builds a node back. Same contract as JAX's
    ``jax.tree_util.register_pytree_node``.

    >>> import numpy as np, dualad
    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> dualad.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, ch: Pair(*ch))
    >>> g = dualad.tape.grad(lambda p: p.a * p.b ** 2, Pair(np.array(3.0), np.array(2.0)))
    >>> float(g.a), float(g.b)
    (4.0, 12.0)
    """
    if not isinstance(node_type, type):
        raise TypeError(f"register_pytree_node needs a class, got {node_type!r}; remedy: pass the class itself")
    if not callable(flatten) or not callable(unflatten):
        raise TypeError("register_pytree_node needs flatten and unflatten functions; remedy: pass "
                        "flatten(node) -> (children, aux) and unflatten(aux, children) -> node")
    if node_type in (tuple, list, dict, np.ndarray) or issubclass(node_type, ArrayLike):
        raise ValueError(f"{node_type.__name__} has a fixed meaning in dualad and cannot be re-registered; "
                         "remedy: register a subclass or your own container type")
    with _REGISTRY_LOCK:
        _REGISTRY[node_type] = (flatten, unflatten)


def register_dataclass(cls: type[T] | None = None, *, data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] = ()) -> Any:
    """Register a dataclass as a container; usable as a decorator, with or without arguments.

    ``data_fields`` are differentiated (default: every field not in ``meta_fields``);
    ``meta_fields`` are carried along unchanged (sizes, names, flags). Dataclass
    instances that were never registered are containers of all their fields.

    >>> import dataclasses, numpy as np, dualad
    >>> @dualad.register_dataclass(meta_fields=["name"])
    ... @dataclasses.dataclass
    ... class Layer:
    ...     W: np.ndarray
    ...     name: str = "hidden"
    >>> dualad.tape.grad(lambda p: np.sum(p.W ** 2), Layer(np.array([1.0, 2.0]))).W
    array([2., 4.])
    """
    def register(klass: type[T]) -> type[T]:
        if not dataclasses.is_dataclass(klass):
            raise TypeError(f"register_dataclass needs a dataclass, got {klass!r}; remedy: decorate the class "
                            "with @dataclasses.dataclass first (below @register_dataclass)")
        names = [f.name for f in dataclasses.fields(klass)]
        unknown = [n for n in [*(data_fields or ()), *meta_fields] if n not in names]
        if unknown:
            raise ValueError(f"{klass.__name__} has no fields {unknown}; its fields are {names}")
        data = list(data_fields) if data_fields is not None else [n for n in names if n not in meta_fields]
        meta = list(meta_fields)
        _register_fields(klass, data, meta)
        return klass
    return register if cls is None else register(cls)


def _register_fields(klass: type, data: list[str], meta: list[str]) -> None:
    def flatten(node: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(node, n) for n in data], tuple(getattr(node, n) for n in meta)

    def unflatten(aux: tuple[Any, ...], children: Iterable[Any]) -> Any:
        # built without calling __init__/__post_init__: those may convert or validate their
        # fields, which must not run on differentiable values (nor twice on plain ones)
        node = object.__new__(klass)
        for name, value in zip(data, children):
            object.__setattr__(node, name, value)
        for name, value in zip(meta, aux):
            object.__setattr__(node, name, value)
        return node
    with _REGISTRY_LOCK:
        _REGISTRY[klass] = (flatten, unflatten)


class PyTreeDef:
    """The structure of a container with its leaves taken out (compare with ``==``)."""

    __slots__ = ("kind", "aux", "children", "num_leaves")

    def __init__(self, kind: Any, aux: Any, children: tuple[PyTreeDef, ...]):
        self.kind = kind          # None for a leaf, else the node's type
        self.aux = aux            # dict keys, namedtuple type, registered aux data
        self.children = children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    @property
    def is_leaf(self) -> bool:
        """True for the structure of a single leaf (no container at all)."""
        return self.kind is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        if self.kind is not other.kind or self.children != other.children:
            return False
        try:
            return bool(self.aux == other.aux)
        except Exception:  # aux data holding arrays: compare by identity only
            return self.aux is other.aux

    def __hash__(self) -> int:
        return hash((self.kind, self.children))

    def __repr__(self) -> str:
        return f"PyTreeDef({self._show()})"

    def _show(self) -> str:
        if self.kind is None:
            return "*"
        inner = [c._show() for c in self.children]
        if self.kind is tuple:
            return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        if self.kind is list:
            return "[" + ", ".join(inner) + "]"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.aux, inner)) + "}"
        return f"{self.kind.__name__}(" + ", ".join(inner) + ")"


_LEAF = PyTreeDef(None, None, ())


def is_scalar_list(x: Any) -> bool:
    """True for a list/tuple of scalars only (at any depth): dualad reads it as one array.

    >>> import numpy as np
    >>> is_scalar_list([1.0, [2, 3]]), is_scalar_list((np.ones(2), 1.0)), is_scalar_list([])
    (True, False, True)
    """
    for v in x:
        t = type(v)
        if t is float or t is int or t is np.float64:
            continue
        if t is list or t is tuple:
            if not is_scalar_list(v):
                return False
        elif isinstance(v, _SCALARS) and not isinstance(v, (str, bytes)):
            continue
        elif isinstance(v, (np.ndarray, ArrayLike)):
            if v.ndim != 0:
                return False
        else:
            return False
    return not _is_namedtuple(x)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and type(x) is not tuple and hasattr(x, "_fields")


def _children(x: Any) -> tuple[Any, Any, list[Any]] | None:
    """(node type, aux data, children) of a container, or None for a leaf."""
    t = type(x)
    if t in _LEAF_TYPES:
        return None
    if t is dict:
        keys = sorted(x) if _sortable(x) else list(x)
        return dict, tuple(keys), [x[k] for k in keys]
    if t is tuple or t is list:
        if is_scalar_list(x):
            return None
        return t, None, list(x)
    if isinstance(x, ArrayLike) or isinstance(x, np.generic):
        return None
    entry = _REGISTRY.get(t)
    if entry is not None:
        children, aux = entry[0](x)
        return t, aux, list(children)
    if _is_namedtuple(x):  # always a container, even of scalars: its fields have names
        return t, None, list(x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        _register_fields(t, [f.name for f in dataclasses.fields(x)], [])
        children, aux = _REGISTRY[t][0](x)
        return t, aux, list(children)
    return None


def _sortable(d: dict) -> bool:
    try:
        sorted(d)
        return True
    except TypeError:
        return False


def tree_flatten(tree: Any) -> tuple[list[Any], PyTreeDef]:
    """``(leaves, treedef)``: the leaves in order (dict keys sorted) and the structure without them."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


def _flatten(x: Any, leaves: list[Any]) -> PyTreeDef:
    node = _children(x)
    if node is None:
        leaves.append(x)
        return _LEAF
    kind, aux, children = node
    return PyTreeDef(kind, aux, tuple(_flatten(c, leaves) for c in children))


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild the container of ``treedef`` with ``leaves`` in place of the old ones."""
    it = iter(leaves)
    out = _build(treedef, it)
    if next(it, _SENTINEL) is not _SENTINEL:
        raise ValueError(f"too many leaves for {treedef} ({treedef.num_leaves} expected)")
    return out


_SENTINEL = object()


def _build(d: PyTreeDef, it: Any) -> Any:
    if d.kind is None:
        leaf = next(it, _SENTINEL)
        if leaf is _SENTINEL:
            raise ValueError("too few leaves for the structure")
        return leaf
    children = [_build(c, it) for c in d.children]
    if d.kind is tuple or d.kind is list:
        return d.kind(children)
    if d.kind is dict:
        return dict(zip(d.aux, children))
    entry = _REGISTRY.get(d.kind)
    if entry is not None:
        return entry[1](d.aux, children)
    return d.kind(*children)  # a namedtuple


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in flattening order."""
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> PyTreeDef:
    """The structure of ``tree`` (its :class:`PyTreeDef`)."""
    return tree_flatten(tree)[1]


def tree_map(func: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``func`` to every leaf (leaf by leaf of several trees of one structure).

    >>> import numpy as np
    >>> from dualad.pytree import tree_map
    >>> tree_map(lambda a, b: a + b, {"x": 1.0, "y": [np.ones(2), 2.0]}, {"x": 10.0, "y": [np.ones(2), 3.0]})
    {'x': 11.0, 'y': [array([2., 2.]), 5.0]}
    """
    leaves, treedef = tree_flatten(tree)
    others = []
    for other in rest:
        o_leaves, o_def = tree_flatten(other)
        if o_def != treedef:
            raise ValueError(f"tree_map needs trees of one structure, got {treedef} and {o_def}")
        others.append(o_leaves)
    return tree_unflatten(treedef, [func(*xs) for xs in zip(leaves, *others)])

