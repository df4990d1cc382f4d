"""A user's script that calls every public function of dualad; tests/test_typing.py runs ``mypy --strict`` on it.

Annotations on the left of ``=`` state what the API promises (``reveal_type`` would show the same);
mypy fails the test if a promise and the package's own annotations disagree.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import numpy.typing as npt

import dualad
from dualad import cost, tape

Array = npt.NDArray[np.float64]


def f(x: Any) -> Any:
    return np.sin(x) * x[0]


def cubic(v: Any) -> Any:
    return np.sum(v ** 3)


def loss(params: dict[str, Any], data: Array) -> Any:
    return np.sum((params["w"] * data) ** 2)


def loss_and_aux(params: dict[str, Any], data: Array) -> tuple[Any, dict[str, Any]]:
    value = np.sum(params["w"] * data)
    return value, {"value": value}


@dataclasses.dataclass
class Params:
    w: Array
    name: str = "p"


class Pair:
    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b


def flatten_pair(p: Pair) -> tuple[tuple[Any, Any], None]:
    return (p.a, p.b), None


def unflatten_pair(aux: None, children: Any) -> Pair:
    a, b = children
    return Pair(a, b)


dualad.register_dataclass(Params, meta_fields=["name"])
dualad.register_pytree_node(Pair, flatten_pair, unflatten_pair)

x: Array = np.array([0.5, 1.0, 2.0])
data: Array = np.ones(3)
params = {"w": np.array([1.0, 2.0, 3.0])}

# value forms (forward mode)
J = dualad.jacobian(f, x, chunk_size=2)
y, jv = dualad.jvp(f, x, x)
d = dualad.derivative(np.sin, 0.5)
g = dualad.gradient(loss, params, data)
g_aux, aux0 = dualad.gradient(loss_and_aux, params, data, has_aux=True)
H = dualad.hessian(cubic, x)
hv = dualad.hvp(cubic, x, x)
n: int = dualad.auto_chunk_size(100)
buf = dualad.zeros_like(x)
dual: dualad.Dual = dualad.Dual(x, np.ones(3))
BJ = dualad.batch_jacobian(f, np.ones((4, 3)))
BG = dualad.batch_gradient(cubic, np.ones((4, 3)))

# transforms: the has_aux overloads say what the returned function gives back
grad_fn: Callable[..., Any] = dualad.grad(loss)
aux_grad_fn: Callable[..., tuple[Any, Any]] = dualad.grad(loss_and_aux, has_aux=True)
vg_fn: Callable[..., tuple[Any, Any]] = dualad.value_and_grad(loss, argnums=0)
vg_aux_fn: Callable[..., tuple[tuple[Any, Any], Any]] = dualad.value_and_grad(loss_and_aux, has_aux=True)
jf: Callable[..., Any] = dualad.jacfwd(f)
jf_aux: Callable[..., tuple[Any, Any]] = dualad.jacfwd(loss_and_aux, 1, True)
jr: Callable[..., Any] = dualad.jacrev(f, argnums=(0,))
hf: Callable[..., Any] = dualad.hess(cubic)
grads, aux = aux_grad_fn(params, data)
value, grads2 = vg_fn(params, data)
pair_grad = dualad.grad(lambda p: p.a * p.b)(Pair(2.0, 3.0))
dataclass_grad = dualad.grad(lambda p: np.sum(p.w ** 2))(Params(np.ones(2)))

# reverse mode
tg = tape.grad(loss, params, data)
tv, tg2 = tape.value_and_grad(loss, params, data)
ty, tuj = tape.vjp(f, x, np.ones(3))
tJ = tape.jacobian(f, x)
thv = tape.hvp(cubic, x, x)
recorded: tape.Tape = tape.record(lambda a, b: a * b, 2.0, 3.0)
grads_tuple: tuple[Any, ...] = recorded.backward()
nodes: list[tape.Node] = recorded.nodes
constant = tape.stop_gradient(x)
labelled = tape.label(x, "x")
dot_text: str = recorded.to_dot()
listing: str = recorded.listing()
is_var: bool = isinstance(recorded.output, tape.Var)

# checking, cost, sparse
report = dualad.check_grad(f, x)
passed: bool = report.passed
comparison = cost.compare(f, x, repeat=1, memory=False)
pattern = dualad.jacobian_sparsity(lambda u: u[1:] - u[:-1], np.zeros(5))
S = dualad.sparse_jacobian(lambda u: u[1:] - u[:-1], np.zeros(5))
sj = dualad.SparseJacobian(lambda u: u[1:] * u[:-1], np.ones(5))
ncolors: int = sj.ncolors
Jsparse = sj(np.arange(5.0))

errors: tuple[type[Exception], ...] = (dualad.DualadError, dualad.InputError, dualad.OutputError,
                                       dualad.ConversionError, dualad.UnsupportedFunctionError,
                                       dualad.TangentShapeError, dualad.DegeneracyError,
                                       dualad.CustomRuleError, dualad.SparsityChangedError, dualad.SparsityError,
                                       dualad.OptionError)
redetections: int = dualad.SparseJacobian(lambda u: u * u[0], np.ones(3), fixed=False, check=True).redetections

# prepared derivatives (issue 17)
prepared: dualad.Prepared = dualad.prepare(lambda u: np.sin(u) * u[0], np.ones(3))
J_prepared = prepared.jacobian(np.arange(3.0))
y_prepared, jv_prepared = prepared.jvp(np.ones(3), np.ones(3))
y_again, uj_prepared = prepared.vjp(np.ones(3), np.ones(3))
retapes: int = prepared.retapes + prepared.mismatches + prepared.replays + prepared.fallbacks
scalar_prepared = dualad.prepare(lambda u, t: np.sum(u ** 2) * t, np.ones(3), args=(2.0,), argnum=0, max_traces=4)
loss_value, loss_grad = scalar_prepared.value_and_grad(np.ones(3), 2.0)
hv_prepared = scalar_prepared.hvp(np.ones(3), 2.0, np.ones(3)) + scalar_prepared.gradient(np.ones(3), 2.0)
refusal: type[Exception] = dualad.ReplayRefused


# user rules and implicit solutions (issue 16)
@dualad.custom_jvp
def softplus(v: Any) -> Any:
    return np.log1p(np.exp(v))


@softplus.defjvp
def softplus_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    return softplus(primals[0]), tangents[0] / (1.0 + np.exp(-primals[0]))


@dualad.custom_vjp
def doubled(v: Any) -> Any:
    return 2.0 * v


doubled.defvjp(lambda v: (2.0 * v, None), lambda residuals, g: (2.0 * g,))
black_box = dualad.float_function(np.sin, jacobian=lambda v: np.diag(np.cos(v)))
J_rules = dualad.jacobian(lambda v: softplus(v) + black_box(v), x)
g_rules = tape.grad(lambda v: np.sum(doubled(v)), x)


def root_residual(v: Any, p: Any) -> Any:
    return v ** 3 - p


@dualad.custom_root(root_residual)
def cube_root(p: Any) -> Any:
    return np.cbrt(p)


@dualad.custom_fixed_point(lambda v, p: 0.5 * (v + p / v))
def square_root(p: Any) -> Any:
    return np.sqrt(p)


@dualad.custom_argmin(lambda v, p: np.sum((v - p) ** 2))
def nearest(p: Any) -> Any:
    return np.array(p, dtype=float)


d_roots = dualad.jacobian(lambda p: cube_root(p) + square_root(p) + nearest(p), np.array([8.0, 4.0]))
