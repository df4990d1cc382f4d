"""Sample calls for every non-elementwise entry of :data:`dualad.rules.TABLE`.

``CASES`` maps each Linear, Custom, Composite and ZeroDerivative key (including
``operator.getitem`` and ``rules.SETITEM``) to a list of ``(f, x)`` pairs: ``f``
is a plain-numpy function of ONE array ``x`` that exercises the key with some
argument form (axis None / int / negative / tuple, keepdims, 1-D to 3-D,
broadcasting, a constant operand, ...), and ``x`` is a point where ``f`` is
smooth (no ties, no kinks, well-conditioned matrices), so central finite
differences give the reference derivative.

``f`` runs unchanged on an ndarray (the reference) or on a differentiable
value (``dualad.Dual``, a tape value); it must not call anything but numpy.
Functions of several differentiable arguments take them all out of ``x``, so
one Jacobian checks every argument at once; separate cases hold one argument
constant.

Other tables:

``RAISES``
    keys whose every call on a differentiable value must raise
    ``UnsupportedFunctionError`` (a Composite that refuses).
``NO_DERIVATIVE_CASES``
    ``(f, x)`` samples for NoDerivative entries: on a Dual, ``f`` must return
    plain values equal to ``f`` on the plain array.

Helpers: :func:`central_jacobian` (the reference), :func:`case_id`.

>>> import numpy as np
>>> from cases import CASES
>>> f, x = CASES[np.sum][0]
>>> np.shape(central_jacobian(f, x))
(6,)
"""
from __future__ import annotations

import operator

import numpy as np

from dualad import rules

__all__ = ["CASES", "RAISES", "NO_DERIVATIVE_CASES", "central_jacobian", "case_id", "all_cases"]

_rng = np.random.default_rng(20240611)


def _r(*shape, lo=-2.0, hi=2.0):
    """A random array with entries well apart from each other (no ties for max/sort)."""
    n = int(np.prod(shape))
    # a shuffled grid plus jitter: distinct values, at least 0.5 * step apart
    grid = np.linspace(lo, hi, n) if n > 1 else np.array([(lo + hi) / 2])
    step = (hi - lo) / max(n - 1, 1)
    vals = _rng.permutation(grid) + _rng.uniform(-0.2, 0.2, n) * step
    return vals.reshape(shape)


def _pos(*shape):
    return _r(*shape, lo=0.5, hi=3.0)


def _wellcond(n, batch=()):
    """Matrices (stacked over ``batch``) with condition number of a few."""
    a = _rng.uniform(-0.5, 0.5, batch + (n, n))
    return a + 2.0 * np.eye(n)


# constants used by the cases (fixed once, so reference and AD see the same)
_B34 = _r(3, 4)
_B42 = _r(4, 2)
_B4 = _r(4)
_B3 = _r(3)
_B23 = _r(2, 3)
_MASK6 = np.array([True, False, True, True, False, True])
_MASK23 = np.array([[True, False, True], [False, True, True]])
_IDX = np.array([[0, 2], [1, 1]])
_C31 = _r(3, 1)
_A33 = _wellcond(3)
_B232 = _r(2, 3, 2)
_W23 = _pos(2, 3)
_W3 = _pos(3)


def central_jacobian(f, x, rel_step: float = 1e-6):
    """The Jacobian of ``f`` at ``x`` (shape ``f(x).shape + x.shape``) by central differences."""
    x = np.array(x, dtype=np.float64)
    y0 = np.asarray(f(x), dtype=np.float64)
    J = np.zeros(y0.shape + (x.size,))
    flat = x.reshape(-1)
    for i in range(x.size):
        h = rel_step * max(1.0, abs(flat[i]))
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        fu = np.asarray(f(up.reshape(x.shape)), dtype=np.float64)
        fd = np.asarray(f(down.reshape(x.shape)), dtype=np.float64)
        J[..., i] = (fu - fd) / (2.0 * h)
    return J.reshape(y0.shape + x.shape)


def case_id(key) -> str:
    """A readable name for a table key (for pytest ids)."""
    if key is operator.getitem:
        return "getitem"
    if key is rules.SETITEM:
        return "SETITEM"
    mod = getattr(key, "__module__", "") or ""
    name = getattr(key, "__name__", repr(key))
    return f"linalg.{name}" if "linalg" in mod else name


# ------------------------------------------------------------------ SETITEM helpers (a[key] = v)
def _set_slice(x):
    y = x.copy()
    y[1:3] = x[:2] ** 2
    return y


def _set_buffer(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = np.sin(x[i]) * x[-1 - i]
    return y


def _set_mask(x):
    y = x * 2.0
    y[_MASK6] = 0.5
    return y


def _set_mask_dual(x):
    y = x.copy()
    y[_MASK6] = x[:4] * x[2:]
    return y


def _set_2d_column(x):
    y = x.copy()
    y[:, 1] = x[:, 0] * x[:, 2]
    return y


def _set_broadcast(x):
    y = x.copy()
    y[0] = x[1, 2]  # a scalar broadcast into a row
    return y


def _set_ellipsis(x):
    y = x.copy()
    y[..., 0] = np.exp(x[..., 1])
    return y


def _set_int_array(x):
    y = np.zeros_like(x)
    y[[0, 3, 5]] = x[[1, 2, 4]] ** 3
    return y


def _set_constant_into_dual(x):
    y = np.sin(x)
    y[1, :] = _B3
    return y


def _set_into_slice_view_of_copy(x):
    y = x.copy()
    y[1:, 1:] = x[:-1, :-1] * 3.0
    return y


def _nan_to_num_infs(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x / (x > 0) + 0.0 * np.log(x + 1.0)  # inf and nan entries
    return np.nan_to_num(y, nan=-1.0, posinf=5.0, neginf=-5.0)


# ------------------------------------------------------------------ the cases
CASES: dict = {
    # ---------------- Linear
    np.sum: [
        (lambda x: np.sum(x), _r(6)),
        (lambda x: np.sum(x, axis=0), _r(2, 3)),
        (lambda x: np.sum(x, axis=-1), _r(2, 3)),
        (lambda x: np.sum(x, axis=(0, 2)), _r(2, 3, 2)),
        (lambda x: np.sum(x, axis=1, keepdims=True), _r(2, 3, 2)),
        (lambda x: np.sum(x, keepdims=True), _r(2, 3)),
        (lambda x: np.sum(x ** 2, axis=(-1, 0)), _r(2, 3, 2)),
        (lambda x: x.sum(axis=1), _r(3, 2)),
    ],
    np.copy: [
        (lambda x: np.copy(x) * x, _r(4)),
        (lambda x: np.copy(x[:, 1]), _r(2, 3)),
    ],
    np.copyto: [  # an in-place write (through views: tests/test_alias_views.py)
        (lambda x: [np.copyto(b := np.zeros_like(x), x * x), b][1], _r(4)),
        (lambda x: [np.copyto(b := x * 1.0, x[::-1] ** 2), b][1], _r(4)),
        (lambda x: [np.copyto(b := x * 1.0, x[0], where=x > 0), b][1], _r(3)),
    ],
    np.cumsum: [
        (lambda x: np.cumsum(x), _r(5)),
        (lambda x: np.cumsum(x), _r(2, 3)),
        (lambda x: np.cumsum(x, axis=0), _r(3, 2)),
        (lambda x: np.cumsum(x, axis=-1), _r(2, 3)),
        (lambda x: np.cumsum(x ** 2, axis=1), _r(2, 3, 2)),
    ],
    np.reshape: [
        (lambda x: np.reshape(x, (-1,)), _r(2, 3)),
        (lambda x: np.reshape(x, (3, 2)) ** 2, _r(2, 3)),
        (lambda x: np.reshape(x, (4, -1)), _r(2, 3, 2)),
        (lambda x: np.reshape(x, ()), _r(1)),
        (lambda x: np.reshape(x, 6), _r(2, 3)),
        (lambda x: x.reshape(2, 2, 2), _r(8)),
    ],
    np.transpose: [
        (lambda x: np.transpose(x), _r(2, 3)),
        (lambda x: np.transpose(x, (1, 0, 2)), _r(2, 3, 2)),
        (lambda x: np.transpose(x, (-1, 0, -2)), _r(2, 3, 2)),
        (lambda x: x.T * x.T, _r(3, 2)),
        (lambda x: np.transpose(x), _r(4)),
    ],
    np.broadcast_to: [
        (lambda x: np.broadcast_to(x, (2, 3)), _r(3)),
        (lambda x: np.broadcast_to(x, (3, 4)) * _B34, _r(3, 1)),
        (lambda x: np.broadcast_to(x, (2, 3)), _r()),
    ],
    operator.getitem: [
        (lambda x: x[2], _r(5)),
        (lambda x: x[-1], _r(5)),
        (lambda x: x[1:4], _r(5)),
        (lambda x: x[::-2], _r(5)),
        (lambda x: x[1], _r(3, 4)),
        (lambda x: x[:, 2], _r(3, 4)),
        (lambda x: x[1, -2], _r(3, 4)),
        (lambda x: x[..., 1], _r(2, 3, 4)),
        (lambda x: x[0, ...], _r(2, 3, 4)),
        (lambda x: x[None], _r(3)),
        (lambda x: x[:, None, 1:], _r(2, 3)),
        (lambda x: x[..., None], _r(2, 3)),
        (lambda x: x[[0, 2, 2, 1]], _r(4)),
        (lambda x: x[_IDX], _r(4)),
        (lambda x: x[[0, 1], [2, 0]], _r(2, 3)),
        (lambda x: x[:, [2, 0, 0]], _r(2, 3)),
        (lambda x: x[[1, 0], :, [0, 1]], _r(2, 3, 2)),
        (lambda x: x[_MASK6], _r(6)),
        (lambda x: x[_MASK23], _r(2, 3)),
        (lambda x: x[x > 0] ** 2, _r(6)),
        (lambda x: x[..., _MASK6[:3]], _r(2, 3)),
        (lambda x: x[()], _r(3)),
    ],
    rules.SETITEM: [
        (_set_slice, _r(5)),
        (_set_buffer, _r(4)),
        (_set_mask, _r(6)),
        (_set_mask_dual, _r(6)),
        (_set_2d_column, _r(3, 3)),
        (_set_broadcast, _r(2, 3)),
        (_set_ellipsis, _r(2, 2, 3)),
        (_set_int_array, _r(6)),
        (_set_constant_into_dual, _r(3, 3)),
        (_set_into_slice_view_of_copy, _r(3, 3)),
    ],
    np.where: [
        (lambda x: np.where(x > 0, x ** 2, -x), _r(6)),
        (lambda x: np.where(_MASK23, x, 0.0), _r(2, 3)),
        (lambda x: np.where(_MASK23, 1.0, np.exp(x)), _r(2, 3)),
        (lambda x: np.where(_C31 > 0, x, x[::-1] * 2.0), _r(4)),
        (lambda x: np.where(x[:, :1] > 0, x[:, 1:], _B3[:2]), _r(3, 3)),
        (lambda x: np.where(x > 0, np.log(np.abs(x)), x), _r(5)),
    ],
    np.roll: [
        (lambda x: np.roll(x, 2), _r(5)),
        (lambda x: np.roll(x, -1), _r(2, 3)),
        (lambda x: np.roll(x, 1, axis=0), _r(3, 2)),
        (lambda x: np.roll(x, 2, axis=-1), _r(2, 3)),
        (lambda x: np.roll(x, (1, -1), axis=(0, 1)), _r(3, 3)),
    ],
    np.matmul: [
        (lambda x: x @ _B42, _r(3, 4)),
        (lambda x: _B34 @ x, _r(4, 2)),
        (lambda x: np.matmul(x[:12].reshape(3, 4), x[12:].reshape(4, 2)), _r(20)),
        (lambda x: x @ _B4, _r(3, 4)),
        (lambda x: _B4 @ x, _r(4, 2)),
        (lambda x: x[:4] @ x[4:], _r(8)),
        (lambda x: x[:4] @ x[4:].reshape(4, 2), _r(12)),
        (lambda x: x[:6].reshape(2, 3) @ x[6:], _r(9)),
        (lambda x: x @ _B34, _r(2, 2, 3)),
        (lambda x: x[:12].reshape(2, 2, 3) @ x[12:].reshape(2, 3, 1), _r(18)),
        (lambda x: x[:6].reshape(2, 1, 1, 3) @ x[6:].reshape(3, 3, 1), _r(15)),
        (lambda x: np.matmul(x, x), _r(3, 3)),
        (lambda x: x @ x.T, _r(2, 3)),
    ],
    np.einsum: [
        (lambda x: np.einsum("ij,jk->ik", x, _B34), _r(2, 3)),
        (lambda x: np.einsum("ij,jk->ik", x[:6].reshape(2, 3), x[6:].reshape(3, 2)), _r(12)),
        (lambda x: np.einsum("ij,jk", _B23, x), _r(3, 4)),
        (lambda x: np.einsum("ii->", x), _r(3, 3)),
        (lambda x: np.einsum("ii->i", x) * 2.0, _r(3, 3)),
        (lambda x: np.einsum("ij->j", x), _r(2, 3)),
        (lambda x: np.einsum("ij->ji", x), _r(2, 3)),
        (lambda x: np.einsum("i,i", x[:3], x[3:]), _r(6)),
        (lambda x: np.einsum("i,j->ij", x, x), _r(3)),
        (lambda x: np.einsum("ijk,kl->il", x, _B42[:2]), _r(2, 3, 2)),
        (lambda x: np.einsum("ij,jk,kl->il", x, x, x), _r(2, 2)),
        (lambda x: np.einsum("i j , j -> i", _B34, x), _r(4)),
    ],
    # ---------------- Custom
    np.concatenate: [
        (lambda x: np.concatenate([x, x ** 2]), _r(3)),
        (lambda x: np.concatenate([x, _B23]), _r(2, 3)),
        (lambda x: np.concatenate([_B23, x, x], axis=1), _r(2, 3)),
        (lambda x: np.concatenate([x, np.sin(x)], axis=-1), _r(2, 2, 3)),
        (lambda x: np.concatenate([x, _B23], axis=None), _r(3, 2)),
        (lambda x: np.concatenate((x[:2], _B3, x[2:])), _r(5)),
    ],
    np.max: [
        (lambda x: np.max(x), _r(5)),
        (lambda x: np.max(x, axis=0), _r(3, 4)),
        (lambda x: np.max(x, axis=-1), _r(3, 4)),
        (lambda x: np.max(x, axis=(0, 2)), _r(2, 3, 2)),
        (lambda x: np.max(x, axis=1, keepdims=True), _r(2, 3, 2)),
        (lambda x: np.max(x, keepdims=True), _r(2, 3)),
        (lambda x: x.max(axis=0), _r(3, 2)),
    ],
    np.amax: [
        (lambda x: np.amax(x), _r(2, 3)),
        (lambda x: np.amax(x, axis=1), _r(3, 4)),
        (lambda x: np.amax(x, -1, keepdims=True), _r(2, 3, 2)),
    ],
    np.min: [
        (lambda x: np.min(x), _r(5)),
        (lambda x: np.min(x, axis=0), _r(3, 4)),
        (lambda x: np.min(x, axis=(1, 2)), _r(2, 3, 2)),
        (lambda x: np.min(x, axis=-2, keepdims=True), _r(2, 3, 2)),
        (lambda x: x.min(), _r(3, 2)),
    ],
    np.amin: [
        (lambda x: np.amin(x), _r(2, 3)),
        (lambda x: np.amin(x, axis=0, keepdims=True), _r(3, 4)),
    ],
    np.prod: [
        (lambda x: np.prod(x), _r(5)),
        (lambda x: np.prod(x), _r(2, 3)),
        (lambda x: np.prod(x, axis=0), _r(3, 4)),
        (lambda x: np.prod(x, axis=-1, keepdims=True), _r(2, 3, 2)),
        (lambda x: np.prod(x, keepdims=True), _r(2, 2)),
        (lambda x: np.prod(x), np.array([1.5, 0.0, -2.0, 0.7])),
        (lambda x: np.prod(x, axis=1), np.array([[0.0, 0.0, 2.0], [1.0, 3.0, 0.5]])),
        (lambda x: x.prod(axis=1), _r(3, 2)),
    ],
    np.cumprod: [
        (lambda x: np.cumprod(x), _r(5)),
        (lambda x: np.cumprod(x), _r(2, 3)),
        (lambda x: np.cumprod(x, axis=0), _r(3, 2)),
        (lambda x: np.cumprod(x, axis=-1), _r(2, 2, 3)),
        (lambda x: np.cumprod(x), np.array([1.5, 0.0, -2.0, 0.0, 0.7])),
        (lambda x: np.cumprod(x, axis=1), np.array([[0.5, 0.0, 2.0], [1.0, 3.0, 0.5]])),
    ],
    np.linalg.solve: [
        (lambda x: np.linalg.solve(x, _B3), _wellcond(3)),
        (lambda x: np.linalg.solve(_A33, x), _r(3)),
        (lambda x: np.linalg.solve(x[:9].reshape(3, 3) + 2 * np.eye(3), x[9:]), _r(12, lo=-0.5, hi=0.5)),
        (lambda x: np.linalg.solve(x[:9].reshape(3, 3) + 2 * np.eye(3), x[9:].reshape(3, 2)),
         _r(15, lo=-0.5, hi=0.5)),
        (lambda x: np.linalg.solve(x, _B232), _wellcond(3, (2,))),
        (lambda x: np.linalg.solve(x[:8].reshape(2, 2, 2) + 2 * np.eye(2), x[8:].reshape(2, 2, 1)),
         _r(12, lo=-0.5, hi=0.5)),
    ],
    np.linalg.inv: [
        (lambda x: np.linalg.inv(x), _wellcond(3)),
        (lambda x: np.linalg.inv(x), _wellcond(2, (2,))),
        (lambda x: np.linalg.inv(x @ x.T + np.eye(2)), _r(2, 3)),
    ],
    np.linalg.det: [
        (lambda x: np.linalg.det(x), _wellcond(3)),
        (lambda x: np.linalg.det(x), _wellcond(2, (3,))),
        (lambda x: np.linalg.det(x), _r(2, 2)),
    ],
    np.linalg.slogdet: [
        (lambda x: np.linalg.slogdet(x)[1], _wellcond(3)),
        (lambda x: np.linalg.slogdet(x).logabsdet, _wellcond(2, (2,))),
        (lambda x: np.linalg.slogdet(x)[1], -_wellcond(3)),
        (lambda x: np.linalg.slogdet(x)[0] * np.linalg.slogdet(x)[1], -_wellcond(3)),
    ],
    # ---------------- Composite
    np.mean: [
        (lambda x: np.mean(x), _r(6)),
        (lambda x: np.mean(x, axis=0), _r(2, 3)),
        (lambda x: np.mean(x, axis=(0, -1), keepdims=True), _r(2, 3, 2)),
        (lambda x: x.mean(axis=-1), _r(2, 3)),
    ],
    np.average: [
        (lambda x: np.average(x), _r(5)),
        (lambda x: np.average(x, weights=_W23), _r(2, 3)),
        (lambda x: np.average(x, axis=1, weights=_W3), _r(2, 3)),
        (lambda x: np.average(_B23, axis=0, weights=x), _pos(2, 3)),
        (lambda x: np.average(x, axis=0), _r(3, 2)),
    ],
    np.var: [
        (lambda x: np.var(x), _r(6)),
        (lambda x: np.var(x, axis=0), _r(3, 2)),
        (lambda x: np.var(x, axis=-1, ddof=1, keepdims=True), _r(2, 3)),
        (lambda x: x.var(axis=(0, 1)), _r(2, 3, 2)),
    ],
    np.std: [
        (lambda x: np.std(x), _r(6)),
        (lambda x: np.std(x, axis=1, ddof=1), _r(2, 3)),
        (lambda x: x.std(axis=0, keepdims=True), _r(3, 2)),
    ],
    np.ptp: [
        (lambda x: np.ptp(x), _r(6)),
        (lambda x: np.ptp(x, axis=0), _r(3, 2)),
    ],
    np.ravel: [
        (lambda x: np.ravel(x), _r(2, 3)),
        (lambda x: x.ravel() * 2.0, _r(2, 1, 3)),
        (lambda x: x.flatten(), _r(3, 2)),
    ],
    np.squeeze: [
        (lambda x: np.squeeze(x), _r(1, 3, 1)),
        (lambda x: np.squeeze(x, axis=0), _r(1, 3, 1)),
        (lambda x: np.squeeze(x, axis=-1), _r(1, 3, 1)),
        (lambda x: x.squeeze(), _r(2, 1)),
    ],
    np.expand_dims: [
        (lambda x: np.expand_dims(x, 0), _r(3)),
        (lambda x: np.expand_dims(x, -1), _r(2, 3)),
        (lambda x: np.expand_dims(x, (0, 2)), _r(2, 3)),
    ],
    np.swapaxes: [
        (lambda x: np.swapaxes(x, 0, 1), _r(2, 3)),
        (lambda x: np.swapaxes(x, 0, -1), _r(2, 3, 2)),
        (lambda x: x.swapaxes(1, 2), _r(2, 2, 3)),
    ],
    np.moveaxis: [
        (lambda x: np.moveaxis(x, 0, -1), _r(2, 3, 2)),
        (lambda x: np.moveaxis(x, (0, 1), (2, 0)), _r(2, 3, 2)),
    ],
    np.atleast_1d: [
        (lambda x: np.atleast_1d(x), _r()),
        (lambda x: np.atleast_1d(x), _r(3)),
    ],
    np.atleast_2d: [
        (lambda x: np.atleast_2d(x), _r(3)),
        (lambda x: np.atleast_2d(x), _r()),
        (lambda x: np.atleast_2d(x[0], x)[1], _r(3)),
    ],
    np.atleast_3d: [
        (lambda x: np.atleast_3d(x), _r(3)),
        (lambda x: np.atleast_3d(x), _r(2, 3)),
        (lambda x: np.atleast_3d(x), _r()),
    ],
    np.stack: [
        (lambda x: np.stack([x, x ** 2]), _r(3)),
        (lambda x: np.stack([x, _B23], axis=1), _r(2, 3)),
        (lambda x: np.stack([x[0], x[1] * x[2], 1.0]), _r(3)),
        (lambda x: np.stack((x, x), axis=-1), _r(2, 2)),
    ],
    np.hstack: [
        (lambda x: np.hstack([x, x ** 2]), _r(3)),
        (lambda x: np.hstack([x, _B23]), _r(2, 3)),
        (lambda x: np.hstack([x[0], x[1:]]), _r(3)),
    ],
    np.vstack: [
        (lambda x: np.vstack([x, x ** 2]), _r(3)),
        (lambda x: np.vstack([_B23, x]), _r(2, 3)),
    ],
    np.column_stack: [
        (lambda x: np.column_stack([x, x ** 2]), _r(3)),
        (lambda x: np.column_stack([x, _B3]), _r(3, 2)),
    ],
    np.dstack: [
        (lambda x: np.dstack([x, x * 2.0]), _r(2, 3)),
        (lambda x: np.dstack([x, _B3]), _r(3)),
    ],
    np.append: [
        (lambda x: np.append(x, x[:2] ** 2), _r(3)),
        (lambda x: np.append(x, _B23, axis=0), _r(2, 3)),
        (lambda x: np.append(_B3, x), _r(2, 2)),
    ],
    np.take: [
        (lambda x: np.take(x, [0, 3, 3]), _r(2, 3)),
        (lambda x: np.take(x, [2, 0], axis=1), _r(2, 3)),
        (lambda x: np.take(x, _IDX, axis=-1), _r(2, 3)),
        (lambda x: np.take(x, [-1, 5, 7], mode="clip"), _r(4)),
        (lambda x: np.take(x, [-1, 5, 7], mode="wrap"), _r(4)),
    ],
    np.take_along_axis: [
        (lambda x: np.take_along_axis(x, np.argsort(_B23, axis=1), axis=1), _r(2, 3)),
        (lambda x: np.take_along_axis(x, np.array([[1, 0, 1]]), axis=0), _r(2, 3)),
        (lambda x: np.take_along_axis(x, np.array([2, 0, 0]), axis=None), _r(2, 2)),
    ],
    np.repeat: [
        (lambda x: np.repeat(x, 2), _r(3)),
        (lambda x: np.repeat(x, [1, 0, 2], axis=1), _r(2, 3)),
        (lambda x: x.repeat(2, axis=0), _r(2, 2)),
        (lambda x: np.repeat(x, 3), _r(2, 2)),
    ],
    np.flip: [
        (lambda x: np.flip(x), _r(2, 3)),
        (lambda x: np.flip(x, 0), _r(2, 3)),
        (lambda x: np.flip(x, (0, -1)), _r(2, 3, 2)),
    ],
    np.fliplr: [(lambda x: np.fliplr(x), _r(2, 3))],
    np.flipud: [(lambda x: np.flipud(x) * x, _r(3, 2))],
    np.tile: [
        (lambda x: np.tile(x, 2), _r(3)),
        (lambda x: np.tile(x, (2, 1)), _r(2, 3)),
        (lambda x: np.tile(x, (2, 1, 2)), _r(2, 2)),
    ],
    np.diagonal: [
        (lambda x: np.diagonal(x), _r(3, 3)),
        (lambda x: np.diagonal(x, 1), _r(3, 4)),
        (lambda x: np.diagonal(x, -1, 1, 2), _r(2, 3, 3)),
        (lambda x: x.diagonal(), _r(2, 3)),
    ],
    np.trace: [
        (lambda x: np.trace(x), _r(3, 3)),
        (lambda x: np.trace(x, 1), _r(3, 4)),
        (lambda x: np.trace(x, axis1=1, axis2=2), _r(2, 3, 3)),
        (lambda x: x.trace() * x[0, 0], _r(2, 2)),
    ],
    np.diag: [
        (lambda x: np.diag(x), _r(3)),
        (lambda x: np.diag(x, 1), _r(3)),
        (lambda x: np.diag(x, -2), _r(2)),
        (lambda x: np.diag(x), _r(3, 3)),
        (lambda x: np.diag(x, -1), _r(3, 4)),
    ],
    np.diff: [
        (lambda x: np.diff(x), _r(5)),
        (lambda x: np.diff(x, n=2), _r(5)),
        (lambda x: np.diff(x, axis=0), _r(3, 2)),
        (lambda x: np.diff(x ** 2, 1, -1), _r(2, 3)),
    ],
    np.sort: [
        (lambda x: np.sort(x), _r(5)),
        (lambda x: np.sort(x, axis=0), _r(3, 2)),
        (lambda x: np.sort(x, axis=None), _r(2, 3)),
        (lambda x: np.sort(x ** 2), _r(2, 3)),
    ],
    np.dot: [
        (lambda x: np.dot(x, _B4), _r(4)),
        (lambda x: np.dot(x[:3], x[3:]), _r(6)),
        (lambda x: np.dot(x, _B42), _r(3, 4)),
        (lambda x: np.dot(_B34, x), _r(4)),
        (lambda x: np.dot(x, x.T), _r(2, 3)),
        (lambda x: np.dot(x, 2.5), _r(3)),
        (lambda x: np.dot(x[0], x), _r(3)),
        (lambda x: np.dot(x, _B42[:3].reshape(2, 3, 1)), _r(2, 3)),
        (lambda x: x.dot(_B3), _r(2, 3)),
    ],
    np.vdot: [
        (lambda x: np.vdot(x, _B23), _r(2, 3)),
        (lambda x: np.vdot(x[:3], x[3:]), _r(6)),
    ],
    np.inner: [
        (lambda x: np.inner(x, _B3), _r(3)),
        (lambda x: np.inner(x, _B23), _r(2, 3)),
        (lambda x: np.inner(x, x), _r(2, 3)),
        (lambda x: np.inner(x[0], x), _r(3)),
    ],
    np.outer: [
        (lambda x: np.outer(x, _B3), _r(2)),
        (lambda x: np.outer(x, x), _r(3)),
        (lambda x: np.outer(_B23, x), _r(2, 2)),
    ],
    np.tensordot: [
        (lambda x: np.tensordot(x, _B34, axes=1), _r(2, 3)),
        (lambda x: np.tensordot(x, _B23, axes=2), _r(2, 3)),
        (lambda x: np.tensordot(x, _B23, axes=([0, 1], [0, 1])), _r(2, 3)),
        (lambda x: np.tensordot(x, x, axes=([1], [0])), _r(2, 2)),
        (lambda x: np.tensordot(_B34, x, axes=([0], [-1])), _r(2, 3)),
        (lambda x: np.tensordot(x, _B23, axes=0), _r(2)),
    ],
    np.kron: [
        (lambda x: np.kron(x, _B23), _r(2, 2)),
        (lambda x: np.kron(x[:2], x[2:]), _r(5)),
    ],
    np.cross: [
        (lambda x: np.cross(x, _B3), _r(3)),
        (lambda x: np.cross(x[:3], x[3:]), _r(6)),
        (lambda x: np.cross(x, _B23[::-1] + 1.0), _r(2, 3)),
    ],
    np.polyval: [
        (lambda x: np.polyval([2.0, -1.0, 0.5], x), _r(4)),
        (lambda x: np.polyval(x, 0.7), _r(4)),
        (lambda x: np.polyval(x[:3], x[3:]), _r(5)),
    ],
    np.clip: [
        (lambda x: np.clip(x, -1.0, 1.0), _r(6, lo=-1.9, hi=1.9)),
        (lambda x: np.clip(x, -0.5, None), _r(2, 3)),
        (lambda x: np.clip(x, None, 0.5), _r(2, 3)),
        (lambda x: np.clip(x, _C31 * 0.3, 1.5), _r(4)),
        (lambda x: np.clip(_B23, x[:3], x[3:] + 3.0), _r(6, lo=-1.0, hi=-0.3)),
        (lambda x: x.clip(-1.0, 1.0), _r(2, 3, lo=-1.7, hi=1.7)),
        (lambda x: np.clip(x, min=-0.5, max=0.5), _r(5, lo=-1.0, hi=1.0)),
    ],
    np.real: [(lambda x: np.real(x) ** 2, _r(3))],
    np.real_if_close: [(lambda x: np.real_if_close(x) * 2.0, _r(3))],
    np.nan_to_num: [
        (lambda x: np.nan_to_num(x) ** 2, _r(4)),
        (_nan_to_num_infs, _r(5)),
    ],
    np.sinc: [
        (lambda x: np.sinc(x), _r(5)),
        (lambda x: np.sinc(x), np.array([0.0, 0.3, -1.4])),
    ],
    np.linalg.norm: [
        (lambda x: np.linalg.norm(x), _r(4)),
        (lambda x: np.linalg.norm(x), _r(2, 3)),
        (lambda x: np.linalg.norm(x, keepdims=True), _r(2, 3)),
        (lambda x: np.linalg.norm(x, 2), _r(4)),
        (lambda x: np.linalg.norm(x, 1), _r(4)),
        (lambda x: np.linalg.norm(x, np.inf), _r(4)),
        (lambda x: np.linalg.norm(x, -np.inf), _r(4)),
        (lambda x: np.linalg.norm(x, 0), _r(4)),
        (lambda x: np.linalg.norm(x, 3), _r(4)),
        (lambda x: np.linalg.norm(x, 0.5), _r(4)),
        (lambda x: np.linalg.norm(x, -1), _r(4)),
        (lambda x: np.linalg.norm(x, axis=1), _r(2, 3)),
        (lambda x: np.linalg.norm(x, ord=1, axis=0, keepdims=True), _r(2, 3)),
        (lambda x: np.linalg.norm(x, ord=3, axis=-1), _r(2, 3)),
        (lambda x: np.linalg.norm(x, "fro"), _r(2, 3)),
        (lambda x: np.linalg.norm(x, 1), _r(3, 3)),
        (lambda x: np.linalg.norm(x, -1), _r(3, 3)),
        (lambda x: np.linalg.norm(x, np.inf), _r(3, 3)),
        (lambda x: np.linalg.norm(x, -np.inf), _r(3, 3)),
        (lambda x: np.linalg.norm(x, axis=(1, 2)), _r(2, 2, 3)),
        (lambda x: np.linalg.norm(x, 1, axis=(0, 2), keepdims=True), _r(2, 2, 3)),
        (lambda x: np.linalg.norm(x, np.inf, axis=(2, 1)), _r(2, 2, 3)),
    ],
    np.linalg.matrix_power: [
        (lambda x: np.linalg.matrix_power(x, 0), _r(2, 2)),
        (lambda x: np.linalg.matrix_power(x, 1), _r(2, 2)),
        (lambda x: np.linalg.matrix_power(x, 2), _r(2, 2)),
        (lambda x: np.linalg.matrix_power(x, 5), _r(2, 2, lo=-0.7, hi=0.7)),
        (lambda x: np.linalg.matrix_power(x, -2), _wellcond(2)),
        (lambda x: np.linalg.matrix_power(x, 3), _r(2, 2, 2, lo=-0.7, hi=0.7)),
    ],
    np.linalg.multi_dot: [
        (lambda x: np.linalg.multi_dot([x, _B34, _B42]), _r(2, 3)),
        (lambda x: np.linalg.multi_dot([_B3, x, _B4]), _r(3, 4)),
        (lambda x: np.linalg.multi_dot([x, x.T, x]), _r(2, 3)),
    ],
    np.linalg.matmul: [
        (lambda x: np.linalg.matmul(x, _B34), _r(2, 3)),
        (lambda x: np.linalg.matmul(x, x.T), _r(2, 3)),
    ],
    # ---------------- ZeroDerivative (smooth away from the jumps; the derivative is 0)
    np.sign: [(lambda x: np.sign(x) * 3.0, _r(5)), (lambda x: np.sign(x), _r(2, 3))],
    np.floor: [(lambda x: np.floor(x), _r(5) + 0.03), (lambda x: np.floor(x * 2.0) + 1.0, _r(2, 2))],
    np.ceil: [(lambda x: np.ceil(x), _r(5) + 0.03)],
    np.trunc: [(lambda x: np.trunc(x), _r(2, 3) + 0.03)],
    np.rint: [(lambda x: np.rint(x), np.array([0.1, -0.7, 1.2, 2.4]))],
    np.heaviside: [
        (lambda x: np.heaviside(x, 0.5), _r(5)),
        (lambda x: np.heaviside(_B3, x), _r(3)),
    ],
    np.round: [
        (lambda x: np.round(x), np.array([0.1, -0.7, 1.2, 2.4])),
        (lambda x: np.round(x, 1), np.array([0.12, -0.73, 1.21])),
        (lambda x: x.round(), np.array([[0.1, -0.7], [1.2, 2.4]])),
    ],
    np.around: [(lambda x: np.around(x, 2), np.array([0.123, -0.732]))],
    np.fix: [(lambda x: np.fix(x), np.array([0.1, -0.7, 1.2, 2.4]))],
    np.zeros_like: [(lambda x: np.zeros_like(x), _r(2, 3)), (lambda x: np.zeros_like(x) + 1.0, _r(3))],
    np.ones_like: [(lambda x: np.ones_like(x), _r(2, 3))],
    np.full_like: [(lambda x: np.full_like(x, 3.5), _r(3))],
    np.empty_like: [(lambda x: np.empty_like(x) * 0.0, _r(3))],
}

# Later additions draw their random constants here, so the examples above stay as they were.
CASES[np.linalg.solve].append((lambda x: np.linalg.solve(x, _B3), _wellcond(3, (2,))))  # stacked A, vector b

#: Table keys that must refuse (UnsupportedFunctionError) on a differentiable value.
RAISES: dict = {}  # (np.i0 refused until issue 14 gave it a rule)

#: Samples for NoDerivative entries: on a Dual they return plain values.
NO_DERIVATIVE_CASES: dict = {
    np.isnan: [(lambda x: np.isnan(x), _r(3))],
    np.isinf: [(lambda x: np.isinf(x), _r(3))],
    np.isfinite: [(lambda x: np.isfinite(x), _r(2, 2))],
    np.signbit: [(lambda x: np.signbit(x), _r(3))],
    np.greater: [(lambda x: np.greater(x, 0.1), _r(3)), (lambda x: np.greater(_B3, x), _r(3))],
    np.greater_equal: [(lambda x: np.greater_equal(x, x[::-1]), _r(3))],
    np.less: [(lambda x: np.less(x, 0.0), _r(3))],
    np.less_equal: [(lambda x: np.less_equal(x, 0.0), _r(3))],
    np.equal: [(lambda x: np.equal(x, x[0]), _r(3))],
    np.not_equal: [(lambda x: np.not_equal(x, x[0]), _r(3))],
    np.logical_and: [(lambda x: np.logical_and(x, x > 0), _r(3))],
    np.logical_or: [(lambda x: np.logical_or(x, 0.0), _r(3))],
    np.logical_xor: [(lambda x: np.logical_xor(x, 1.0), _r(3))],
    np.logical_not: [(lambda x: np.logical_not(x), _r(3))],
    np.argmax: [(lambda x: np.argmax(x), _r(4)), (lambda x: np.argmax(x, axis=1), _r(2, 3))],
    np.argmin: [(lambda x: np.argmin(x, axis=0), _r(2, 3))],
    np.argsort: [(lambda x: np.argsort(x), _r(4))],
    np.nonzero: [(lambda x: np.nonzero(x > 0), _r(4)), (lambda x: np.nonzero(x), _r(4))],
    np.flatnonzero: [(lambda x: np.flatnonzero(x), _r(4))],
    np.argwhere: [(lambda x: np.argwhere(x), _r(2, 2))],
    np.count_nonzero: [(lambda x: np.count_nonzero(x), _r(4))],
    np.shape: [(lambda x: np.shape(x), _r(2, 3))],
    np.ndim: [(lambda x: np.ndim(x), _r(2, 3))],
    np.size: [(lambda x: np.size(x), _r(2, 3))],
    np.searchsorted: [(lambda x: np.searchsorted(np.sort(_B3), x), _r(3)),
                      (lambda x: np.searchsorted(np.sort(x), 0.1), _r(4))],
    np.isclose: [(lambda x: np.isclose(x, x[0]), _r(3))],
    np.allclose: [(lambda x: np.allclose(x, x), _r(3))],
    np.array_equal: [(lambda x: np.array_equal(x, x), _r(3))],
    np.array_equiv: [(lambda x: np.array_equiv(x, x[0]), _r(3))],
    np.any: [(lambda x: np.any(x > 1.0), _r(3)), (lambda x: np.any(x), _r(3))],
    np.all: [(lambda x: np.all(x, axis=0), _r(2, 3))],
    np.iscomplexobj: [(lambda x: np.iscomplexobj(x), _r(3))],
    np.isrealobj: [(lambda x: np.isrealobj(x), _r(3))],
    np.isreal: [(lambda x: np.isreal(x), _r(3))],
    np.iscomplex: [(lambda x: np.iscomplex(x), _r(3))],
    np.isneginf: [(lambda x: np.isneginf(x), _r(3))],
    np.isposinf: [(lambda x: np.isposinf(x), _r(3))],
    np.result_type: [(lambda x: np.result_type(x), _r(3))],
    np.min_scalar_type: [(lambda x: np.min_scalar_type(x[0]), _r(3))],
    np.may_share_memory: [(lambda x: np.may_share_memory(x, _B3), _r(3))],
    np.shares_memory: [(lambda x: np.shares_memory(x, _B3), _r(3))],
    np.argpartition: [(lambda x: np.argpartition(x, 1), _r(4))],
    np.lexsort: [(lambda x: np.lexsort((x, _B3)), _r(3))],
    np.digitize: [(lambda x: np.digitize(x, [-1.0, 0.0, 1.0]), _r(4))],
}


def all_cases():
    """``(key, index, f, x)`` for every entry of :data:`CASES`, in table order."""
    return [(key, i, f, x) for key, cases in CASES.items() for i, (f, x) in enumerate(cases)]


# ------------------------------------------------------------------ issue 14: numpy.linalg (dualad/ops/linalg.py)
# Eigenvector signs are LAPACK's choice, so eigen/singular-vector cases use products that do not
# change when a column flips sign (V * V[0], U * U[0]).
def _spd(n, batch=()):
    a = _rng.uniform(-0.5, 0.5, batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + np.diag(np.arange(1.0, n + 1.0))  # distinct, separated eigenvalues


_T43 = _r(4, 3)
_T35 = _r(3, 5)
_T243 = _r(2, 4, 3)
_SPD3 = _spd(3)
_SPD3S = _spd(3, (2,))
_B5 = _r(5)
_B52 = _r(5, 2)
_ATS = _wellcond(4).reshape(2, 2, 2, 2)


def _signfree(V):
    """V with each column's sign fixed by its first row (invariant to LAPACK's sign choice)."""
    return V * V[..., :1, :]


def _signfree_rows(Vh):
    return Vh * Vh[..., :, :1]


CASES.update({
    np.linalg.cholesky: [
        (lambda x: np.linalg.cholesky(x), _SPD3),
        (lambda x: np.linalg.cholesky(x, upper=True), _SPD3),
        (lambda x: np.linalg.cholesky(x), _SPD3S),
        (lambda x: np.linalg.cholesky(x @ x.T + np.eye(2)), _r(2, 3)),
    ],
    np.linalg.qr: [
        (lambda x: np.linalg.qr(x)[0], _T43),
        (lambda x: np.linalg.qr(x)[1], _T43),
        (lambda x: np.linalg.qr(x).R, _T35),
        (lambda x: np.linalg.qr(x)[0] * 2.0, _T35),
        (lambda x: np.linalg.qr(x, mode="r"), _T43),
        (lambda x: np.linalg.qr(x, "r"), _T35),
        (lambda x: np.linalg.qr(x, mode="complete")[1], _T43),
        (lambda x: np.linalg.qr(x, mode="complete")[0][:, :3], _T43),   # the columns that span A
        (lambda x: (lambda q: q[:, 3:] @ q[:, 3:].T)(np.linalg.qr(x, mode="complete")[0]), _T43),  # complement
        (lambda x: np.linalg.qr(x, mode="complete")[0] ** 3, _T43),   # LAPACK's own complement basis, exact
        (lambda x: np.linalg.qr(x, mode="complete")[0][:, 1:], _r(5, 2)),
        (lambda x: np.linalg.qr(x, mode="complete")[0], _r(2, 4, 2)),
        (lambda x: np.linalg.qr(x, mode="complete")[0], _T35),
        (lambda x: np.linalg.qr(x)[1], _T243),
        (lambda x: np.linalg.qr(x)[0], _wellcond(3)),
    ],
    np.linalg.eigh: [
        (lambda x: np.linalg.eigh(x)[0], _SPD3),
        (lambda x: _signfree(np.linalg.eigh(x)[1]), _SPD3),
        (lambda x: _signfree(np.linalg.eigh(x, UPLO="U").eigenvectors), _SPD3),
        (lambda x: np.linalg.eigh(x, "U")[0] * 2.0, _SPD3),
        (lambda x: _signfree(np.linalg.eigh(x)[1]) + np.linalg.eigh(x)[0][..., None, :], _SPD3S),
        (lambda x: np.linalg.eigh(x + x.T).eigenvalues, _r(3, 3)),
    ],
    np.linalg.eigvalsh: [
        (lambda x: np.linalg.eigvalsh(x), _SPD3),
        (lambda x: np.linalg.eigvalsh(x, UPLO="U"), _SPD3),
        (lambda x: np.linalg.eigvalsh(x), _SPD3S),
        (lambda x: np.linalg.eigvalsh(x @ x.T), _r(2, 3)),
    ],
    np.linalg.svd: [
        (lambda x: np.linalg.svd(x, compute_uv=False), _T43),
        (lambda x: np.linalg.svd(x)[1], _T43),   # a one-column complement (fixed up to sign): exact
        (lambda x: np.linalg.svd(x, full_matrices=False)[1], _T35),
        (lambda x: _signfree(np.linalg.svd(x, full_matrices=False)[0]), _T43),
        (lambda x: _signfree_rows(np.linalg.svd(x, full_matrices=False)[2]), _T43),
        (lambda x: _signfree(np.linalg.svd(x, full_matrices=False).U), _T35),
        (lambda x: _signfree_rows(np.linalg.svd(x, full_matrices=False).Vh), _T35),
        (lambda x: _signfree(np.linalg.svd(x)[0]), _wellcond(3)),
        (lambda x: _signfree(np.linalg.svd(x, full_matrices=False)[0]), _T243),
        # full_matrices=True on non-square input with a one-column complement (a wider one is refused in
        # forward mode: tests/test_gauge.py): the leading columns, the complement itself, reconstruction
        (lambda x: (lambda u: np.concatenate([_signfree(u[:, :3]).ravel(), (u[:, 3:] @ u[:, 3:].T).ravel()]))(
            np.linalg.svd(x)[0]), _T43),
        (lambda x: np.linalg.svd(x)[0] ** 3, _T43),
        (lambda x: np.linalg.svd(x.T)[2] ** 3, _T43),
        (lambda x: (lambda r: r.U[:, :3] * r.S @ r.Vh)(np.linalg.svd(x)), _T43),   # reconstruction
        (lambda x: np.linalg.svd(x, hermitian=True)[1], _SPD3),
    ],
    np.linalg.svdvals: [
        (lambda x: np.linalg.svdvals(x), _T43),
        (lambda x: np.linalg.svdvals(x), _T35),
        (lambda x: np.linalg.svdvals(x), _T243),
    ],
    np.linalg.pinv: [
        (lambda x: np.linalg.pinv(x), _T43),
        (lambda x: np.linalg.pinv(x), _T35),
        (lambda x: np.linalg.pinv(x), _T243),
        (lambda x: np.linalg.pinv(x, hermitian=True), _SPD3),
    ],
    np.linalg.lstsq: [
        (lambda x: np.linalg.lstsq(x, _B4)[0], _T43),
        (lambda x: np.linalg.lstsq(_T43, x)[0], _r(4)),
        (lambda x: np.linalg.lstsq(x[:12].reshape(4, 3), x[12:])[1], _r(16)),
        (lambda x: np.linalg.lstsq(x, _B42, rcond=None)[0], _T43),
        (lambda x: np.linalg.lstsq(x, _B42)[1], _T43),
        (lambda x: np.linalg.lstsq(x, _B3[:2])[0], _r(2, 4)),   # underdetermined: minimum-norm solution
        (lambda x: np.linalg.lstsq(x, _B4)[3], _T43),
    ],
    np.linalg.cond: [
        (lambda x: np.linalg.cond(x), _wellcond(3)),
        (lambda x: np.linalg.cond(x, 2), _T43),
        (lambda x: np.linalg.cond(x, -2), _wellcond(3)),
        (lambda x: np.linalg.cond(x, "fro"), _wellcond(3)),
        (lambda x: np.linalg.cond(x, 1), _wellcond(3)),
        (lambda x: np.linalg.cond(x, -1), _wellcond(3)),
        (lambda x: np.linalg.cond(x, np.inf), _wellcond(3)),
        (lambda x: np.linalg.cond(x, -np.inf), _wellcond(3)),
        (lambda x: np.linalg.cond(x, "nuc"), _wellcond(3)),
        (lambda x: np.linalg.cond(x), _wellcond(2, (2,))),
    ],
    np.linalg.matrix_norm: [
        (lambda x: np.linalg.matrix_norm(x), _r(2, 3)),
        (lambda x: np.linalg.matrix_norm(x, ord=2), _T243),
        (lambda x: np.linalg.matrix_norm(x, ord="nuc", keepdims=True), _T243),
        (lambda x: np.linalg.matrix_norm(x, ord=-2), _T43),
        (lambda x: np.linalg.matrix_norm(x, ord=1), _T43),
        (lambda x: np.linalg.matrix_norm(x, ord=-np.inf), _T43),
    ],
    np.linalg.vector_norm: [
        (lambda x: np.linalg.vector_norm(x), _r(2, 3)),
        (lambda x: np.linalg.vector_norm(x, axis=1), _r(2, 3)),
        (lambda x: np.linalg.vector_norm(x, axis=(0, 2), keepdims=True), _r(2, 3, 2)),
        (lambda x: np.linalg.vector_norm(x, ord=1, axis=0), _r(2, 3)),
        (lambda x: np.linalg.vector_norm(x, ord=np.inf), _r(5)),
        (lambda x: np.linalg.vector_norm(x, ord=3.0, axis=-1), _r(2, 3)),
    ],
    np.linalg.tensorsolve: [
        (lambda x: np.linalg.tensorsolve(x, _B4.reshape(2, 2)), _ATS),
        (lambda x: np.linalg.tensorsolve(_ATS, x), _r(2, 2)),
        (lambda x: np.linalg.tensorsolve(x, _B4.reshape(2, 2), axes=(0,)), _ATS),
    ],
    np.linalg.tensorinv: [
        (lambda x: np.linalg.tensorinv(x), _ATS),
        (lambda x: np.linalg.tensorinv(x, ind=1), _wellcond(3)),
    ],
    np.linalg.trace: [
        (lambda x: np.linalg.trace(x), _r(3, 3)),
        (lambda x: np.linalg.trace(x, offset=1), _r(2, 3, 3)),
    ],
    np.linalg.diagonal: [
        (lambda x: np.linalg.diagonal(x), _r(2, 3, 3)),
        (lambda x: np.linalg.diagonal(x, offset=-1), _r(3, 4)),
    ],
    np.linalg.matrix_transpose: [
        (lambda x: np.linalg.matrix_transpose(x) * x, _r(3, 3)),
        (lambda x: np.linalg.matrix_transpose(x), _r(2, 3, 2)),
    ],
    np.linalg.outer: [
        (lambda x: np.linalg.outer(x, _B3), _r(2)),
        (lambda x: np.linalg.outer(x, x), _r(3)),
    ],
    np.linalg.cross: [
        (lambda x: np.linalg.cross(x, _B3), _r(3)),
        (lambda x: np.linalg.cross(x[:3], x[3:]), _r(6)),
        (lambda x: np.linalg.cross(x, _B23.T, axis=0), _r(3, 2)),
    ],
    np.linalg.tensordot: [
        (lambda x: np.linalg.tensordot(x, _B34, axes=1), _r(2, 3)),
        (lambda x: np.linalg.tensordot(x, x, axes=([1], [0])), _r(2, 2)),
    ],
    np.linalg.vecdot: [
        (lambda x: np.linalg.vecdot(x, _B3), _r(2, 3)),
        (lambda x: np.linalg.vecdot(x, _B23, axis=0), _r(2, 3)),
        (lambda x: np.linalg.vecdot(x[:3], x[3:]), _r(6)),
    ],
})
if hasattr(np, "matrix_transpose"):
    CASES[np.matrix_transpose] = [(lambda x: np.matrix_transpose(x), _r(2, 3, 2))]
if hasattr(np, "vecdot"):
    CASES[np.vecdot] = [
        (lambda x: np.vecdot(x, _B3), _r(2, 3)),
        (lambda x: np.vecdot(_B23, x), _r(3)),
        (lambda x: np.vecdot(x[:3], x[3:]), _r(6)),
        (lambda x: np.vecdot(x, x[:1]), _r(2, 3)),
    ]
if hasattr(np, "matvec"):
    CASES[np.matvec] = [
        (lambda x: np.matvec(x, _B4), _r(3, 4)),
        (lambda x: np.matvec(_B34, x), _r(4)),
        (lambda x: np.matvec(x[:12].reshape(3, 4), x[12:]), _r(16)),
        (lambda x: np.matvec(x, _B23[:, None, :]), _r(2, 3)),   # broadcast over a stack of vectors
    ]
    CASES[np.vecmat] = [
        (lambda x: np.vecmat(x, _B34), _r(3)),
        (lambda x: np.vecmat(_B3, x), _r(3, 4)),
        (lambda x: np.vecmat(x[:3], x[3:].reshape(3, 2)), _r(9)),
        (lambda x: np.vecmat(x, _B34), _r(2, 3)),
    ]
CASES[np.linalg.norm] += [
    (lambda x: np.linalg.norm(x, 2), _T43),
    (lambda x: np.linalg.norm(x, -2), _T43),
    (lambda x: np.linalg.norm(x, "nuc"), _T35),
    (lambda x: np.linalg.norm(x, 2, axis=(1, 2)), _T243),
    (lambda x: np.linalg.norm(x, "nuc", axis=(2, 1), keepdims=True), _T243),
    (lambda x: np.linalg.norm(x, -2, axis=(0, 2)), _T243),
]


# ------------------------------------------------------------------ issue 14: statistics (dualad/ops/statistics.py)
def _with_nans(x, *positions):
    x = x.copy()
    for p in positions:
        x[p] = np.nan
    return x


_N34 = _with_nans(_r(3, 4), (0, 1), (2, 3))
_N6 = _with_nans(_r(6), 2)
_METHODS = ["inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf", "hazen",
            "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher", "midpoint", "nearest"]
_Q34 = _r(3, 4)
_AW5 = _pos(5)

CASES.update({
    np.quantile: [(lambda x, m=m: np.quantile(x, [0.15, 0.5, 0.8], axis=1, method=m), _Q34) for m in _METHODS] + [
        (lambda x: np.quantile(x, 0.3), _r(7)),
        (lambda x: np.quantile(x, 0.7, axis=0, keepdims=True), _r(3, 4)),
        (lambda x: np.quantile(x, [0.25, 0.75], axis=(0, 2)), _r(2, 3, 2)),
        (lambda x: np.quantile(x, np.array([[0.1], [0.9]]), axis=-1, keepdims=True), _r(2, 3)),
    ],
    np.percentile: [
        (lambda x: np.percentile(x, 40), _r(6)),
        (lambda x: np.percentile(x, [10, 50, 95], axis=0, method="weibull"), _r(5, 2)),
        (lambda x: np.percentile(x, 75, axis=1, keepdims=True, method="nearest"), _r(2, 5)),
    ],
    np.median: [
        (lambda x: np.median(x), _r(5)),
        (lambda x: np.median(x), _r(6)),
        (lambda x: np.median(x, axis=0), _r(4, 3)),
        (lambda x: np.median(x, axis=(1, 2), keepdims=True), _r(2, 3, 2)),
    ],
    np.nanquantile: [
        (lambda x: np.nanquantile(x, [0.2, 0.6], axis=1), _N34),
        (lambda x: np.nanquantile(x, 0.4, method="hazen"), _N6),
    ],
    np.nanpercentile: [(lambda x: np.nanpercentile(x, [30, 70], axis=0, keepdims=True), _N34)],
    np.nanmedian: [
        (lambda x: np.nanmedian(x), _N6),
        (lambda x: np.nanmedian(x, axis=1), _N34),
        (lambda x: np.nanmedian(x, axis=0, keepdims=True), _N34),
    ],
    np.cov: [
        (lambda x: np.cov(x), _r(3, 5)),
        (lambda x: np.cov(x, rowvar=False), _r(5, 2)),
        (lambda x: np.cov(x[0], x[1]), _r(2, 5)),
        (lambda x: np.cov(x, bias=True), _r(2, 4)),
        (lambda x: np.cov(x, ddof=0, aweights=_AW5), _r(2, 5)),
        (lambda x: np.cov(x, fweights=[1, 2, 1, 3, 1]), _r(2, 5)),
        (lambda x: np.cov(x[:2], aweights=np.exp(x[2])), _r(3, 5)),     # weights from x
        (lambda x: np.cov(x), _r(5)),
    ],
    np.corrcoef: [
        (lambda x: np.corrcoef(x), _r(3, 5)),
        (lambda x: np.corrcoef(x[0], x[1]), _r(2, 5)),
        (lambda x: np.corrcoef(x, rowvar=False), _r(5, 2)),
    ],
    np.nansum: [(lambda x: np.nansum(x), _N6), (lambda x: np.nansum(x, axis=1, keepdims=True), _N34)],
    np.nanprod: [(lambda x: np.nanprod(x, axis=0), _N34)],
    np.nancumsum: [(lambda x: np.nancumsum(x), _N34), (lambda x: np.nancumsum(x, axis=1), _N34)],
    np.nancumprod: [(lambda x: np.nancumprod(x, axis=0), _N34)],
    np.nanmean: [(lambda x: np.nanmean(x), _N6), (lambda x: np.nanmean(x, axis=0), _N34)],
    np.nanvar: [(lambda x: np.nanvar(x, axis=1), _N34), (lambda x: np.nanvar(x, ddof=1), _N6)],
    np.nanstd: [(lambda x: np.nanstd(x, axis=0, keepdims=True), _N34), (lambda x: np.nanstd(x), _N6)],
    np.nanmax: [(lambda x: np.nanmax(x, axis=1), _N34), (lambda x: np.nanmax(x), _N6)],
    np.nanmin: [(lambda x: np.nanmin(x, axis=0), _N34), (lambda x: np.nanmin(x, keepdims=True), _N34)],
    # dualad/ops/sets.py
    np.setdiff1d: [(lambda x: np.setdiff1d(x, np.array([5.0])), _r(5)),
                   (lambda x: np.setdiff1d(x, x[:1], assume_unique=True), _r(4))],
    np.setxor1d: [(lambda x: np.setxor1d(x[:3], x[2:] * 1.5), _r(5)),
                  (lambda x: np.setxor1d(x, np.array([5.0]), assume_unique=True), _r(3))],
    np.trim_zeros: [(lambda x: np.trim_zeros(np.concatenate([np.zeros(2), x, np.zeros(1)])), _r(3)),
                    (lambda x: np.trim_zeros(np.concatenate([np.zeros(2), x]), "b"), _r(3))],
    np.histogram_bin_edges: [(lambda x: np.histogram_bin_edges(x, bins=4), _r(6)),
                             (lambda x: np.histogram_bin_edges(x, 3, range=(x[0], x[1] + 5.0)), _r(4))],
    np.poly: [(lambda x: np.poly(x), _r(3)), (lambda x: np.poly(x[:1] * x[1:]), _r(2))],
    np.ix_: [(lambda x: np.ix_(x[:2], x[1:])[1] * np.ix_(x[:2], x[1:])[0], _r(4))],
    np.partition: [
        (lambda x: np.partition(x, 2), _r(6)),
        (lambda x: np.partition(x, [0, 3], axis=0), _r(5, 2)),
        (lambda x: np.partition(x, 1, axis=None), _r(2, 3)),
    ],
    np.unique: [
        (lambda x: np.unique(x), _r(5)),
        (lambda x: np.unique(x, return_counts=True)[0] * 2.0, _r(2, 3)),
        (lambda x: np.unique(np.concatenate([x, x[:2]])), _r(4)),   # repeated entries share their derivative
    ],
    np.unique_values: [(lambda x: np.unique_values(x), _r(5))],
    np.unique_counts: [(lambda x: np.unique_counts(x).values, _r(2, 3))],
    np.unique_inverse: [(lambda x: np.unique_inverse(x)[0], _r(4))],
    np.unique_all: [(lambda x: np.unique_all(np.concatenate([x, x[1:2]])).values, _r(4))],
})
if hasattr(np, "cumulative_sum"):
    CASES[np.cumulative_sum] = [
        (lambda x: np.cumulative_sum(x), _r(5)),
        (lambda x: np.cumulative_sum(x, axis=1, include_initial=True), _r(2, 3)),
    ]
    CASES[np.cumulative_prod] = [
        (lambda x: np.cumulative_prod(x, axis=0), _r(3, 2)),
        (lambda x: np.cumulative_prod(x, include_initial=True), _r(4)),
    ]
CASES[np.average] += [
    (lambda x: np.average(x, axis=1, weights=np.exp(x[0])), _r(2, 3)),            # weights from x
    (lambda x: np.average(x, axis=0, weights=x[:, 0] ** 2 + 1.0, returned=True)[0], _r(3, 2)),
    (lambda x: np.average(x, weights=np.exp(x), returned=True)[1], _r(4)),
    (lambda x: np.average(x, axis=1, keepdims=True), _r(2, 3)),
]
NO_DERIVATIVE_CASES[np.nanargmax] = [(lambda x: np.nanargmax(x), _N6)]
NO_DERIVATIVE_CASES[np.nanargmin] = [(lambda x: np.nanargmin(x, axis=1), _N34)]


# ------------------------------------------------------------------ issue 14: manipulation (dualad/ops/manipulation.py)
def _put_case(x):
    y = x.copy()
    np.put(y, [0, 3, -1], x[1:4] ** 2)
    return y


def _put_wrap_case(x):
    y = x * 2.0
    np.put(y, [7, 1], x[0], mode="wrap")
    return y


def _putmask_case(x):
    y = x * 1.0
    np.putmask(y, np.arange(x.size).reshape(x.shape) % 3 == 1, x[::-1] ** 2)  # values.flat[n % size]
    return y


def _place_case(x):
    y = x * 1.0
    np.place(y, np.arange(x.size).reshape(x.shape) % 2 == 0, np.sin(x[:2]))  # the 2 values cycle
    return y


def _put_along_axis_case(x):
    y = x.copy()
    np.put_along_axis(y, np.array([[2], [0]]), x[:, :1] * 3.0, axis=1)
    return y


def _fill_diagonal_case(x):
    y = x.copy()
    np.fill_diagonal(y, x[0, :2] ** 2)
    return y


def _fill_diagonal_wrap_case(x):
    y = np.sin(x)
    np.fill_diagonal(y, 0.5, wrap=True)
    return y


def _pad_cases():
    out = []
    for mode in ("constant", "edge", "wrap", "reflect", "symmetric", "maximum", "minimum", "mean", "median",
                 "linear_ramp"):
        out.append((lambda x, m=mode: np.pad(x, ((1, 2), (2, 0)), mode=m), _r(3, 3)))
    out += [
        (lambda x: np.pad(x, 2), _r(4)),
        (lambda x: np.pad(x, (3, 1), mode="constant", constant_values=(1.5, -2.0)), _r(4)),
        (lambda x: np.pad(x, 6, mode="reflect"), _r(4)),                         # wider than the array
        (lambda x: np.pad(x, 5, mode="wrap"), _r(3)),
        (lambda x: np.pad(x, 3, mode="reflect", reflect_type="odd"), _r(4)),
        (lambda x: np.pad(x, ((1, 1), (2, 1)), mode="symmetric", reflect_type="odd"), _r(2, 3)),
        (lambda x: np.pad(x, (2, 3), mode="maximum", stat_length=2), _r(5)),
        (lambda x: np.pad(x, 2, mode="linear_ramp", end_values=(1.0, -1.0)), _r(4)),
        (lambda x: np.pad(x, ((0, 1), (1, 0), (1, 1)), mode="edge"), _r(2, 2, 2)),
    ]
    return out


CASES.update({
    np.pad: _pad_cases(),
    np.split: [(lambda x: np.split(x, 3)[1], _r(6)), (lambda x: np.split(x, [1, 3], axis=1)[2], _r(2, 4))],
    np.array_split: [(lambda x: np.array_split(x, 3)[0], _r(5)), (lambda x: np.array_split(x, 2, axis=-1)[1], _r(2, 3))],
    np.hsplit: [(lambda x: np.hsplit(x, 2)[1], _r(2, 4)), (lambda x: np.hsplit(x, [1])[0], _r(3))],
    np.vsplit: [(lambda x: np.vsplit(x, 2)[0], _r(4, 2))],
    np.dsplit: [(lambda x: np.dsplit(x, 2)[1], _r(2, 2, 4))],
    np.tril: [(lambda x: np.tril(x), _r(3, 3)), (lambda x: np.tril(x, -1), _r(3, 4)), (lambda x: np.tril(x, 1), _r(2, 3, 3))],
    np.triu: [(lambda x: np.triu(x), _r(3, 3)), (lambda x: np.triu(x, 1), _r(4, 3)), (lambda x: np.triu(x), _r(3))],
    np.rot90: [(lambda x: np.rot90(x), _r(2, 3)), (lambda x: np.rot90(x, 2), _r(2, 3)), (lambda x: np.rot90(x, -1, (0, 2)), _r(2, 2, 3))],
    np.rollaxis: [(lambda x: np.rollaxis(x, 2), _r(2, 3, 2)), (lambda x: np.rollaxis(x, 0, 3), _r(2, 3, 2))],
    np.block: [
        (lambda x: np.block([[x, x[:, :1]], [x[:1], x[:1, :1] * 2.0]]), _r(2, 3)),
        (lambda x: np.block([x, _B3]), _r(3)),
        (lambda x: np.block([[x], [x ** 2]]), _r(3)),
    ],
    np.broadcast_arrays: [
        (lambda x: np.broadcast_arrays(x[:, :1], x[0])[0] * np.broadcast_arrays(x[:, :1], x[0])[1], _r(3, 3)),
        (lambda x: np.broadcast_arrays(x, _B23)[0], _r(3)),
    ],
    np.insert: [
        (lambda x: np.insert(x, 2, x[:2] * 3.0), _r(5)),
        (lambda x: np.insert(x, [1, 3], 7.0, axis=1), _r(2, 3)),
        (lambda x: np.insert(x, 1, x[0], axis=0), _r(2, 3)),
        (lambda x: np.insert(_B3, [0, 2], x), _r(2)),
    ],
    np.delete: [(lambda x: np.delete(x, [0, 2]), _r(5)), (lambda x: np.delete(x, 1, axis=1), _r(2, 3)),
                (lambda x: np.delete(x, slice(0, 3, 2)), _r(2, 2))],
    np.resize: [(lambda x: np.resize(x, (3, 3)), _r(4)), (lambda x: np.resize(x, 2), _r(2, 3))],
    np.compress: [(lambda x: np.compress([True, False, True], x, axis=0), _r(3, 2)), (lambda x: np.compress(x > 0, x), _r(5))],
    np.extract: [(lambda x: np.extract(_MASK23, x), _r(2, 3))],
    np.diagflat: [(lambda x: np.diagflat(x), _r(3)), (lambda x: np.diagflat(x, -1), _r(2, 2))],
    np.lib.stride_tricks.sliding_window_view: [
        (lambda x: np.lib.stride_tricks.sliding_window_view(x, 3), _r(5)),
        (lambda x: np.lib.stride_tricks.sliding_window_view(x, (2, 2)), _r(3, 3)),
        (lambda x: np.lib.stride_tricks.sliding_window_view(x, 2, axis=0).sum(axis=-1), _r(3, 2)),
    ],
    np.meshgrid: [
        (lambda x: np.meshgrid(x, x[:2] ** 2)[1], _r(3)),
        (lambda x: np.meshgrid(x, x[:2], indexing="ij")[0], _r(3)),
        (lambda x: np.meshgrid(x, _B3, sparse=True)[0], _r(2)),
    ],
    np.put: [(_put_case, _r(6)), (_put_wrap_case, _r(5))],
    np.putmask: [(_putmask_case, _r(6))],
    np.place: [(_place_case, _r(5))],
    np.put_along_axis: [(_put_along_axis_case, _r(2, 3))],
    np.fill_diagonal: [(_fill_diagonal_case, _r(3, 3)), (_fill_diagonal_wrap_case, _r(5, 2))],
    np.select: [
        (lambda x: np.select([x < -0.5, x > 0.5], [x ** 2, -x], default=3.0 * x), _r(2, 4)),
        (lambda x: np.select([x > 0], [np.exp(x)]), _r(5)),
    ],
    np.choose: [
        (lambda x: np.choose(np.array([0, 1, 1, 0]), [x, x ** 2]), _r(4)),
        (lambda x: np.choose(np.array([2, 0, 5]), [x, _B3, x * 3.0], mode="clip"), _r(3)),
    ],
    np.piecewise: [
        (lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda t: t ** 2, np.sin]), _r(5)),
        (lambda x: np.piecewise(x, [x < 0], [lambda t: t ** 3, 1.5]), _r(2, 3)),
        (lambda x: np.piecewise(x, [x < -1, x > 1], [np.exp, lambda t: t * 2.0, lambda t: -t]), _r(6)),
    ],
    np.linspace: [
        (lambda x: np.linspace(x[0], x[1], 5), _r(2)),
        (lambda x: np.linspace(x[:2], x[2:], 4, endpoint=False, axis=1), _r(4)),
        (lambda x: np.linspace(0.0, x, 3), _r(2)),
        (lambda x: np.linspace(x[0], 2.0, 4, retstep=True)[1] * x[1], _r(2)),
    ],
    np.logspace: [(lambda x: np.logspace(x[0], x[1], 4), _r(2, lo=-1.0, hi=1.0))],
    np.geomspace: [(lambda x: np.geomspace(x[0], x[1], 4), _pos(2)), (lambda x: np.geomspace(-x, -x * 3.0, 3), _pos(2))],
    np.apply_along_axis: [
        (lambda x: np.apply_along_axis(lambda r: np.sum(r ** 2) * r[0], 1, x), _r(2, 3)),
        (lambda x: np.apply_along_axis(lambda r: np.stack([np.sum(r), r[0] * r[-1]]), 0, x), _r(3, 2)),
        (lambda x: np.apply_along_axis(np.cumsum, -1, x), _r(2, 2, 3)),
    ],
})
if hasattr(np, "unstack"):
    CASES[np.unstack] = [(lambda x: np.unstack(x)[1], _r(2, 3)), (lambda x: np.unstack(x, axis=-1)[0] * 2.0, _r(2, 3))]
if hasattr(np, "astype"):
    CASES[np.astype] = [(lambda x: np.astype(x, np.float64) ** 2, _r(3)), (lambda x: np.astype(x, "float64"), _r(2, 2))]
CASES[np.transpose] += [(lambda x: np.transpose(x, axes=(2, 0, 1)), _r(2, 3, 2)),
                        (lambda x: x.transpose((1, 0)) * 2.0, _r(2, 3))]
CASES[np.einsum] += [
    (lambda x: np.einsum("...ij,...jk->...ik", x, _B232), _r(2, 2, 3)),
    (lambda x: np.einsum("...j,j", x, _B3), _r(2, 3)),
    (lambda x: np.einsum("...ii->...i", x), _r(2, 3, 3)),
    (lambda x: np.einsum("ij...->j...", x), _r(2, 3, 2)),
    (lambda x: np.einsum(x, [0, 1], _B34, [1, 2], [0, 2]), _r(2, 3)),
    (lambda x: np.einsum(x, [0, 0]), _r(3, 3)),
    (lambda x: np.einsum(x, [Ellipsis, 0], _B3, [0], [Ellipsis]), _r(2, 3)),
    (lambda x: np.einsum("iij->j", x), _r(2, 2, 3)),
    (lambda x: np.einsum("ii,i->i", x[:, :3], x[:, 3]), _r(3, 4)),
]


# ------------------------------------------------------------------ issue 14: signal, calculus, polynomials
_XP = np.array([0.0, 1.0, 2.5, 4.0])
_FP = np.array([1.0, -1.0, 2.0, 0.5])
_QUERY = np.array([-0.5, 0.3, 1.7, 3.3, 5.0])
_COORDS = np.array([0.0, 0.5, 1.5, 1.7, 3.0])
_R7 = _r(7)


def _conv_cases(func):
    out = []
    for n, m in ((5, 3), (3, 5), (4, 6), (4, 4)):
        for mode in ("full", "same", "valid"):
            out.append((lambda x, n=n, mode=mode: func(x[:n], x[n:], mode), _r(n + m)))
    out.append((lambda x: func(x, _B3), _r(5)))
    return out


CASES.update({
    np.interp: [
        (lambda x: np.interp(x, _XP, _FP), _QUERY),
        (lambda x: np.interp(_QUERY[1:4], _XP, x), _FP),
        (lambda x: np.interp(_QUERY[1:4], x, _FP), _XP),
        (lambda x: np.interp(x[:2], x[2:6], x[6:]), np.concatenate([[0.4, 2.2], _XP, _FP])),
        (lambda x: np.interp(x, _XP, _FP, left=-3.0, right=7.0), _QUERY),
        (lambda x: np.interp(x, _XP, _FP, period=4.5), _QUERY + 0.05),
    ],
    np.convolve: _conv_cases(np.convolve),
    np.correlate: _conv_cases(np.correlate),
    np.gradient: [
        (lambda x: np.gradient(x), _r(5)),
        (lambda x: np.gradient(x, 0.5, edge_order=2), _r(5)),
        (lambda x: np.gradient(x, _COORDS), _r(5)),
        (lambda x: np.gradient(x, _COORDS, edge_order=2), _r(5)),
        (lambda x: np.gradient(x[:5] ** 2, x[5:]), np.concatenate([_r(5), np.cumsum(_pos(5))])),  # coordinates from x
        (lambda x: np.stack(np.gradient(x, 0.5, 2.0)), _r(3, 4)),
        (lambda x: np.gradient(x, axis=1, edge_order=2), _r(3, 4)),
        (lambda x: np.gradient(x, x[0, 0] ** 2 + 1.0, axis=0), _r(3, 4)),                            # spacing from x
    ],
    np.ediff1d: [(lambda x: np.ediff1d(x), _r(2, 3)), (lambda x: np.ediff1d(x, to_begin=x[0], to_end=[1.0, 2.0]), _r(4))],
    np.unwrap: [(lambda x: np.unwrap(x * 4.0), _r(6)), (lambda x: np.unwrap(x * 4.0, axis=0, period=3.0), _r(4, 2))],
    np.modf: [(lambda x: np.modf(x * 3.0)[0], _r(5) + 0.01), (lambda x: np.modf(x)[1] + x, _r(2, 3) + 0.01)],
    np.frexp: [(lambda x: np.frexp(x * 3.0)[0], _r(5)), (lambda x: np.frexp(x)[0] * np.frexp(x)[1], _r(2, 3))],
    np.ldexp: [(lambda x: np.ldexp(x, np.array([1, 2, 3, -1, 0])), _r(5)), (lambda x: np.ldexp(x, 3), _r(2, 3)),
               (lambda x: np.ldexp(x, np.array([[1], [-2]])), _r(3))],
    np.floor_divide: [(lambda x: np.floor_divide(x * 3.0, 0.7), _r(5) + 0.013), (lambda x: x // 0.3, _r(2, 3) + 0.013)],
    np.divmod: [(lambda x: np.divmod(x * 3.0, x[::-1] + 3.0)[1], _r(5)), (lambda x: np.divmod(x, 0.7)[0] + np.divmod(x, 0.7)[1], _r(4))],
    np.i0: [(lambda x: np.i0(x), _r(4)), (lambda x: np.i0(x * 6.0), _r(2, 3)), (lambda x: np.i0(x), np.array([0.0, 9.5, -12.0]))],
    np.polyder: [(lambda x: np.polyder(x), _r(4)), (lambda x: np.polyder(x, 2), _r(5)), (lambda x: np.polyder(x, 3), _r(4))],
    np.polyint: [(lambda x: np.polyint(x), _r(3)), (lambda x: np.polyint(x, 2, k=[1.0, 2.0]), _r(3)),
                 (lambda x: np.polyint(x[:3], 1, k=x[3]), _r(4))],
    np.polyadd: [(lambda x: np.polyadd(x[:2], x[2:]), _r(5)), (lambda x: np.polyadd(x, [1.0, 2.0, 3.0, 4.0]), _r(2))],
    np.polysub: [(lambda x: np.polysub(x[:3], x[3:]), _r(5)), (lambda x: np.polysub([1.0], x), _r(3))],
    np.polymul: [(lambda x: np.polymul(x[:2], x[2:]), _r(5)), (lambda x: np.polymul(x, [2.0, -1.0]), _r(3))],
    np.polydiv: [(lambda x: np.concatenate([np.polydiv(x[:4], x[4:])[0], np.polydiv(x[:4], x[4:])[1][-1:]]), _r(6)),
                 (lambda x: np.polydiv(x, [1.0, 0.5])[0], _r(4))],
    np.vander: [(lambda x: np.vander(x, 4), _r(3)), (lambda x: np.vander(x, increasing=True), _r(4)),
                (lambda x: np.vander(x, 1), _r(2))],
    np.polyfit: [
        (lambda x: np.polyfit(np.linspace(0.0, 1.0, 7), x, 2), _r(7)),
        (lambda x: np.polyfit(x, _R7, 2), np.linspace(0.0, 1.0, 7) + _rng.uniform(-0.02, 0.02, 7)),
        (lambda x: np.polyfit(np.linspace(0.0, 1.0, 7), _R7, 2, w=x), _pos(7)),
        (lambda x: np.polyfit(np.linspace(0.0, 1.0, 7), x, 2, cov=True)[1], _r(7)),
        (lambda x: np.polyfit(np.linspace(0.0, 1.0, 6), x.reshape(6, 2), 1), _r(12)),
        (lambda x: np.polyfit(np.linspace(0.0, 1.0, 7), x, 2, full=True)[1], _r(7)),
    ],
})
if hasattr(np, "trapezoid"):
    CASES[np.trapezoid] = [
        (lambda x: np.trapezoid(x), _r(5)),
        (lambda x: np.trapezoid(x[:5], x[5:]), np.concatenate([_r(5), np.cumsum(_pos(5))])),
        (lambda x: np.trapezoid(x, dx=0.3, axis=0), _r(3, 4)),
        (lambda x: np.trapezoid(x, _COORDS[:4]), _r(2, 4)),
    ]
CASES[np.diff] += [
    (lambda x: np.diff(x, prepend=0.5, append=x[-1:] * 2.0), _r(5)),
    (lambda x: np.diff(x, axis=0, prepend=x[:1]), _r(3, 2)),
    (lambda x: np.diff(x, n=2, append=[1.0, 2.0]), _r(4)),
]
# dualad.scipy's own rule entries (issue 14, scipy part): importing dualad.scipy.linalg registers them
try:
    from dualad.scipy import linalg as _scipy_linalg
except ImportError:  # scipy is an optional extra
    _scipy_linalg = None
if _scipy_linalg is not None:
    _EYE3 = np.eye(3)
    _SYL_B = np.array([[2.5, 0.3, 0.0], [0.1, 3.0, 0.4], [0.2, 0.0, 2.2]])
    _SYL_Q = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.7], [0.4, 0.1, 0.9]])
    CASES.update({
        _scipy_linalg.expm: [(lambda x: _scipy_linalg.expm(x), 0.4 * _r(3, 3)),
                             (lambda x: _scipy_linalg.expm(x), 0.4 * _r(2, 2, 2))],
        _scipy_linalg.logm_real: [(lambda x: _scipy_linalg.logm_real(x @ x.T + 2.0 * _EYE3), _r(3, 3))],
        _scipy_linalg.sqrtm_real: [(lambda x: _scipy_linalg.sqrtm_real(x @ x.T + 2.0 * _EYE3), _r(3, 3))],
        _scipy_linalg.solve_sylvester: [
            (lambda x: _scipy_linalg.solve_sylvester(x + 3.0 * _EYE3, _SYL_B, _SYL_Q), _r(3, 3)),
            (lambda x: _scipy_linalg.solve_sylvester(_SYL_B.T, x[:9].reshape(3, 3) + 3.0 * _EYE3,
                                                      x[9:].reshape(3, 3)), _r(18))],
        _scipy_linalg.funm_symmetric: [(lambda x: _scipy_linalg.funm_symmetric(x + x.T, np.exp), 0.5 * _r(3, 3))],
        _scipy_linalg.lu_packed: [(lambda x: _scipy_linalg.lu_packed(x + np.diag([0.5, 3.0, 1.0])[[2, 0, 1]]),
                                   _r(3, 3))],
        _scipy_linalg.symmetric_directions: [(lambda x: _scipy_linalg.symmetric_directions(x + x.T) * x[0, 1],
                                              _r(3, 3))],
    })


# ------------------------------------------------------------------ issue 15: numpy.fft (dualad/ops/fft.py), complex values
def _ri(y):
    """Real and imaginary parts of a complex result, side by side: a real output to differentiate."""
    return np.concatenate([np.ravel(np.real(y)), np.ravel(np.imag(y))])


_Z34 = _r(3, 4) + 1j * _r(3, 4)
CASES.update({
    np.imag: [(lambda x: np.imag(x * (1.0 + 2.0j)) * x, _r(3)), (lambda x: np.imag(x) + x, _r(2))],
    np.angle: [(lambda x: np.angle(x + 1.5j * x[::-1]), _r(4)), (lambda x: np.angle(x * (1 - 1j), deg=True), _pos(3))],
    np.fft.fft: [(lambda x: _ri(np.fft.fft(x)), _r(5)), (lambda x: _ri(np.fft.fft(x * 1j + x[::-1], n=7, axis=0,
                                                                                       norm="ortho")), _r(4, 2))],
    np.fft.ifft: [(lambda x: _ri(np.fft.ifft(x, n=3, norm="forward")), _r(2, 5)),
                  (lambda x: np.abs(np.fft.ifft(x + 1j * x ** 2)), _r(4))],
    np.fft.rfft: [(lambda x: _ri(np.fft.rfft(x)), _r(6)), (lambda x: _ri(np.fft.rfft(x, n=5, axis=0)), _r(4, 2))],
    np.fft.irfft: [(lambda x: np.fft.irfft(x[:4] + 1j * x[4:]), _r(8)),
                   (lambda x: np.fft.irfft(x * (1 + 1j), n=7, norm="ortho"), _r(3, 4))],
    np.fft.hfft: [(lambda x: np.fft.hfft(x[:3] + 1j * x[3:], n=5), _r(6))],
    np.fft.ihfft: [(lambda x: _ri(np.fft.ihfft(x, norm="ortho")), _r(5))],
    np.fft.fft2: [(lambda x: _ri(np.fft.fft2(x)), _r(3, 4))],
    np.fft.ifft2: [(lambda x: _ri(np.fft.ifft2(x * 1j, s=(2, 5))), _r(3, 4))],
    np.fft.fftn: [(lambda x: _ri(np.fft.fftn(x, axes=(0, 2))), _r(2, 3, 2))],
    np.fft.ifftn: [(lambda x: _ri(np.fft.ifftn(x + 2j, norm="ortho")), _r(3, 3))],
    np.fft.rfft2: [(lambda x: _ri(np.fft.rfft2(x)), _r(3, 4))],
    np.fft.rfftn: [(lambda x: _ri(np.fft.rfftn(x, s=(3, 5), axes=(0, 1))), _r(3, 4))],
    np.fft.irfft2: [(lambda x: np.fft.irfft2(x * _Z34), _r(3, 4))],
    np.fft.irfftn: [(lambda x: np.fft.irfftn(x * _Z34, s=(3, 5), axes=(0, 1), norm="forward"), _r(3, 4))],
    np.fft.fftshift: [(lambda x: np.fft.fftshift(x), _r(5)), (lambda x: np.fft.fftshift(x, axes=1), _r(2, 3))],
    np.fft.ifftshift: [(lambda x: np.fft.ifftshift(x), _r(3, 4)), (lambda x: np.fft.ifftshift(x, axes=0), _r(3))],
})
_EIG4 = np.array([[0.9, -1.2, 0.3, 0.5], [0.8, 0.4, -0.7, 0.2], [-0.3, 0.6, 1.1, -0.9], [0.2, -0.5, 0.4, 0.7]])
CASES.update({  # complex eigenvalues of real non-symmetric matrices, in LAPACK's order and normalisation
    np.linalg.eigvals: [(lambda x: _ri(np.linalg.eigvals(x)), _EIG4), (lambda x: np.linalg.eigvals(x + x.T), _EIG4)],
    np.linalg.eig: [(lambda x: _ri(np.linalg.eig(x)[0]), _EIG4), (lambda x: _ri(np.linalg.eig(x)[1]), _EIG4)],
})
