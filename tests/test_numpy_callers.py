"""numpy functions that call np.asarray before any dispatch (np.r_, np.c_, np.full, np.vectorize,
numpy.polynomial's classes and fitters) cannot see a differentiable value: the refusal names the
function the user called and what to write instead, in both modes."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import Polynomial
from numpy.polynomial import polynomial as P

import dualad
from dualad import tape
from dualad.errors import ConversionError

X = np.array([0.3, 0.5, 0.9])


@pytest.mark.parametrize("engine", [dualad.jacobian, tape.jacobian], ids=["forward", "reverse"])
@pytest.mark.parametrize("f, named, remedy", [
    (lambda x: np.r_[x, x[:1]], r"np\.r_\[\.\.\.\] / np\.c_", r"np\.concatenate"),
    (lambda x: np.c_[x, x], r"np\.r_\[\.\.\.\] / np\.c_", r"np\.column_stack"),
    (lambda x: np.full((2,), x[0]), r"np\.full\(shape, value\)", r"np\.full_like\(x, value, shape=shape\)"),
    (lambda x: np.vectorize(lambda t: t * t)(x), r"np\.vectorize", r"numpy operations on whole arrays"),
    (lambda x: Polynomial([1.0, 2.0, 3.0])(x), r"numpy\.polynomial", r"polyval\(x, c\)"),
    (lambda x: P.polyvander(x, 2), r"numpy\.polynomial", r"np\.vander"),
    (lambda x: P.polyfit(np.arange(3.0), x, 1), r"numpy\.polynomial", r"np\.polyfit"),
], ids=["r_", "c_", "full", "vectorize", "Polynomial", "polyvander", "polyfit"])
def test_refusal_names_the_numpy_function_and_its_remedy(engine, f, named, remedy):
    with pytest.raises(ConversionError, match=f"inside {named}.*instead, .*{remedy}"):
        engine(f, X)


def test_the_remedies_work():
    want = np.diag(2 * X)
    np.testing.assert_allclose(dualad.jacobian(lambda x: P.polyval(x, [1.0, 0.0, 1.0]), X), want)
    np.testing.assert_allclose(dualad.jacobian(lambda x: np.full_like(x, x[0], shape=(2,)), X), [[1, 0, 0]] * 2)
    np.testing.assert_allclose(tape.jacobian(lambda x: np.concatenate([x, x[:1]]), X)[-1], [1, 0, 0])


def test_a_plain_conversion_elsewhere_gets_no_numpy_hint():
    with pytest.raises(ConversionError) as err:
        dualad.jacobian(lambda x: np.asarray(x), X)
    assert "This happened inside" not in str(err.value)
