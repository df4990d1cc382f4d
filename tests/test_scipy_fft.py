"""dualad.scipy.fft: scipy.fft's transforms under scipy's signatures, differentiable in both modes.

References: scipy.fft's own values, and central differences of scipy.fft on plain floats.
"""
import numpy as np
import pytest

import dualad

scipy_fft = pytest.importorskip("scipy.fft")
from dualad.scipy import fft as mirror  # noqa: E402

ONE_D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
MULTI_D = ("fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn")
COMPLEX_INPUT = {"irfft", "hfft", "irfft2", "irfftn", "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn"}
ARGS_1D = [((), {}), ((7,), {}), ((None, -1, "ortho"), {}), ((), {"n": 5, "norm": "forward"}),
           ((), {"workers": 2, "overwrite_x": True})]
ARGS_ND = [((), {}), (((3, 5),), {}), ((), {"axes": (1, 0), "norm": "ortho"}), ((), {"s": (4, 3), "norm": "forward"})]


def _through(name, args, kwargs, shape):
    """x (real, flat) -> real output, via scipy.fft.<name> or its mirror, with complex intermediates."""
    def run(module, v):
        a = v.reshape(shape)
        if name in COMPLEX_INPUT:
            a = a * (1.0 + 0.5j) + 0.25j * a[::-1]
        out = getattr(module, name)(a, *args, **kwargs)
        return np.concatenate([np.real(out).ravel(), np.imag(out).ravel()])
    return run


def _central(f, x, h=1e-6):
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=1)


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("case", range(len(ARGS_1D)))
def test_one_dimensional(name, case):
    args, kwargs = ARGS_1D[case]
    x = np.linspace(0.2, 1.3, 6) ** 1.5
    check(name, args, kwargs, (6,), x)


@pytest.mark.parametrize("name", MULTI_D)
@pytest.mark.parametrize("case", range(len(ARGS_ND)))
def test_multi_dimensional(name, case):
    args, kwargs = ARGS_ND[case]
    x = np.sin(np.arange(12.0)) + 1.5
    check(name, args, kwargs, (3, 4), x)


def check(name, args, kwargs, shape, x):
    run = _through(name, args, kwargs, shape)
    value = run(mirror, x)
    reference = run(scipy_fft, x)
    np.testing.assert_allclose(value, reference, rtol=1e-12, atol=1e-13)
    expected = _central(lambda v: run(scipy_fft, v), x)
    forward = dualad.jacobian(lambda v: run(mirror, v), x)
    reverse = dualad.tape.jacobian(lambda v: run(mirror, v), x)
    np.testing.assert_allclose(forward, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-12)


def test_plain_input_is_scipys_own_result():
    x = np.random.default_rng(0).normal(size=(4, 6))
    for name in ONE_D + MULTI_D:
        np.testing.assert_array_equal(getattr(mirror, name)(x), getattr(scipy_fft, name)(x))


def test_shifts_and_frequencies():
    x = np.arange(1.0, 7.0)
    f = lambda v: mirror.fftshift(v * v) + mirror.ifftshift(v)  # noqa: E731
    np.testing.assert_array_equal(f(x), scipy_fft.fftshift(x * x) + scipy_fft.ifftshift(x))
    np.testing.assert_allclose(dualad.jacobian(f, x), _central(f, x), rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(mirror.fftfreq(8, 0.1), scipy_fft.fftfreq(8, 0.1))
    np.testing.assert_array_equal(mirror.rfftfreq(8, 0.1), scipy_fft.rfftfreq(8, 0.1))


def test_plan_is_refused_with_remedy():
    with pytest.raises(dualad.DualadError, match="plan"):
        dualad.jacobian(lambda v: np.abs(mirror.fft(v, plan=object())), np.ones(4))


def test_scipy_fft_on_a_dual_names_the_mirror():
    with pytest.raises(dualad.DualadError, match=r"scipy\.fft\.rfft.*dualad\.scipy\.fft\.rfft"):
        dualad.jacobian(lambda v: np.abs(scipy_fft.rfft(v)), np.ones(4))
    with pytest.raises(dualad.DualadError, match=r"scipy\.fft\.dct.*no differentiable version"):
        dualad.jacobian(lambda v: scipy_fft.dct(v), np.ones(4))
