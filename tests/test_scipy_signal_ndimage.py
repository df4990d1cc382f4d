"""dualad.scipy.signal and dualad.scipy.ndimage: values equal scipy's, derivatives equal central
differences of scipy's own functions in every array argument, forward = reverse."""
from __future__ import annotations

import numpy as np
import pytest

ss = pytest.importorskip("scipy.signal")
nd = pytest.importorskip("scipy.ndimage")

import dualad  # noqa: E402
from dualad import tape  # noqa: E402
from dualad.scipy import ndimage, signal  # noqa: E402

from scipy_checks import check_mirror  # noqa: E402

rng = np.random.default_rng(11)
SIG = rng.standard_normal(7)
KER = rng.standard_normal(3)
IMG = rng.standard_normal((4, 5))
K2 = rng.standard_normal((2, 3))


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve"])
def test_convolve_correlate_1d(name, mode):
    ours, theirs = getattr(signal, name), getattr(ss, name)
    z = np.concatenate([SIG, KER])
    check_mirror(lambda v: ours(v[:7], v[7:], mode=mode), lambda v: theirs(v[:7], v[7:], mode=mode), z,
                 value_rtol=1e-10)
    check_mirror(lambda v: ours(v[7:], v[:7], mode=mode), lambda v: theirs(v[7:], v[:7], mode=mode), z,
                 value_rtol=1e-10)  # the larger array second


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d", "convolve", "correlate"])
def test_2d(name, mode):
    ours, theirs = getattr(signal, name), getattr(ss, name)
    z = np.concatenate([IMG.ravel(), K2.ravel()])
    check_mirror(lambda v: ours(v[:20].reshape(4, 5), v[20:].reshape(2, 3), mode=mode),
                 lambda v: theirs(v[:20].reshape(4, 5), v[20:].reshape(2, 3), mode=mode), z, value_rtol=1e-10)


def test_lfilter_fir_iir_axis():
    for b, a in (([1.0, 0.5, 0.2], [1.0]), ([1.0, 0.5], [2.0, -0.3, 0.1])):
        nb = len(b)
        z = np.concatenate([b, a, SIG])
        ours = lambda v: signal.lfilter(v[:nb], v[nb:nb + len(a)], v[nb + len(a):])  # noqa: E731
        theirs = lambda v: ss.lfilter(v[:nb], v[nb:nb + len(a)], v[nb + len(a):])  # noqa: E731
        check_mirror(ours, theirs, z, value_rtol=1e-10)
    X = rng.standard_normal((3, 6))
    for axis in (0, 1):
        check_mirror(lambda v: signal.lfilter([1.0, 0.5], [2.0, -0.3], v.reshape(3, 6), axis=axis),
                     lambda v: ss.lfilter([1.0, 0.5], [2.0, -0.3], v.reshape(3, 6), axis=axis), X.ravel(),
                     value_rtol=1e-10)
    with pytest.raises(dualad.UnsupportedFunctionError, match="zi="):
        dualad.jacobian(lambda v: signal.lfilter([1.0], [1.0, 0.5], v, zi=np.zeros(1)), SIG)


@pytest.mark.parametrize("kw", [{}, {"type": "constant"}, {"axis": 0}, {"axis": 0, "type": "constant"}])
def test_detrend(kw):
    X = rng.standard_normal((3, 6))
    check_mirror(lambda v: signal.detrend(v.reshape(3, 6), **kw), lambda v: ss.detrend(v.reshape(3, 6), **kw),
                 X.ravel(), value_rtol=1e-10)


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
def test_gaussian_filter1d(mode):
    check_mirror(lambda v: ndimage.gaussian_filter1d(v.reshape(4, 5), 1.1, mode=mode, cval=0.3),
                 lambda v: nd.gaussian_filter1d(v.reshape(4, 5), 1.1, mode=mode, cval=0.3), IMG.ravel(), value_rtol=1e-12)
    check_mirror(lambda v: ndimage.gaussian_filter1d(v.reshape(4, 5), 0.7, axis=0, mode=mode),
                 lambda v: nd.gaussian_filter1d(v.reshape(4, 5), 0.7, axis=0, mode=mode), IMG.ravel(), value_rtol=1e-12)
    # in sigma (the radius int(4 sigma + 0.5) stays fixed near 1.1)
    check_mirror(lambda s: ndimage.gaussian_filter1d(IMG, s, mode=mode), lambda s: nd.gaussian_filter1d(IMG, s, mode=mode),
                 np.array(1.1), value_rtol=1e-12)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", ["constant", "nearest"])
def test_map_coordinates(order, mode):
    coords = np.array([[0.3, 1.7, 2.6, -0.2, 3.4, 2.4], [0.1, 3.2, 3.7, 1.1, 0.6, 1.3]])  # no .5 ties (order 0)
    check_mirror(lambda v: ndimage.map_coordinates(v.reshape(4, 5), coords, order=order, mode=mode, cval=-1.0),
                 lambda v: nd.map_coordinates(v.reshape(4, 5), coords, order=order, mode=mode, cval=-1.0),
                 IMG.ravel(), value_rtol=1e-12)
    J = check_mirror(lambda c: ndimage.map_coordinates(IMG, c.reshape(2, 6), order=order, mode=mode, cval=-1.0),
                     lambda c: nd.map_coordinates(IMG, c.reshape(2, 6), order=order, mode=mode, cval=-1.0),
                     coords.ravel(), value_rtol=1e-12)
    if order == 0:
        assert not J.any()  # nearest neighbour: piecewise constant in the coordinates


def test_refusals():
    with pytest.raises(dualad.UnsupportedFunctionError, match="order=3"):
        dualad.jacobian(lambda v: ndimage.map_coordinates(v.reshape(4, 5), np.zeros((2, 1))), IMG.ravel())
    with pytest.raises(dualad.UnsupportedFunctionError, match="boundary"):
        dualad.jacobian(lambda v: signal.convolve2d(v.reshape(4, 5), K2, boundary="wrap"), IMG.ravel())


def test_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jss = pytest.importorskip("jax.scipy.signal")
    jnd = pytest.importorskip("jax.scipy.ndimage")
    z = np.concatenate([IMG.ravel(), K2.ravel()])
    want = jax.jit(jax.grad(lambda v: (jss.convolve2d(v[:20].reshape(4, 5), v[20:].reshape(2, 3), mode="same") ** 2).sum()))(z)
    np.testing.assert_allclose(tape.grad(lambda v: np.sum(signal.convolve2d(v[:20].reshape(4, 5), v[20:].reshape(2, 3),
                                                                           mode="same") ** 2), z), want, rtol=1e-10)
    coords = np.array([[0.3, 1.7, 2.6], [0.1, 3.2, 3.7]])
    want = jax.jit(jax.grad(lambda c: jnd.map_coordinates(IMG, c.reshape(2, 3), order=1).sum()))(coords.ravel())
    np.testing.assert_allclose(dualad.gradient(lambda c: np.sum(ndimage.map_coordinates(IMG, c.reshape(2, 3), order=1)),
                                               coords.ravel()), want, rtol=1e-10)
