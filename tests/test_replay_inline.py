"""Partials written in place in replay programs (dualad/replay/inline.py): the same numbers as the rule's call."""
import re

import numpy as np
import pytest

from dualad import rules
from dualad.replay.codegen import Source
from dualad.replay.inline import inlined, lambda_body


def _elementwise_partials():
    out = []
    for func, entry in rules.TABLE.items():
        if type(entry) is rules.Elementwise:
            for pos, partial in enumerate(entry.partials):
                if callable(partial) and hasattr(partial, "__code__"):
                    out.append(pytest.param(func, pos, partial, id=f"{getattr(func, '__name__', func)}-{pos}"))
    return out


@pytest.mark.parametrize("func, pos, partial", _elementwise_partials())
def test_inlined_partial_equals_the_rule_call(func, pos, partial):
    """Every partial of the table that is written in place gives exactly the call's numbers (NaN, inf and
    signed zeros included), on the values the rule sees: f's value first, then its arguments."""
    code = Source()
    nargs = partial.__code__.co_argcount - 1
    names = ["o"] + [f"a{k}" for k in range(nargs)]
    text = inlined(partial, names, code)
    if text is None:
        pytest.skip("kept as a call")
    rng = np.random.default_rng(pos)
    args = [np.concatenate([rng.uniform(0.1, 0.9, 5), [0.5, 2.0, -0.0, np.inf, np.nan]]) for _ in range(nargs)]
    if func.nin != nargs:
        pytest.skip("not a plain ufunc signature")
    with np.errstate(all="ignore"):
        value = func(*args)
        expected = partial(value, *args)
        namespace = dict(code.namespace, o=value, **{f"a{k}": a for k, a in enumerate(args)})
        got = eval(text, namespace)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    assert np.array_equal(np.signbit(got), np.signbit(expected))


_KINDS = {
    "float64": lambda a: a,
    "float32": lambda a: a.astype(np.float32),
    "mixed": lambda a: a.astype(np.float32 if a[0] < 0.5 else np.float64),  # per argument: both dtypes meet
    "scalars": lambda a: a[3],  # 0-d values: literals stay Python numbers
}


@pytest.mark.parametrize("kind", sorted(_KINDS))
@pytest.mark.parametrize("func, pos, partial", _elementwise_partials())
def test_typed_literals_give_the_rule_call_bit_for_bit(func, pos, partial, kind):
    """With the recorded values given, number literals next to arrays are 0-d arrays of the array's
    dtype: the same numbers and dtype as the rule's call, for float64, float32 and mixed arguments;
    nothing changes for scalar values."""
    nargs = partial.__code__.co_argcount - 1
    if func.nin != nargs:
        pytest.skip("not a plain ufunc signature")
    rng = np.random.default_rng(pos)
    args = [_KINDS[kind](np.concatenate([rng.uniform(0.1, 0.9, 5), [0.5, 2.0, -0.0, np.inf, np.nan]]))
            for _ in range(nargs)]
    with np.errstate(all="ignore"):
        value = func(*args)
        expected = partial(value, *args)
    code = Source()
    names = ["o"] + [f"a{k}" for k in range(nargs)]
    text = inlined(partial, names, code, (value, *args))
    if text is None:
        pytest.skip("kept as a call")
    typed = [v for v in code.namespace.values() if type(v) is np.ndarray and v.ndim == 0]
    if kind == "scalars":
        assert not typed and text == inlined(partial, names, Source())
    with np.errstate(all="ignore"):
        got = eval(text, dict(code.namespace, o=value, **{f"a{k}": a for k, a in enumerate(args)}))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    assert np.asarray(got).dtype == np.asarray(expected).dtype and type(got) is type(expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_typed_literals_take_the_dtype_of_the_array_they_meet():
    code = Source()
    x64, x32 = np.linspace(0.1, 0.9, 4), np.linspace(0.1, 0.9, 4, dtype=np.float32)
    text = inlined(lambda o, x, y: 1.0 / (2 * x) - 3.0 * y, ["o", "v1", "v2"], code, (x64, x32, x64))
    literals = {name: v for name, v in code.namespace.items() if type(v) is np.ndarray and v.ndim == 0}
    assert sorted((float(v), v.dtype.name) for v in literals.values()) == \
        [(1.0, "float32"), (2.0, "float32"), (3.0, "float64")]
    assert not any(v.flags.writeable for v in literals.values())
    got = eval(text, dict(code.namespace, v1=x32, v2=x64))
    expected = 1.0 / (2 * x32) - 3.0 * x64
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_typed_literals_not_used_with_extra_array_arguments():
    """An extra argument's dtype is not guarded (a float32 array may come where float64 was recorded):
    its program keeps Python literals, which take whatever dtype arrives."""
    import dualad
    f = lambda x, w: np.log1p(x * w) * 2.0  # noqa: E731
    x0, w = np.linspace(0.1, 0.9, 5), np.linspace(1.0, 2.0, 5)
    p = dualad.prepare(f, x0, args=(w,))
    x = x0[::-1].copy()
    for ww in (w, w.astype(np.float32)):
        np.testing.assert_allclose(p(x, ww), dualad.jacobian(lambda v: f(v, ww), x), rtol=1e-12)
    assert "1.0 + " in p.traces[0].jacobian_code.source and p.fallbacks == 0


def test_only_plain_lambdas_are_written_in_place():
    code = Source()
    scale = 2.0
    alike = (lambda o, x, y: x - y, lambda o, x, y: y - x)  # same names and constants, written differently
    refused = [lambda o, x: x * scale,            # a closure
               lambda o, x, k=2.0: x * k,          # a default
               lambda o, *xs: xs[0],               # *args
               lambda o, x: [v for v in x],        # a comprehension
               np.cos, alike[0], alike[1]]
    for fn in refused:
        assert inlined(fn, ["o", "x", "y"][:max(2, getattr(getattr(fn, "__code__", None), "co_argcount", 2))],
                       code) is None
    same = (lambda o, x: np.cos(x) * 2.0, lambda o, x: np.cos(x) * 2.0)  # written alike: either is it
    assert inlined(same[1], ["v1", "v0"], code) == f"({code.const(np.cos, 'g')}(v0) * 2.0)"
    assert lambda_body(len) is None
    assert inlined(lambda o, x: x + 1.0, ["v1", "x[0]"], code) is None  # arguments must be names


def test_prepared_programs_use_no_partial_calls_where_written_in_place():
    import dualad
    f = lambda x: np.cosh(np.log1p(np.exp(np.sin(x))))  # noqa: E731
    x = np.linspace(0.1, 0.9, 6)
    p = dualad.prepare(f, x)
    np.testing.assert_allclose(p(x[::-1].copy()), dualad.jacobian(f, x[::-1].copy()), rtol=1e-14)
    source = p.traces[0].jacobian_code.source
    # log1p's partial 1.0 / (1.0 + x), its literals as 0-d float64 arrays (typed literals)
    assert "p_" not in source and re.search(r"\(g_\d+ / \(g_\d+ \+ v2\)\)", source)
    loss = lambda x: np.sum(np.tanh(x) * np.sin(x))  # noqa: E731
    q = dualad.prepare(loss, x)
    value, g = q.value_and_grad(x[::-1].copy())
    np.testing.assert_allclose(g, dualad.gradient(loss, x[::-1].copy()), rtol=1e-14)
    assert "p_" not in q.traces[0].reverse_single.source
