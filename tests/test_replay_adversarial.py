"""dualad.prepare used the way numpy code is written, attacked class by class: at every point each
prepared answer (value and derivative) equals plain numpy's value and the plain functions' derivative
(themselves checked against central differences of the same code on floats where f is smooth there)."""
import numpy as np
import pytest

import dualad
from dualad import tape
from alias_check import central_differences  # central differences of the plain-float code



def _close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-12, atol=1e-12)


def check_all_answers(p, f, x, rng, smooth=True):
    """Every prepared method at ``x`` against plain numpy's value and the plain functions."""
    value = np.asarray(f(x.copy()))
    J = dualad.jacobian(f, x)
    if smooth:
        np.testing.assert_allclose(J, central_differences(f, x), rtol=1e-6, atol=1e-6)
    _close(p(x), J)
    v = rng.standard_normal(x.shape)
    y, t = p.jvp(x, v)
    _close(y, value)
    _close(t, dualad.jvp(f, x, v)[1])
    u = rng.standard_normal(value.shape)
    y, a = p.vjp(x, u)
    _close(y, value)
    _close(a, tape.vjp(f, x, u)[1])
    if value.ndim == 0:
        y, g = p.value_and_grad(x)
        _close(y, value)
        _close(g, tape.grad(f, x))
        _close(p.gradient(x), g)
        _close(p.hvp(x, v), dualad.hvp(f, x, v))


# ------------------------------------------------------------------ outputs without a derivative path
# On the recorded branch the output does not depend on x through any derivative (a constant, a mask,
# an order): the replay answered the recorded output and a zero Jacobian without re-checking f's
# decisions, so a new mask was answered with the old one, and a branch where the output does depend
# on x got a zero Jacobian.
NO_PATH = {
    "constant_on_one_branch": lambda x: x ** 2 if x[0] > 0 else np.ones(3),
    "scalar_constant_on_one_branch": lambda x: np.sum(x ** 3) if x[0] > 0 else 1.0,
    "mask": lambda x: x > 0,
    "mask_as_floats": lambda x: (x > 0) * 1.0,
    "where_constants": lambda x: np.where(x > 0, 1.0, -1.0),
    "argsort": lambda x: np.argsort(x),
    "argmax": lambda x: np.argmax(x),
    "count": lambda x: np.count_nonzero(x > 0),
    "comparison": lambda x: x[0] > x[1],
}


@pytest.mark.parametrize("name", sorted(NO_PATH))
@pytest.mark.parametrize("start", [0, 1])
def test_outputs_without_a_derivative_path_follow_the_point(name, start):
    f = NO_PATH[name]
    points = [np.array([-0.5, 0.3, 1.2]), np.array([0.7, -0.2, 0.4]), np.array([1.1, 0.9, -0.8])]
    rng = np.random.default_rng(0)
    p = dualad.prepare(f, points[start])
    for x in points + points:  # each point twice: met, recorded, replayed
        check_all_answers(p, f, x, rng, smooth=False)


def test_constant_branch_gets_the_other_branchs_derivative_sparse():
    pytest.importorskip("scipy")
    f = NO_PATH["constant_on_one_branch"]
    x_flat, x_bowl = np.array([-0.5, 0.3, 1.2]), np.array([0.7, -0.2, 0.4])
    for p in (dualad.prepare(f, x_flat, sparse=True), dualad.SparseJacobian(f, x_flat)):
        for _ in range(3):
            np.testing.assert_array_equal(p(x_bowl).toarray(), np.diag(2 * x_bowl))
            np.testing.assert_array_equal(p(x_flat).toarray(), np.zeros((3, 3)))


# ------------------------------------------------------------------ extra arguments changed in place
# A non-float extra argument is a constant of the recording, compared at each call; the recording kept
# the caller's own object, so one changed in place (the same object) was accepted and its old value used.
class Params:
    def __init__(self):
        self.k, self.w = 1.0, np.ones(3)


def _dict(y, p):
    return p["a"] * y ** 2 if p["mode"] == "square" else p["a"] * np.sin(y)


def _list(y, p):
    return p[0] * y ** 2 + p[1][0]


def _object(y, p):
    return p.k * p.w * y ** 2


CHANGES = {
    "dict_value": (_dict, lambda: {"a": 1.0, "mode": "square"}, lambda p: p.update(a=3.0)),
    "dict_branch": (_dict, lambda: {"a": 1.0, "mode": "square"}, lambda p: p.update(mode="sin")),
    "list_item": (_list, lambda: [1.0, [0.5]], lambda p: p.__setitem__(0, -2.0)),
    "nested_list_item": (_list, lambda: [1.0, [0.5]], lambda p: p[1].__setitem__(0, 4.0)),
    "list_of_arrays": (_list, lambda: [np.ones(3), np.zeros(3)], lambda p: p[0].__setitem__(1, 5.0)),
    "object_attribute": (_object, Params, lambda p: setattr(p, "k", 2.0)),
    "object_array_entry": (_object, Params, lambda p: p.w.__setitem__(2, -1.0)),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
@pytest.mark.parametrize("how", ["prepare", "sparse", "SparseJacobian", "SparseJacobian-plain"])
def test_extra_arguments_changed_in_place_are_seen(name, how):
    sparse = how != "prepare"
    if sparse:
        pytest.importorskip("scipy")
    f, make, change = CHANGES[name]
    params = make()
    x = np.array([0.3, -1.2, 0.8])
    if how.startswith("SparseJacobian"):  # (its pattern too: a coupling switched on in place, below)
        p = dualad.SparseJacobian(f, x, args=(params,), replay=how == "SparseJacobian")
    else:
        p = dualad.prepare(f, x, args=(params,), sparse=sparse)

    def answer():
        J = p(x, params)
        return J.toarray() if sparse else J
    for _ in range(3):
        np.testing.assert_array_equal(answer(), dualad.jacobian(lambda y: f(y, params), x))
    change(params)
    want = dualad.jacobian(lambda y: f(y, params), x)
    np.testing.assert_allclose(want, central_differences(lambda y: f(y, params), x), rtol=1e-6, atol=1e-6)
    for _ in range(3):  # met, recorded, replayed
        np.testing.assert_array_equal(answer(), want)
    if how.startswith("SparseJacobian"):
        return
    y, t = p.jvp(x, params, np.ones(3))
    np.testing.assert_array_equal(y, f(x.copy(), params))
    np.testing.assert_allclose(t, want @ np.ones(3), rtol=1e-14)


def _coupled(y, p):
    return y ** 2 + y[::-1] * p["k"] if p["coupled"] else y ** 2


@pytest.mark.parametrize("replay", [True, False])
def test_a_sparse_pattern_follows_an_argument_changed_in_place(replay):
    # SparseJacobian's log kept the caller's dict itself as the "argument" decision: switched in place,
    # the check compared the dict with itself and the diagonal pattern stayed (every call with replay=False)
    pytest.importorskip("scipy")
    params = {"coupled": False, "k": 1.0}
    x = np.array([0.3, 0.5, 0.9, 1.1])
    sj = dualad.SparseJacobian(_coupled, x, args=(params,), replay=replay)
    for _ in range(3):
        sj(x, params)
    params["coupled"] = True
    for _ in range(3):
        np.testing.assert_allclose(sj(x, params).toarray(), dualad.jacobian(lambda y: _coupled(y, params), x),
                                   rtol=1e-14)
    assert sj.redetections >= 1


# ------------------------------------------------------------------ answers the caller may write to
# A prepared answer is the caller's to keep and change, as the plain functions' are: it was x itself
# (f = identity), u itself (its vjp), the trace's recorded constant (changed by the caller, every later
# answer changed too) or a read-only view of a program's seed (a wide f's Jacobian rows: J += ... raised).
W = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, -1.0], [0.0, 1.0, 2.0]])
OWN = {
    "identity": lambda x: x,
    "constant": lambda x: np.ones(3),
    "global_row": lambda x: W[0],
    "sum": lambda x: np.sum(x),
    "matmul": lambda x: W @ x,
    "scalar_style": lambda x: [x[0], x[1] * 2.0, x[2] - x[0]],
    "extra_array": lambda x, a: a,
    "extra_times_x": lambda x, a: a * x,
}


@pytest.mark.parametrize("name", sorted(OWN))
@pytest.mark.parametrize("method", ["jacobian", "jvp", "vjp", "value_and_grad", "sparse"])
def test_answers_are_the_callers_to_write_to(name, method):
    f = OWN[name]
    a = np.array([0.5, -1.0, 2.0])
    args = (a,) if f.__code__.co_argcount == 2 else ()
    x = np.array([0.3, -1.2, 0.8])
    scalar = np.ndim(f(x.copy(), *args)) == 0
    if method == "value_and_grad" and not scalar:
        pytest.skip("a vector-valued f")
    if method == "sparse":
        pytest.importorskip("scipy")
    p = dualad.prepare(f, np.zeros(3), args=args, sparse=method == "sparse")
    v, u = np.ones(3), np.ones(np.shape(f(x.copy(), *args)))
    caller = [x, v, u, a, W]
    before = [c.copy() for c in caller]

    def answers():
        if method == "jacobian":
            return [p(x, *args)]
        if method == "sparse":
            return [p(x, *args).data]
        if method == "jvp":
            return list(p.jvp(x, *args, v))
        if method == "vjp":
            return list(p.vjp(x, *args, u))
        return list(p.value_and_grad(x, *args))
    first = [np.array(r, copy=True) for r in answers()]
    for _ in range(3):
        got = answers()
        for r, want in zip(got, first):
            np.testing.assert_array_equal(r, want)
        for r in got:
            if isinstance(r, np.ndarray):
                r[...] = 99.0  # raised for a read-only answer
        for c, old in zip(caller, before):
            np.testing.assert_array_equal(c, old)


# ------------------------------------------------------------------ directions of the wrong kind
@pytest.mark.parametrize("u", [np.ones(3) * 1j, np.array(["a", "b", "c"])])
def test_a_complex_or_text_cotangent_is_refused_like_the_plain_vjp(u):
    f = lambda x: np.sin(x) * x[0]  # noqa: E731
    x = np.array([0.3, -1.2, 0.8])
    p = dualad.prepare(f, x)
    with pytest.raises(dualad.DualadError):
        tape.vjp(f, x, u)
    with pytest.raises(dualad.DualadError, match="remedy"):
        p.vjp(x, u)  # was: the imaginary part dropped silently (a zero vjp)


# ------------------------------------------------------------------ a float argument's zeros in a sparse pattern
# The tracer reads a float extra argument's zeros as it reads a constant's (A in A @ x): the pattern of a
# diagonal A is diagonal. A later call with a denser A summed the new entries into the colours' columns
# (a diagonal of row sums instead of a full matrix), in SparseJacobian (every call with replay=False)
# and in prepare(sparse=True).
RELY = {
    "matmul": lambda y, A: A @ y,
    "scaled_matmul": lambda y, A: (2.0 * A) @ y + np.sin(y),
    "dot": lambda y, A: np.dot(A, y ** 2),
    "einsum": lambda y, A: np.einsum("ij,j->i", A, y),
    "stacked_with_x": lambda y, A: np.stack([y, A[0]]) @ y,  # a row of A beside x's entries in one operand
}


@pytest.mark.parametrize("name", sorted(RELY))
@pytest.mark.parametrize("how", ["replayed", "plain", "prepared"])
def test_a_float_arguments_new_nonzeros_are_in_the_pattern(name, how):
    pytest.importorskip("scipy")
    f = RELY[name]
    x = np.array([0.3, -1.2, 0.8])
    diagonal, full = np.diag([1.0, 2.0, 3.0]), np.arange(1.0, 10.0).reshape(3, 3)
    if how == "prepared":
        sj = dualad.prepare(f, x, args=(diagonal,), sparse=True)
    else:
        sj = dualad.SparseJacobian(f, x, args=(diagonal,), replay=how == "replayed")
    for A in (diagonal, diagonal, diagonal, full, full, full, diagonal, full):
        want = dualad.jacobian(lambda y: f(y, A), x)
        np.testing.assert_allclose(want, central_differences(lambda y: f(y, A), x), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(sj(x, A).toarray(), want, rtol=1e-13, atol=1e-13)


def test_a_fixed_pattern_refuses_a_float_arguments_new_nonzeros():
    pytest.importorskip("scipy")
    sj = dualad.SparseJacobian(RELY["matmul"], np.ones(3), args=(np.eye(3),), fixed=True)
    with pytest.raises(dualad.DualadError, match="remedy"):
        sj(np.ones(3), np.ones((3, 3)))


def test_a_time_argument_at_zero_is_not_a_pattern_change():
    pytest.importorskip("scipy")
    rhs = lambda t, y: np.concatenate([y[:1] * t, y[1:] * y[:-1]])  # noqa: E731
    y = np.array([0.3, -1.2, 0.8])
    sj = dualad.SparseJacobian(rhs, y, args=(0.0,), argnum=1)
    p = dualad.prepare(rhs, y, args=(0.0,), argnum=1, sparse=True)
    for t in (0.0, 1.0, 2.0, 0.0, 3.0):
        want = dualad.jacobian(lambda z: rhs(t, z), y)
        np.testing.assert_array_equal(sj(t, y).toarray(), want)
        np.testing.assert_array_equal(p(t, y).toarray(), want)
    assert sj.redetections == 0 and p.fallbacks == 0 and p.mismatches == 0  # t's zero is not relied on


@pytest.mark.parametrize("args", [0.0, "BDF", np.ones(2)])
@pytest.mark.parametrize("entry", ["prepare", "SparseJacobian"])
def test_args_that_are_not_a_tuple_are_refused_with_the_remedy(entry, args):
    if entry == "SparseJacobian":
        pytest.importorskip("scipy")
    build = dualad.prepare if entry == "prepare" else dualad.SparseJacobian
    with pytest.raises(dualad.DualadError, match=r"remedy: args=\("):
        build(lambda y, a: y * 2.0, np.ones(2), args=args)  # was: a bare TypeError, or args split in two


# ------------------------------------------------------------------ a prepared object sent to another process
def _branchy(x, a):
    return np.sin(x) * x[0] * a if x[1] > 0 else x ** 2


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "cloudpickle"])
def test_a_prepared_object_pickles_and_deep_copies_as_its_recipe(how):
    import copy
    import pickle
    p = dualad.prepare(_branchy, np.ones(3), args=(2.0,))
    x = np.array([0.3, -0.5, 2.0])
    p(x, 2.0)
    if how == "cloudpickle":
        cloudpickle = pytest.importorskip("cloudpickle")
        q = cloudpickle.loads(cloudpickle.dumps(p))
    elif how == "pickle":
        q = pickle.loads(pickle.dumps(p))  # was: "cannot pickle 'PyCapsule'" / a tape value's refusal
    else:
        q = copy.deepcopy(p)
    for point in (x, x + 1.0, np.ones(3)):
        for a in (2.0, 3.0):
            np.testing.assert_array_equal(q(point, a), dualad.jacobian(lambda z: _branchy(z, a), point))


# ------------------------------------------------------------------ a solver's function closing over x
# scipy's solvers call fun on plain floats; a fun that closes over the differentiated value returns a
# differentiable value all the same. scipy's C code replaced the conversion's error with "Result from
# function call is not a proper array of floats" (root, fsolve), a SystemError (brentq), or the refusal
# named the dualad mirror the user had called ("use dualad.scipy.integrate.solve_ivp instead").
def _closure_root(p):
    from dualad.scipy import optimize
    return optimize.root(lambda z: z ** 3 + z - p, np.zeros(3)).x


def _closure_brentq(p):
    from dualad.scipy import optimize
    return optimize.brentq(lambda z: z ** 3 + z - p[0], -5.0, 5.0) * p


def _closure_ode(p):
    from dualad.scipy import integrate
    return integrate.solve_ivp(lambda t, y: -p[0] ** 2 * y, (0.0, 1.0), np.stack([1.0, p[2]])).y[:, -1]


@pytest.mark.parametrize("f", [_closure_root, _closure_brentq, _closure_ode])
@pytest.mark.parametrize("entry", ["jacobian", "prepare"])
def test_a_solver_function_closing_over_x_names_args_as_the_remedy(f, entry):
    pytest.importorskip("scipy")
    with pytest.raises(dualad.DualadError, match=r"remedy: pass those parameters through args="):
        (dualad.jacobian if entry == "jacobian" else dualad.prepare)(f, np.array([0.5, -0.3, 1.2]))


# ------------------------------------------------------------------ every method on branchy code
# The guard suite (test_replay_guards.py) checks p.jacobian; these check every method at points on
# several branches, against the plain functions and (independently) J v against uᵀ J.
BRANCHY = {
    "if_else": lambda x: np.sum(x ** 2 * x[0]) if x[1] > 0 else np.sum(np.sin(x)),
    "mask_sum": lambda x: np.sum(x[x > 0.2] ** 3) + x[0] * x[1],
    "argmax_index": lambda x: x[np.argmax(x)] * np.sum(x),
    "sorted_weights": lambda x: np.sum(np.sort(x) * np.arange(1.0, 5.0) * x),
    "where": lambda x: np.sum(np.where(x > 0, x ** 2, np.cos(x) * x[0])),
    "newton_loop": lambda x: _newton(x),
    "scalar_style": lambda x: sum(x[i] ** 2 if x[i] > 0 else -x[i] * x[(i + 1) % 4] for i in range(4)),
    "kinks": lambda x: np.sum(np.abs(x) * np.maximum(x, 0.1) + np.clip(x, -0.5, 0.5) * x[0]),
}


def _newton(x):
    z = np.ones_like(x)
    for _ in range(50):
        step = (z * z - np.abs(x) - 1.0) / (2.0 * z)
        z = z - step
        if np.max(np.abs(step)) < 1e-13:
            break
    return np.sum(z * x)


@pytest.mark.parametrize("name", sorted(BRANCHY))
def test_every_method_on_branchy_code(name):
    f = BRANCHY[name]
    rng = np.random.default_rng(3)
    points = [rng.uniform(-1.5, 1.5, 4) for _ in range(3)]
    p = dualad.prepare(f, points[0])
    for x in points + points[::-1]:
        check_all_answers(p, f, x, rng, smooth=False)
        v, u = rng.standard_normal(4), 0.7
        _, t = p.jvp(x, v)
        _, a = p.vjp(x, np.asarray(u))
        np.testing.assert_allclose(u * t, a @ v, rtol=1e-12, atol=1e-12)
    assert p.replays > 0 and p.mismatches + p.replays + p.fallbacks >= 6


# ------------------------------------------------------------------ an int argument used as a shape
# Ints in args= are recorded as values (replayed at new values); one used as a shape or a size
# (np.zeros(k)) made numpy raise its own TypeError on the recorded value, and prepare raised it instead
# of keeping the argument a constant of the recording (as it did for a DualadError).
SHAPES = {
    "zeros": lambda y, k: np.concatenate([y, np.zeros(k)]) * y[0],
    "ones_index": lambda y, k: y * np.ones(k + 2)[k],
    "reshape_empty": lambda y, k: y.reshape(k, -1).sum(0) * np.empty(k).size,
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_an_int_argument_used_as_a_shape(name):
    f = SHAPES[name]
    y = np.array([0.3, 0.5, 0.9, 1.1])
    p = dualad.prepare(f, y, args=(2,))
    for k in (2, 1, 1, 1, 2):
        np.testing.assert_array_equal(p(y, k), dualad.jacobian(lambda z: f(z, k), y))


# ------------------------------------------------------------------ f deciding on an argument's type
# Float (and int) extra arguments reach f as dualad values during a recording (prepare) or a detection
# (SparseJacobian), so that new values replay. f that decides on their type took the other branch than
# it takes on the caller's argument, from the first call on: y * 3 where plain f is y * 2.
TYPED = {
    "isinstance_float": lambda y, t: y * 2.0 if isinstance(t, float) else y * 3.0,
    "isinstance_int": lambda y, n: y ** n if isinstance(n, int) else y * n,
    "np_isscalar": lambda y, t: y * 2.0 if np.isscalar(t) else y * 3.0,
    "hasattr_shape": lambda y, a: y * 2.0 if hasattr(a, "shape") else np.sin(y) * a,
    "isinstance_ndarray": lambda y, a: y * np.sum(a) if isinstance(a, np.ndarray) else y * a,
}
# (a numpy float64 counts as a Python float: hasattr(t, "shape") between those two is not told apart)
ARGUMENTS = [2, 2.0, np.array(2.0), np.array([1.0, 2.0, 3.0]), np.float32(2.0)]


@pytest.mark.parametrize("name", sorted(TYPED))
@pytest.mark.parametrize("how", ["prepare", "sparse", "SparseJacobian", "SparseJacobian-plain"])
def test_f_deciding_on_an_arguments_type(name, how):
    if how != "prepare":
        pytest.importorskip("scipy")
    f = TYPED[name]
    y = np.array([0.3, 0.5, 0.9])
    for first in ARGUMENTS:
        if how.startswith("SparseJacobian"):
            p = dualad.SparseJacobian(f, y, args=(first,), replay=how == "SparseJacobian")
        else:
            p = dualad.prepare(f, y, args=(first,), sparse=how == "sparse")
        for a in [first, first] + ARGUMENTS + ARGUMENTS[::-1] + [first * 1.5] * 3:
            want = dualad.jacobian(lambda z: f(z, a), y)
            got = p(y, a)
            np.testing.assert_allclose(got if how == "prepare" else got.toarray(), want, rtol=1e-14, atol=1e-14)


def test_a_time_argument_keeps_replaying():
    # the common case stays fast: t is a value of the recording, every new t replayed, nothing recorded
    rhs = lambda t, y: np.stack([-0.04 * y[0] + t * y[1] * y[2], 0.04 * y[0] - 3e7 * y[1] ** 2])  # noqa: E731
    y = np.array([1.0, 0.1, 0.2])
    p = dualad.prepare(rhs, y, args=(0.0,), argnum=1)
    for t in (0.0, 0.5, 1.5, np.float64(2.0), 3.0):
        np.testing.assert_array_equal(p(t, y), dualad.jacobian(lambda z: rhs(t, z), y))
    assert p.retapes == 0 and p.replays >= 4


# ------------------------------------------------------------------ a float argument read as a Python number
PLAIN_NUMBER = {
    "float": lambda t, y: y * float(t),
    "float_on_one_branch": lambda t, y: y * (float(t) if t > 1 else 1.0),
    "int_as_index": lambda t, y: y * y[int(t) % 3],
}


@pytest.mark.parametrize("name", sorted(PLAIN_NUMBER))
@pytest.mark.parametrize("how", ["prepare", "SparseJacobian", "SparseJacobian-plain"])
def test_a_float_argument_read_as_a_python_number(name, how):
    # SparseJacobian passed t as a dualad constant and float(t) raised a ConversionError saying "it would
    # lose track of which inputs it depends on", where dualad.jacobian of the same code works
    if how != "prepare":
        pytest.importorskip("scipy")
    f = PLAIN_NUMBER[name]
    y = np.array([0.3, 0.5, 0.9])
    if how == "prepare":
        p = dualad.prepare(f, y, args=(0.5,), argnum=1)
    else:
        p = dualad.SparseJacobian(f, y, args=(0.5,), argnum=1, replay=how == "SparseJacobian")
    for t in (0.5, 2.0, 2.0, 0.5, 3.0, 1.0, 1.0):
        got = p(t, y)
        np.testing.assert_array_equal(got if how == "prepare" else got.toarray(), dualad.jacobian(lambda z: f(t, z), y))
