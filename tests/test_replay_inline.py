"""Partials written in place in replay programs (dualad/replay/inline.py): the same numbers as the rule's call."""
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
    assert "p_" not in source and "1.0 / (1.0 + v2)" in source
    loss = lambda x: np.sum(np.tanh(x) * np.sin(x))  # noqa: E731
    q = dualad.prepare(loss, x)
    value, g = q.value_and_grad(x[::-1].copy())
    np.testing.assert_allclose(g, dualad.gradient(loss, x[::-1].copy()), rtol=1e-14)
    assert "p_" not in q.traces[0].reverse_single.source
