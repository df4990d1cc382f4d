"""Reverse-mode value forms with several arguments, containers, ``has_aux`` and ``f``'s keywords.

``dualad.tape.grad(f, *args, argnums=0, has_aux=False, **kwargs)`` and its
siblings wrap the single-array functions of :mod:`dualad.tape.api` the way
:mod:`dualad.valueforms` wraps forward mode: the differentiated arguments'
leaves become one array, recorded as one tape input and swept once.

>>> import numpy as np
>>> from dualad import tape
>>> params = {"W": np.array([[1.0, 2.0]]), "b": np.array([0.5])}
>>> tape.grad(lambda p, x: np.sum(p["W"] @ x + p["b"]), params, np.array([3.0, 4.0]))
{'W': array([[3., 4.]]), 'b': array([1.])}
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, not_callable
from ..pytree import tree_flatten
from ..valueforms import PLAIN_INPUTS, Call, fast_call, is_plain, jacobian_call, split_options
from . import api

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "hvp", "grad_call", "value_and_grad_call"]


def _fast(args: tuple[Any, ...], argnums: Any, has_aux: Any, kwargs: dict[str, Any]) -> bool:
    # one plain array and nothing else: exactly the call the core served before
    return fast_call(args, argnums, has_aux, kwargs)


def value_and_grad_call(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], argnums: Any,
                        has_aux: bool, what: str) -> Any:
    if fast_call(args, argnums, has_aux, kwargs):
        return api.value_and_grad(f, args[0])
    call = Call(f, args, kwargs, argnums, has_aux, what)
    call.scalar_output = True
    value, g = _value_and_grad(call)
    return ((value, call.aux_value()), g) if has_aux else (value, g)


def _value_and_grad(call: Call) -> tuple[Any, Any]:
    """One recording with each leaf its own tape input (no flat vector cut apart on the tape), one sweep."""
    if not call.flat:
        value, g = api.value_and_grad(call, call.z)
        return value, call.like_input(g)
    value, grads = api.value_and_grad_of_inputs(call.at_leaves, call.in_leaves)
    return value, call.tree_input([_like(g, dtype) for g, dtype in zip(grads, call.in_dtypes)])


def _like(g: Any, dtype: Any) -> Any:
    return g.astype(dtype) if type(g) is np.ndarray and g.dtype != dtype else g


def value_and_grad(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, **kwargs: Any) -> Any:
    """``(f(*args), gradient)`` of a scalar-valued ``f`` by one reverse sweep.

    The gradient has the structure of the differentiated arguments; with
    ``has_aux=True`` the result is ``((value, aux), gradient)``, as JAX's.
    Keywords go to ``f``.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.value_and_grad(lambda v: np.sum(v ** 2), np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "tape.value_and_grad")
    if not more and not kwargs and type(x) in PLAIN_INPUTS and type(argnums) is int and argnums == 0 \
            and has_aux is False:
        return api.value_and_grad(f, x)
    return value_and_grad_call(f, (x, *more), kwargs, argnums, has_aux, "tape.value_and_grad")


def grad(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
         has_aux: bool = False, **kwargs: Any) -> Any:
    """The gradient of a scalar-valued ``f`` by reverse mode; it has the arguments' structure.

    ``has_aux=True``: ``f`` returns ``(loss, aux)``, the result is ``(gradient, aux)``.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.grad(lambda v: v[0] * v[1] + np.sin(v[0]), np.array([0.0, 3.0]))
    array([4., 0.])
    >>> tape.grad(lambda a, b: a * b ** 2, 3.0, 2.0, argnums=(0, 1))
    (array(4.), array(12.))
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "tape.grad")
    if not more and not kwargs and type(x) in PLAIN_INPUTS and type(argnums) is int and argnums == 0 \
            and has_aux is False:
        return api.grad(f, x)
    return grad_call(f, (x, *more), kwargs, argnums, has_aux, "tape.grad")


def grad_call(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], argnums: Any,
              has_aux: bool, what: str) -> Any:
    if fast_call(args, argnums, has_aux, kwargs):
        return api.grad(f, args[0])
    call = Call(f, args, kwargs, argnums, has_aux, what)
    call.scalar_output = True
    return call.finish(_value_and_grad(call)[1])


def vjp(f: Callable[..., Any], x: Any, u: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
        has_aux: bool = False, **kwargs: Any) -> Any:
    """``(f(*args), uᵀJ)`` in one recording and one sweep; the last positional argument is ``u``.

    ``u`` has the structure and shapes of ``f``'s output; ``uᵀJ`` has the
    structure of the differentiated arguments. ``has_aux=True`` returns
    ``(value, uᵀJ, aux)``.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.vjp(lambda v: v ** 2, np.array([1.0, 2.0]), np.array([1.0, 10.0]))
    (array([1., 4.]), array([ 2., 40.]))
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "tape.vjp")
    if not more and _fast((x,), argnums, has_aux, kwargs) and is_plain(u):
        return api.vjp(f, x, u)
    args, u = ((x, u, *more[:-1]), more[-1]) if more else ((x,), u)
    call = Call(f, args, kwargs, argnums, has_aux, "tape.vjp")
    u_leaves, u_def = tree_flatten(u)
    if not u_def.is_leaf:
        call.expect_out = (u_def, [tuple(leaf.shape) if hasattr(leaf, "shape") else np.shape(leaf)
                                   for leaf in u_leaves])
        u_flat: Any = (np.concatenate([np.reshape(leaf, -1) for leaf in u_leaves])
                       if len(u_leaves) > 1 else u_leaves[0])
    else:
        u_flat = u
    value, uJ = api.vjp(call, call.z, u_flat)
    if call.out_def is None and not u_def.is_leaf:
        raise InputError(f"u has the structure {u_def} but f returned one array; remedy: pass u shaped like "
                         "f's output")
    value, uJ = call.like_output(value), call.like_input(uJ)
    return (value, uJ, call.aux_value()) if has_aux else (value, uJ)


def jacobian(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
             has_aux: bool = False, **kwargs: Any) -> Any:
    """The Jacobian of ``f`` by reverse mode, structured like :func:`dualad.jacobian`.

    ``chunk_size`` (and any other option of :func:`dualad.tape.api.jacobian`)
    goes to the core; other keywords go to ``f``.

    >>> import numpy as np
    >>> from dualad import tape
    >>> tape.jacobian(lambda v: [v[0] * v[1], np.sin(v[0])], [2.0, 3.0])
    array([[ 3.        ,  2.        ],
           [-0.41614684,  0.        ]])
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "tape.jacobian")
    options, f_kwargs = split_options(api.jacobian, kwargs) if kwargs else (kwargs, kwargs)
    return jacobian_call(api.jacobian, f, (x, *more), f_kwargs, argnums, has_aux, options, "tape.jacobian")


def hvp(f: Callable[..., Any], x: Any, v: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
        has_aux: bool = False, **kwargs: Any) -> Any:
    """The Hessian-vector product ``H @ v`` of a scalar ``f``, forward over reverse; ``v`` comes last.

    ``v`` and the result have the structure of the differentiated arguments.

    >>> import numpy as np, dualad
    >>> dualad.hvp(lambda w: w[0] ** 2 * w[1], np.array([1.0, 3.0]), np.array([1.0, 0.0]))
    array([6., 2.])
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "hvp")
    if not more and _fast((x,), argnums, has_aux, kwargs) and is_plain(v):
        return api.hvp(f, x, v)
    args, v = ((x, v, *more[:-1]), more[-1]) if more else ((x,), v)
    call = Call(f, args, kwargs, argnums, has_aux, "hvp")
    call.scalar_output = True
    return call.finish(call.like_input(api.hvp(call, call.z, call.flat_like_input(v, "v"))))
