"""dualad.check_grad and dualad.testing.assert_derivatives_close."""
from __future__ import annotations

import numpy as np
import pytest

import dualad
from dualad import InputError, tape
from dualad.checking import GradCheckReport, central_differences
from dualad.testing import assert_derivatives_close


def smooth(v):
    return np.sum(np.sin(v) * v ** 2) + np.prod(v[:2])


def vector_map(v):
    return np.stack([np.sin(v[0]) * v[1], np.exp(v[1] - v[2]), v @ v, np.log1p(v[2] ** 2) / (1.0 + v[0] ** 2)])


def wrong_derivative(v):
    # the value is sum(v²) but stop_gradient hides one factor: AD says v, the truth is 2v
    return np.sum(v * tape.stop_gradient(v))


def test_a_correct_function_passes_every_pair():
    x = np.array([0.5, -1.0, 2.0])
    report = dualad.check_grad(smooth, x)
    assert isinstance(report, GradCheckReport) and report.passed and bool(report)
    assert [p.name for p in report.pairs] == ["forward vs reverse", "forward vs fd", "reverse vs fd"]
    assert report.pair("reverse", "forward").max_abs <= 1e-14
    assert 0 < report.pair("forward", "fd").max_abs < 1e-8
    hand = np.sin(x) * 2 * x + np.cos(x) * x ** 2 + np.array([x[1], x[0], 0.0])
    for J in report.jacobians.values():
        np.testing.assert_allclose(J, hand, rtol=1e-8, atol=1e-9)


def test_vector_output_keeps_the_jacobian_shape():
    x = np.array([0.5, -1.0, 2.0])
    report = dualad.check_grad(vector_map, x)
    assert report.passed
    assert report.out_shape == (4,) and report.x_shape == (3,)
    assert all(J.shape == (4, 3) for J in report.jacobians.values())
    m = np.arange(6.0).reshape(2, 3) / 4 + 0.1
    report = dualad.check_grad(lambda a: np.sum(a ** 3, axis=0), m)
    assert report.passed and report.jacobians["fd"].shape == (3, 2, 3)


def test_a_wrong_derivative_fails_and_points_at_the_entries():
    x = np.array([0.1, -3.0, 2.0])
    report = dualad.check_grad(wrong_derivative, x)
    assert not report.passed
    assert report.pair("forward", "reverse").passed  # both modes agree with each other...
    fd = report.pair("forward", "fd")
    assert not fd.passed and fd.max_abs == pytest.approx(3.0, rel=1e-6)  # ...but not with the truth 2v
    assert fd.max_rel == pytest.approx(0.5, rel=1e-6)
    index, values, pair, err = report.worst[0]
    assert index == (1,) and values["fd"] == pytest.approx(-6.0) and values["forward"] == pytest.approx(-3.0)
    assert err == pytest.approx(3.0, rel=1e-6) and "fd" in pair
    text = str(report)
    assert "FAILED" in text and "forward vs fd" in text and "(1,)" in text


def test_step_is_relative_to_each_entry():
    x = np.array([1e-3, 2.0, -300.0])
    report = dualad.check_grad(smooth, x)
    base = np.finfo(np.float64).eps ** (1 / 3)
    np.testing.assert_allclose(report.steps, base * np.maximum(1.0, np.abs(x)))
    assert report.rel_step == pytest.approx(base)
    _, h = central_differences(smooth, x, rel_step=1e-4)
    np.testing.assert_allclose(h, 1e-4 * np.array([1.0, 2.0, 300.0]))


def test_central_differences_are_second_order_accurate():
    x = np.array([0.3, 1.7])
    J, _ = central_differences(lambda v: np.exp(v) * v, x)
    np.testing.assert_allclose(J, np.diag(np.exp(x) * (1 + x)), rtol=1e-9, atol=1e-10)


def test_str_is_a_readable_table():
    text = str(dualad.check_grad(vector_map, np.array([0.5, -1.0, 2.0])))
    lines = text.splitlines()
    assert lines[0].startswith("check_grad: f: R^3 -> R^4")
    assert any(line.startswith("pair") and "max abs err" in line and "max rel err" in line for line in lines)
    assert sum(line.startswith(("forward vs", "reverse vs")) for line in lines) == 3
    assert "worst entries" in text and lines[-1].startswith("PASSED")


def test_methods_subset_and_tolerances():
    x = np.array([0.5, 1.5])
    report = dualad.check_grad(smooth, x, methods=("reverse", "fd"))
    assert list(report.jacobians) == ["reverse", "fd"] and len(report.pairs) == 1
    tight = dualad.check_grad(smooth, x, methods=("forward", "fd"), rtol=0.0, atol=1e-16)
    assert not tight.passed  # finite differences are not exact
    with pytest.raises(InputError):
        dualad.check_grad(smooth, x, methods=("forward",))
    with pytest.raises(InputError):
        dualad.check_grad(smooth, x, methods=("forward", "symbolic"))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_in_one_method_is_a_failure():
    # sqrt at 0: both modes give +inf (they agree); central differences step to sqrt(-h) = nan
    report = dualad.check_grad(lambda v: np.sum(np.sqrt(v)), np.array([0.0, 1.0]))
    assert report.pair("forward", "reverse").passed
    assert not report.pair("forward", "fd").passed and not report.passed
    assert np.isnan(report.jacobians["fd"][0]) and np.isinf(report.jacobians["reverse"][0])
    assert report.worst[0][0] == (0,)


def test_assert_derivatives_close_raises_with_the_report():
    x = np.array([0.5, -1.0, 2.0])
    report = assert_derivatives_close(smooth, x)
    assert report.passed
    with pytest.raises(AssertionError) as info:
        assert_derivatives_close(wrong_derivative, x, worst=2)
    message = str(info.value)
    assert "derivatives disagree" in message and "FAILED" in message and "forward vs fd" in message
