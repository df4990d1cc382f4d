"""Plain calls of dualad.scipy's mirrors give scipy's own results, with every option scipy has
(the mirror refuses some options on differentiable values only, with a DualadError)."""
from __future__ import annotations

import numpy as np
import pytest

scipy = pytest.importorskip("scipy")
import scipy.linalg  # noqa: E402
import scipy.ndimage  # noqa: E402
import scipy.signal  # noqa: E402

import dualad  # noqa: E402
from dualad.scipy import linalg, ndimage, signal  # noqa: E402

S = np.linspace(-1.0, 2.0, 12) ** 2 - 0.5
K = np.array([[0.5, -1.0]])
A = np.array([[1.0, 2.0, 0.5], [-0.3, 1.5, 1.0], [0.2, -0.7, 2.0]])  # not symmetric

# (name, mirror, scipy's function, arguments, keywords) of calls the mirror refuses on a differentiable value
CALLS = [
    ("convolve2d wrap", signal.convolve2d, scipy.signal.convolve2d, (S.reshape(3, 4), K), dict(boundary="wrap")),
    ("correlate2d symm", signal.correlate2d, scipy.signal.correlate2d, (S.reshape(3, 4), K),
     dict(boundary="symm", mode="same")),
    ("convolve2d fillvalue", signal.convolve2d, scipy.signal.convolve2d, (S.reshape(3, 4), K), dict(fillvalue=2.0)),
    ("fftconvolve axes", signal.fftconvolve, scipy.signal.fftconvolve, (S.reshape(3, 4), K), dict(axes=1)),
    ("lfilter zi", signal.lfilter, scipy.signal.lfilter, ([1.0, 0.5], [1.0, -0.3], S), dict(zi=[0.2])),
    ("detrend bp", signal.detrend, scipy.signal.detrend, (S,), dict(bp=[4, 8])),
    ("gaussian_filter1d order 1", ndimage.gaussian_filter1d, scipy.ndimage.gaussian_filter1d, (S, 1.3), dict(order=1)),
    ("map_coordinates order 3", ndimage.map_coordinates, scipy.ndimage.map_coordinates,
     (S.reshape(3, 4), [[0.5, 1.2, 1.9], [0.1, 2.5, 2.6]]), {}),
    ("schur non-symmetric", linalg.schur, scipy.linalg.schur, (A,), {}),
    ("funm non-symmetric", linalg.funm, scipy.linalg.funm, (A, np.sin), {}),
]


def _flat(result):
    return [np.asarray(r) for r in result] if isinstance(result, tuple) else [np.asarray(result)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, mirror, theirs, args, kwargs", CALLS, ids=[c[0] for c in CALLS])
def test_plain_call_is_scipys(name, mirror, theirs, args, kwargs):
    for ours, reference in zip(_flat(mirror(*args, **kwargs)), _flat(theirs(*args, **kwargs))):
        np.testing.assert_array_equal(ours, reference)
    # with a differentiable argument the mirror answers, or refuses with a DualadError (never scipy's
    # np.asarray, which would drop the derivative)
    def f(x):
        return _flat(mirror(x, *args[1:], **kwargs))[0]
    with pytest.raises(dualad.DualadError):
        dualad.jacobian(f, np.asarray(args[0], dtype=float))


def test_a_differentiable_keyword_goes_to_the_mirror():
    def f(x):
        return signal.lfilter([1.0, 0.5], [1.0, -0.3], S, zi=x)
    with pytest.raises(dualad.DualadError):  # zi= is refused on differentiable values, never dropped
        dualad.jacobian(f, np.array([0.2]))
