"""Keyword arguments of rule-table functions: read them all, so none is silently ignored.

A rule (``dualad.rules``) sees a numpy call's arguments as positional values
plus keywords. Two ways a keyword could slip past it unnoticed:

* passed positionally (``np.sum(x, None, None, None, False, 0.0, mask)`` is
  ``where=mask``): :func:`normalise` moves every positional argument that fills a
  parameter with a default into the keywords, so the engines' keyword checks
  (``out=``, ``where=``, ``initial=``, ...) see it whichever way it was passed;
* ``dtype=``: a float ``dtype`` is applied (the differentiable arguments are cast
  first, as numpy computes in that dtype, and the result is cast to it); a
  non-float ``dtype`` would drop the derivative and is refused, except for
  functions whose derivative is zero anyway (``zeros_like(x, dtype=int)`` is a
  plain integer constant).

``tests/test_keywords.py`` walks the table and checks, for every keyword of every
function, that dualad either honours it (value and derivative against numpy and
finite differences) or refuses it with a ``DualadError``.

>>> import numpy as np
>>> normalise(np.sum, (np.ones(3), 0), {})[1]
{'axis': 0}
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from .arraylike import ArrayLike
from .errors import ConversionError

__all__ = ["normalise", "cast_result", "stack_nested", "lists_to_arrays", "call_composite", "POSITIONAL_LIMIT",
           "SEQUENCE_OF_ARRAYS"]

_NAMES: dict[Any, tuple | None] = {}
#: per function seen by :func:`normalise`: how many positional arguments it takes before one could be a
#: keyword passed positionally (the engines skip the call when a call has no more and no keywords)
POSITIONAL_LIMIT: dict[Any, float] = {}


def _defaulted_positions(func) -> tuple | None:
    """``(first, names)``: the positional parameters from ``first`` on have defaults and are named ``names``."""
    try:
        return _NAMES[func]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable: nothing to cache, nothing to move
        return None
    found = None
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = []
    for p in params:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        positional.append(p)
    for i, p in enumerate(positional):
        if p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD and \
                all(q.kind is q.POSITIONAL_OR_KEYWORD for q in positional[i:]):
            found = (i, tuple(q.name for q in positional[i:]))
            break
    _NAMES[func] = found
    POSITIONAL_LIMIT[func] = found[0] if found is not None else float("inf")
    return found


def _cast(x, dtype):
    if isinstance(x, ArrayLike):
        return x.astype(dtype) if x.dtype != dtype else x
    if isinstance(x, (list, tuple)) and any(isinstance(y, ArrayLike) for y in x):
        return type(x)(_cast(y, dtype) for y in x)
    return x


def normalise(func: Callable, args: tuple, kwargs: dict, zero_derivative: bool = False):
    """``(args, kwargs, dtype)`` of a call to a table function, ready for the engines.

    Positional arguments that fill defaulted parameters become keywords; a float
    ``dtype=`` is applied to the differentiable arguments and returned (the
    caller casts the result with :func:`cast_result`); ``dtype`` stays in the
    keywords only for zero-derivative functions, which pass it to numpy.
    """
    spec = _defaulted_positions(func)
    if spec is not None and len(args) > spec[0]:
        first, names = spec
        kwargs = dict(kwargs)
        for name, value in zip(names, args[first:]):
            if name in kwargs:
                raise TypeError(f"{getattr(func, '__name__', func)}() got multiple values for argument {name!r}")
            kwargs[name] = value
        args = args[:first]
    dtype = kwargs.get("dtype") if kwargs else None
    if dtype is None or zero_derivative:
        return args, kwargs, None
    kwargs = dict(kwargs)
    del kwargs["dtype"]
    dt = np.dtype(dtype)
    if dt.kind != "f":
        name = getattr(func, "__name__", repr(func))
        raise ConversionError(f"np.{name}(..., dtype={dt}) would drop the derivative; "
                              "remedy: use a float dtype or leave dtype out")
    return tuple(_cast(a, dt) for a in args), kwargs, dt


def cast_result(result, dtype):
    """``result`` in ``dtype`` (from :func:`normalise`), when it is a differentiable value of another dtype."""
    if dtype is None:
        return result
    if isinstance(result, ArrayLike) and result.dtype != dtype:
        return result.astype(dtype)
    if isinstance(result, np.ndarray) and result.dtype != dtype:
        return result.astype(dtype)
    return result


def _holds_differentiable(obj) -> bool:
    if isinstance(obj, ArrayLike):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_holds_differentiable(o) for o in obj)
    return False


def stack_nested(obj):
    """A (nested) list or tuple holding differentiable values as one stacked value, as numpy's
    ``np.asarray`` would read it (``[x[0], x[1] - x[0]**2]`` is ``np.stack([...])``); anything else as it is.

    >>> import numpy as np
    >>> stack_nested([1.0, 2.0])
    [1.0, 2.0]
    """
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields") and _holds_differentiable(obj):
        return np.stack([stack_nested(o) for o in obj])
    return obj


#: functions whose first argument is a sequence of arrays (each element is one array_like)
SEQUENCE_OF_ARRAYS = {np.concatenate, np.stack, np.hstack, np.vstack, np.dstack, np.column_stack,
                       np.linalg.multi_dot}


def lists_to_arrays(func, args: tuple) -> tuple:
    """``args`` of a joining function (``np.concatenate``, ``np.stack``, ...) with every inner list that
    holds differentiable values stacked into one value.

    numpy reads each element of the sequence as an array (``np.concatenate([r, [x[0], x[1]]])``:
    the inner list is one array); with differentiable entries that must be ``np.stack``, which
    keeps their derivatives, where numpy's own conversion would refuse them.
    """
    if func in SEQUENCE_OF_ARRAYS and args and isinstance(args[0], (list, tuple)):
        return (type(args[0])(stack_nested(a) for a in args[0]),) + tuple(args[1:])
    return args  # other list arguments mean what each function says (np.block's nesting, np.select's lists)


def call_composite(impl: Callable, args: tuple, kwargs: dict):
    """``impl(*args, **kwargs)`` for a Composite entry, with a float ``dtype=`` applied whether or not
    ``impl`` reads it: the differentiable arguments are cast first (numpy computes in that dtype)
    and the result is cast to it. A non-float dtype is left to ``impl`` (it refuses or returns
    an integer constant)."""
    dtype = kwargs.get("dtype") if kwargs else None
    if dtype is None:
        return impl(*args, **kwargs)
    dt = np.dtype(dtype)
    if dt.kind != "f":
        return impl(*args, **kwargs)
    result = impl(*tuple(_cast(a, dt) for a in args), **kwargs)
    if isinstance(result, tuple):
        return type(result)(cast_result(r, dt) for r in result)
    return cast_result(result, dt)
