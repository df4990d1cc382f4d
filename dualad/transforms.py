"""Function transforms under JAX's names: ``jacfwd``, ``jacrev``, ``grad``, ``value_and_grad``, ``hess``.

Each takes a function and returns a new function of the same arguments
(``functools.wraps`` keeps its name and docstring), so it passes straight to
scipy::

    minimize(fun, x0, args=(data,), jac=dualad.grad(fun))
    solve_ivp(rhs, t_span, y0, method="BDF", jac=dualad.jacfwd(rhs, argnums=1))

Value forms and transforms, side by side (the abbreviated names are the
transforms; they cannot be called with a point):

============================  =================================  ==========================
value form                    transform                          mode
============================  =================================  ==========================
``dualad.jacobian(f, x)``     ``dualad.jacfwd(f)(x)``            forward
``dualad.tape.jacobian(f,x)`` ``dualad.jacrev(f)(x)``            reverse
``dualad.tape.grad(f, x)``    ``dualad.grad(f)(x)``              reverse
``tape.value_and_grad(f, x)`` ``dualad.value_and_grad(f)(x)``    reverse
``dualad.hessian(f, x)``      ``dualad.hess(f)(x)``              forward over forward
============================  =================================  ==========================

Every transform takes ``argnums`` (an int or a tuple of ints) and
``has_aux``; options of the underlying function (``chunk_size``, ...) are
given to the transform, and every keyword of a call goes to ``f``.

>>> import numpy as np, dualad
>>> def loss(w, x, y):
...     "Squared error of a line through the origin."
...     return np.sum((w * x - y) ** 2)
>>> dloss = dualad.grad(loss)
>>> dloss.__name__, dloss.__doc__
('loss', 'Squared error of a line through the origin.')
>>> float(dloss(2.0, np.array([1.0, 2.0]), np.array([1.0, 3.0])))
6.0
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Literal, Sequence, overload

from . import forward
from .errors import InputError, describe
from .tape import api as tape_api
from .tape.valueforms import grad_call, value_and_grad_call
from .valueforms import check_argnums, core_options, hessian_call, jacobian_call

__all__ = ["jacfwd", "jacrev", "grad", "value_and_grad", "hess"]


def _check(f: Any, argnums: Any, has_aux: Any, options: dict[str, Any], core: Callable[..., Any] | None,
           what: str) -> None:
    if not callable(f):
        raise InputError(f"{what} needs a function, got {describe(f)}; remedy: {what}(f) returns the "
                         f"derivative function, call it with the point: {what}(f)(x)")
    check_argnums(argnums, what)
    if not isinstance(has_aux, bool):
        raise InputError(f"{what}: has_aux must be True or False, got {has_aux!r}")
    allowed = core_options(core) if core is not None else frozenset()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"{what} got unknown option(s) {unknown}; it takes argnums, has_aux"
                        f"{''.join(', ' + n for n in sorted(allowed))}; remedy: pass f's own keywords when "
                        f"calling the returned function: {what}(f)(x, key=value)")


def _wrap(f: Callable[..., Any], g: Callable[..., Any]) -> Callable[..., Any]:
    return functools.wraps(f)(g)


@overload
def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = ..., has_aux: Literal[False] = ...,
           **options: Any) -> Callable[..., Any]: ...
@overload
def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = ..., *, has_aux: Literal[True],
           **options: Any) -> Callable[..., tuple[Any, Any]]: ...
@overload
def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: Literal[True],
           **options: Any) -> Callable[..., tuple[Any, Any]]: ...
def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           **options: Any) -> Callable[..., Any]:
    """The Jacobian function of ``f`` by forward mode (JAX's ``jacfwd``); value form: :func:`dualad.jacobian`.

    ``jacfwd(f, argnums=1)(t, y)`` is ``d f / d y``, the ``jac`` that
    ``scipy.integrate.solve_ivp`` wants. Options (``chunk_size``, ...) go to
    :func:`dualad.forward.jacobian`; keywords of the call go to ``f``.
    ``has_aux=True``: ``f`` returns ``(output, aux)``, the function ``(J, aux)``.

    >>> import numpy as np, dualad
    >>> rhs = lambda t, y, k: np.stack([y[1], -k * np.sin(y[0])])
    >>> dualad.jacfwd(rhs, argnums=1)(0.0, np.array([0.0, 1.0]), 2.0)
    array([[ 0.,  1.],
           [-2., -0.]])
    """
    _check(f, argnums, has_aux, options, forward.jacobian, "jacfwd")

    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        return jacobian_call(forward.jacobian, f, args, kwargs, argnums, has_aux, options, "jacfwd")
    return _wrap(f, jacfwd_f)


@overload
def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = ..., has_aux: Literal[False] = ...,
           **options: Any) -> Callable[..., Any]: ...
@overload
def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = ..., *, has_aux: Literal[True],
           **options: Any) -> Callable[..., tuple[Any, Any]]: ...
@overload
def jacrev(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: Literal[True],
           **options: Any) -> Callable[..., tuple[Any, Any]]: ...
def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           **options: Any) -> Callable[..., Any]:
    """The Jacobian function of ``f`` by reverse mode (JAX's ``jacrev``); value form: :func:`dualad.tape.jacobian`.

    Same structure as :func:`jacfwd`; one recording, all rows in batched sweeps.

    >>> import numpy as np, dualad
    >>> dualad.jacrev(lambda a, b: a * b, argnums=(0, 1))(2.0, 3.0)
    (array(3.), array(2.))
    """
    _check(f, argnums, has_aux, options, tape_api.jacobian, "jacrev")

    def jacrev_f(*args: Any, **kwargs: Any) -> Any:
        return jacobian_call(tape_api.jacobian, f, args, kwargs, argnums, has_aux, options, "jacrev")
    return _wrap(f, jacrev_f)


@overload
def grad(f: Callable[..., Any], argnums: int | Sequence[int] = ..., has_aux: Literal[False] = ...
         ) -> Callable[..., Any]: ...
@overload
def grad(f: Callable[..., Any], argnums: int | Sequence[int] = ..., *, has_aux: Literal[True]
         ) -> Callable[..., tuple[Any, Any]]: ...
@overload
def grad(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: Literal[True]
         ) -> Callable[..., tuple[Any, Any]]: ...
def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """The gradient function of a scalar-valued ``f`` by reverse mode (JAX's ``grad``).

    Value forms: :func:`dualad.tape.grad` (reverse), :func:`dualad.gradient`
    (forward). The gradient has the structure of the differentiated
    argument(s); ``has_aux=True`` gives ``(gradient, aux)``.
    ``scipy.optimize.minimize(fun, x0, args=(data,), jac=dualad.grad(fun))``
    works as written.

    >>> import numpy as np, dualad
    >>> dualad.grad(lambda p: np.sum(p["w"] ** 2) + p["b"])({"w": np.array([1.0, 2.0]), "b": 0.5})
    {'b': array(1.), 'w': array([2., 4.])}
    """
    _check(f, argnums, has_aux, {}, None, "grad")

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return grad_call(f, args, kwargs, argnums, has_aux, "grad")
    return _wrap(f, grad_f)


@overload
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = ..., has_aux: Literal[False] = ...
                   ) -> Callable[..., tuple[Any, Any]]: ...
@overload
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = ..., *, has_aux: Literal[True]
                   ) -> Callable[..., tuple[tuple[Any, Any], Any]]: ...
@overload
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: Literal[True]
                   ) -> Callable[..., tuple[tuple[Any, Any], Any]]: ...
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """The function ``(f(*args), gradient)`` by one reverse sweep (JAX's ``value_and_grad``).

    With ``has_aux=True`` it returns ``((value, aux), gradient)``. Pass it to
    ``scipy.optimize.minimize(..., jac=True)`` to get both from one recording.

    >>> import numpy as np, dualad
    >>> dualad.value_and_grad(lambda x, c: c * np.sum(x ** 2))(np.array([1.0, 2.0]), 3.0)
    (np.float64(15.0), array([ 6., 12.]))
    """
    _check(f, argnums, has_aux, {}, None, "value_and_grad")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_call(f, args, kwargs, argnums, has_aux, "value_and_grad")
    return _wrap(f, value_and_grad_f)


@overload
def hess(f: Callable[..., Any], argnums: int | Sequence[int] = ..., has_aux: Literal[False] = ...,
         **options: Any) -> Callable[..., Any]: ...
@overload
def hess(f: Callable[..., Any], argnums: int | Sequence[int] = ..., *, has_aux: Literal[True],
         **options: Any) -> Callable[..., tuple[Any, Any]]: ...
@overload
def hess(f: Callable[..., Any], argnums: int | Sequence[int], has_aux: Literal[True],
         **options: Any) -> Callable[..., tuple[Any, Any]]: ...
def hess(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         **options: Any) -> Callable[..., Any]:
    """The Hessian function of a scalar-valued ``f`` (JAX's ``hessian``); value form: :func:`dualad.hessian`.

    Forward over forward. The result is nested input-outer, input-inner; for
    one array argument its shape is ``x.shape + x.shape``. Options of
    :func:`dualad.forward.hessian` (e.g. ``chunk_size``) go to it.

    >>> import numpy as np, dualad
    >>> dualad.hess(lambda x, c: c * x[0] ** 2 * x[1])(np.array([1.0, 3.0]), 2.0)
    array([[12.,  4.],
           [ 4.,  0.]])
    """
    _check(f, argnums, has_aux, options, forward.hessian, "hess")

    def hess_f(*args: Any, **kwargs: Any) -> Any:
        return hessian_call(forward.hessian, f, args, kwargs, argnums, has_aux, options, "hess")
    return _wrap(f, hess_f)
