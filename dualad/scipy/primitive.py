"""Functions of dualad.scipy whose derivative is a rule-table entry (``expm``, ``solve_sylvester``, ...).

numpy hands its own functions to a Dual's (or tape value's) ``__array_function__``; a function of
ours gets the same treatment from :func:`primitive`: called with a differentiable argument, it
offers the call to that argument's ``__array_function__`` (NEP 18's protocol, which every dualad
engine implements), so forward mode, reverse mode and the sparsity tracer all find its entry in
:data:`dualad.rules.TABLE`. Called on plain arrays, it runs the implementation directly.

>>> import numpy as np, dualad
>>> from dualad.rules import TABLE, Custom
>>> twice = primitive(lambda a: 2.0 * np.asarray(a))
>>> TABLE[twice] = Custom(lambda out, args, kwargs, tangents: 2.0 * tangents[0])
>>> float(dualad.derivative(twice, 3.0))
2.0
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from ..arraylike import ArrayLike

__all__ = ["primitive"]


def _differentiable(args) -> list:
    found = []
    for a in args:
        if isinstance(a, ArrayLike):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(_differentiable(a))
    return found


def primitive(implementation: Callable) -> Callable:
    """``implementation`` made to dispatch like a numpy function (see the module docstring)."""
    @functools.wraps(implementation)
    def dispatcher(*args: Any, **kwargs: Any) -> Any:
        relevant = _differentiable(args) or _differentiable(kwargs.values())
        if not relevant:
            return implementation(*args, **kwargs)
        types = tuple({type(a): None for a in relevant})
        for value in relevant:  # as numpy does: the first one that does not decline handles it
            result = value.__array_function__(dispatcher, types, args, kwargs)
            if result is not NotImplemented:
                return result
        raise TypeError(f"no implementation of {implementation.__name__} for the types {types}")

    dispatcher._implementation = implementation  # what numpy's own dispatchers expose
    return dispatcher
