"""numpy.fft rules: every transform is linear, so each is a tangent map plus its transpose.

Under dualad's complex convention (:mod:`dualad.wirtinger`, JAX's) the adjoint of a
complex-linear map is its plain transpose. The DFT matrix ``F`` is symmetric, so:

* ``fft``/``ifft``: the transpose of ``x -> F_n resize_n(x)`` is ``resize_L(F_n ct)``, the same
  transform (same ``norm``) followed by the inverse of the ``n=`` padding or truncation;
* ``rfft`` (real in, the first ``n//2 + 1`` rows of ``F``): ``Re(fft(pad_n(ct)))``, since a real
  input keeps the real part of its cotangent;
* ``irfft`` (real-linear, not complex-linear: it reads the half spectrum as Hermitian, so
  the bins ``1 .. n/2`` stand for two): ``w * conj(rfft(ct))`` with the Hermitian doubling
  ``w = (1, 2, ..., 2, 1)`` (last 1 only for even ``n``) and the dual ``norm``
  (backward <-> forward);
* ``hfft``, ``ihfft``, the 2-D and n-D transforms, ``fftshift``/``ifftshift`` are written in
  terms of those (numpy's own definitions), so they need no formula of their own.

Every ``norm`` (``"backward"``, ``"ortho"``, ``"forward"``), ``n=``/``s=`` and ``axis``/``axes``
are supported. ``np.fft.fftfreq``/``rfftfreq`` need nothing: with a differentiable ``d`` they
are plain arithmetic.

>>> import numpy as np, dualad
>>> x = np.array([1.0, 2.0, 0.5, -1.0])
>>> J = dualad.jacobian(lambda v: np.abs(np.fft.fft(v)), x)
>>> bool(np.allclose(J, dualad.tape.jacobian(lambda v: np.abs(np.fft.fft(v)), x)))
True
"""
from __future__ import annotations

import operator

import numpy as np

from ..rules import TABLE, Composite, Linear
from .common import arg

__all__ = ["dual_norm"]

_FFT = np.fft


def dual_norm(norm):
    """The ``norm`` whose scaling is the transpose partner's: backward <-> forward, ortho stays."""
    return {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]


def _axis(value, axis) -> int:
    """``axis`` as a non-negative index of the VALUE's axes (tangents carry one more, last)."""
    return operator.index(axis) % np.ndim(value)


def _resize(t, axis: int, length: int):
    """``t`` cut or zero-padded to ``length`` along ``axis`` (what ``n=`` does to the input)."""
    have = np.shape(t)[axis]
    if have == length:
        return t
    if have > length:
        index = [slice(None)] * np.ndim(t)
        index[axis] = slice(0, length)
        return t[tuple(index)]
    pad = [(0, 0)] * np.ndim(t)
    pad[axis] = (0, length - have)
    return np.pad(t, pad)


def _options(args, kwargs, default_n):
    """(n, axis, norm) of a 1-D transform called as ``f(a, n, axis, norm)``."""
    a = args[0]
    axis = _axis(a, arg(args, kwargs, 2, "axis", -1))
    n = arg(args, kwargs, 1, "n", None)
    n = default_n(np.shape(a)[axis]) if n is None else operator.index(n)
    return n, axis, arg(args, kwargs, 3, "norm", None)


def _same_length(length):
    return length


def _complex_tangent(transform):
    def tangent(t, a, *rest, **kwargs):
        n, axis, norm = _options((a,) + rest, kwargs, _same_length)
        return transform(t, n=n, axis=axis, norm=norm)
    return tangent


def _complex_transpose(transform):
    def transpose(ct, a, *rest, **kwargs):
        n, axis, norm = _options((a,) + rest, kwargs, _same_length)
        return _resize(transform(ct, axis=axis, norm=norm), axis, np.shape(a)[axis])
    return transpose


TABLE[_FFT.fft] = Linear({0: _complex_tangent(_FFT.fft)}, {0: _complex_transpose(_FFT.fft)}, complex=True)
TABLE[_FFT.ifft] = Linear({0: _complex_tangent(_FFT.ifft)}, {0: _complex_transpose(_FFT.ifft)}, complex=True)


def _rfft_tangent(t, a, *rest, **kwargs):
    n, axis, norm = _options((a,) + rest, kwargs, _same_length)
    return _FFT.rfft(t, n=n, axis=axis, norm=norm)


def _rfft_transpose(ct, a, *rest, **kwargs):
    n, axis, norm = _options((a,) + rest, kwargs, _same_length)
    full = _FFT.fft(_resize(ct, axis, n), axis=axis, norm=norm)  # F^T = F; the rows past n//2 get 0
    return _resize(np.real(full), axis, np.shape(a)[axis])


def _half_to_full(length):
    return 2 * (length - 1)


def _irfft_tangent(t, a, *rest, **kwargs):
    n, axis, norm = _options((a,) + rest, kwargs, _half_to_full)
    return _FFT.irfft(t, n=n, axis=axis, norm=norm)


def _irfft_transpose(ct, a, *rest, **kwargs):
    n, axis, norm = _options((a,) + rest, kwargs, _half_to_full)
    half = np.conjugate(_FFT.rfft(ct, axis=axis, norm=dual_norm(norm)))
    m = n // 2 + 1
    weights = np.full(m, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0  # the Nyquist bin stands for itself only
    shape = [1] * np.ndim(half)
    shape[axis] = m
    return _resize(half * weights.reshape(shape), axis, np.shape(a)[axis])


TABLE[_FFT.rfft] = Linear({0: _rfft_tangent}, {0: _rfft_transpose}, complex=True)
TABLE[_FFT.irfft] = Linear({0: _irfft_tangent}, {0: _irfft_transpose}, complex=True)


# ----------------------------------------------------------------------------- written in terms of the above
def _hfft(a, n=None, axis=-1, norm=None, out=None):
    """numpy's definition: irfft of the conjugate, with the opposite normalisation."""
    _no_out("hfft", out)
    return _FFT.irfft(np.conjugate(a), n, axis, norm=dual_norm(norm))


def _ihfft(a, n=None, axis=-1, norm=None, out=None):
    _no_out("ihfft", out)
    return np.conjugate(_FFT.rfft(a, n, axis, norm=dual_norm(norm)))


def _no_out(name, out):
    if out is not None:
        from ..errors import UnsupportedFunctionError
        raise UnsupportedFunctionError(f"np.fft.{name}(..., out=...) is not supported on differentiable values; "
                                       "remedy: leave out= away and assign the result")


def _shape_and_axes(a, s, axes, half: bool = False):
    """numpy's reading of ``s=`` and ``axes=`` for the n-D transforms."""
    shape = np.shape(a)
    ndim = len(shape)
    if s is None:
        axes = list(range(ndim)) if axes is None else [operator.index(x) % ndim for x in axes]
        s = [shape[x] for x in axes]
        if half and axes:
            s[-1] = 2 * (shape[axes[-1]] - 1)
    else:
        s = list(s)
        axes = list(range(ndim - len(s), ndim)) if axes is None else [operator.index(x) % ndim for x in axes]
        if len(s) != len(axes):
            raise ValueError("Shape and axes have different lengths.")
        s = [shape[x] if n == -1 else operator.index(n) for n, x in zip(s, axes)]
    return s, axes


def _nd(transform, two_d: bool):
    def impl(a, s=None, axes=(-2, -1) if two_d else None, norm=None, out=None):
        _no_out(transform.__name__ + ("2" if two_d else "n"), out)
        s, axes = _shape_and_axes(a, s, axes)
        for n, x in reversed(list(zip(s, axes))):  # numpy's order: the last axis first
            a = transform(a, n=n, axis=x, norm=norm)
        return a
    return impl


def _rfftn_impl(two_d: bool):
    def impl(a, s=None, axes=(-2, -1) if two_d else None, norm=None, out=None):
        _no_out("rfft2" if two_d else "rfftn", out)
        s, axes = _shape_and_axes(a, s, axes)
        a = _FFT.rfft(a, n=s[-1], axis=axes[-1], norm=norm)
        for n, x in reversed(list(zip(s[:-1], axes[:-1]))):
            a = _FFT.fft(a, n=n, axis=x, norm=norm)
        return a
    return impl


def _irfftn_impl(two_d: bool):
    def impl(a, s=None, axes=(-2, -1) if two_d else None, norm=None, out=None):
        _no_out("irfft2" if two_d else "irfftn", out)
        s, axes = _shape_and_axes(a, s, axes, half=True)
        for n, x in zip(s[:-1], axes[:-1]):
            a = _FFT.ifft(a, n=n, axis=x, norm=norm)
        return _FFT.irfft(a, n=s[-1], axis=axes[-1], norm=norm)
    return impl


def _fftshift(x, axes=None):
    """numpy's definition: roll every axis (or ``axes``) by half its length."""
    shape = np.shape(x)
    if axes is None:
        axes = tuple(range(len(shape)))
        shift = [dim // 2 for dim in shape]
    elif isinstance(axes, (int, np.integer)):
        shift = shape[axes] // 2
    else:
        shift = [shape[ax] // 2 for ax in axes]
    return np.roll(x, shift, axes)


def _ifftshift(x, axes=None):
    shape = np.shape(x)
    if axes is None:
        axes = tuple(range(len(shape)))
        shift = [-(dim // 2) for dim in shape]
    elif isinstance(axes, (int, np.integer)):
        shift = -(shape[axes] // 2)
    else:
        shift = [-(shape[ax] // 2) for ax in axes]
    return np.roll(x, shift, axes)


for _func, _impl in ((_FFT.hfft, _hfft), (_FFT.ihfft, _ihfft),
                     (_FFT.fftn, _nd(_FFT.fft, False)), (_FFT.ifftn, _nd(_FFT.ifft, False)),
                     (_FFT.fft2, _nd(_FFT.fft, True)), (_FFT.ifft2, _nd(_FFT.ifft, True)),
                     (_FFT.rfftn, _rfftn_impl(False)), (_FFT.rfft2, _rfftn_impl(True)),
                     (_FFT.irfftn, _irfftn_impl(False)), (_FFT.irfft2, _irfftn_impl(True)),
                     (_FFT.fftshift, _fftshift), (_FFT.ifftshift, _ifftshift)):
    TABLE[_func] = Composite(_impl, complex=True)
