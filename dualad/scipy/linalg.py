"""Differentiable versions of scipy.linalg functions, under scipy's names and signatures.

Most are numpy compositions that dualad differentiates (``solve_triangular`` is ``solve`` of the
triangle scipy reads, ``cho_solve`` two such solves, ``toeplitz`` an index gather); functions with
a derivative of their own are rule-table entries (:mod:`dualad.scipy.primitive`):

- ``expm``, ``logm``: the Fréchet derivative from the block-triangular identity
  ``f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]]``; its adjoint is ``L_f(Aᵀ, ·)``;
- ``sqrtm``: ``S dX + dX S = dA`` (a Sylvester equation, S = sqrtm(A));
- ``solve_sylvester``: ``A dX + dX B = dQ - dA X - X dB``;
- ``lu_factor``: with the pivots held fixed, ``F = L⁻¹ Pᵀ dA U⁻¹``, ``dL = L tril(F, -1)``,
  ``dU = triu(F) U``.

Values equal scipy's (eigen- and Schur vectors with scipy's signs and order). Arguments scipy
ignores (``overwrite_a``, ``check_finite``, ``lwork``, ``driver``) are accepted and ignored.

>>> import numpy as np, dualad
>>> from dualad.scipy import linalg
>>> float(dualad.derivative(lambda t: linalg.expm(t * np.array([[0.0, 1.0], [-1.0, 0.0]]))[0, 1], 0.0))
1.0
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as _sl

from ..arraylike import ArrayLike, primal
from ..errors import UnsupportedFunctionError
from ..rules import TABLE, Custom
from .passthrough import scipy_on_plain
from .primitive import primitive

__all__ = [
    "expm", "logm", "sqrtm", "expm_frechet", "funm", "solve_triangular", "cho_factor", "cho_solve",
    "lu_factor", "lu_solve", "lu", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "det", "inv", "solve",
    "block_diag", "pinv", "lstsq", "qr", "schur", "polar", "toeplitz", "circulant", "hankel", "norm",
    "solve_sylvester", "solve_continuous_lyapunov",
]


def _plain(x) -> np.ndarray:
    return np.asarray(primal(x)) if isinstance(x, ArrayLike) else np.asarray(x)


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _front(t):
    return np.moveaxis(t, -1, 0)


def _back(t):
    return np.moveaxis(t, 0, -1)


def _mT(x):  # noqa: N802 - the array API's name
    return np.swapaxes(x, -1, -2)


def _refuse(function: str, what: str, remedy: str):
    return UnsupportedFunctionError(f"dualad.scipy.linalg.{function}: {what} is not supported on differentiable "
                                    f"values; remedy: {remedy}")


# ----------------------------------------------------------------------------- matrix functions (rules)
def _block_upper(A, E):
    """[[A, E], [0, A]] for stacks: A (..., n, n) broadcast against E (k, ..., n, n)."""
    A = A + np.zeros(_shape(E))  # broadcast A over the directions (keeps A differentiable)
    zero = np.zeros(_shape(E))
    return np.concatenate([np.concatenate([A, E], axis=-1), np.concatenate([zero, A], axis=-1)], axis=-2)


def _frechet(f, A, E):
    """L_f(A, E) for every direction of E (k, ..., n, n), by the block-triangular identity."""
    n = _shape(A)[-1]
    return f(_block_upper(A, E))[..., :n, n:]


def _matrix_function(name: str, evaluate):
    """A primitive ``f(A)`` for a primary matrix function with real Taylor coefficients."""
    f = primitive(evaluate)
    f.__name__ = f.__qualname__ = name

    def jvp(out, args, kwargs, tangents):
        return _back(_frechet(f, args[0], _front(tangents[0])))

    def vjp(out, args, kwargs, ct):  # the adjoint of L_f(A, .) is L_f(A^T, .)
        return [_back(_frechet(f, _mT(args[0]), _front(ct)))]

    TABLE[f] = Custom(jvp, vjp)
    return f


def _expm(A):
    return _sl.expm(A)


def _logm(A):
    out = _sl.logm(A)
    if np.iscomplexobj(out):
        if np.abs(out.imag).max() > 1e-12 * max(1.0, np.abs(out.real).max()):
            raise UnsupportedFunctionError(
                "dualad.scipy.linalg.logm: this matrix has a complex logarithm (an eigenvalue on the closed "
                "negative real axis); dualad differentiates real functions only; remedy: keep the spectrum "
                "off the negative real axis")
        out = out.real
    return out


expm = _matrix_function("expm", _expm)
expm.__doc__ = """The matrix exponential, like :func:`scipy.linalg.expm` (stacks of matrices too).

Its derivative is the Fréchet derivative, from the block-triangular identity.

>>> float(expm(np.zeros((2, 2)))[0, 0])
1.0
"""
logm_real = _matrix_function("logm_real", _logm)  # the rule entry behind logm


def logm(A, disp: bool = True):
    """The principal matrix logarithm (real input, real result), like :func:`scipy.linalg.logm`.

    >>> float(logm(np.eye(2) * np.e)[0, 0])
    1.0
    """
    out = logm_real(A)
    if not disp:
        plain = _plain(out)
        return out, float(np.linalg.norm(_sl.expm(plain) - _plain(A), 1) / np.linalg.norm(_plain(A), 1))
    return out


def expm_frechet(A, E, method=None, compute_expm: bool = True, check_finite: bool = True):
    """``(expm(A), L(A, E))``, like :func:`scipy.linalg.expm_frechet`; differentiable in A and E.

    >>> float(expm_frechet(np.zeros((2, 2)), np.eye(2))[1][1, 1])
    1.0
    """
    n = _shape(A)[-1]
    block = expm(_block_upper(A, E))
    L = block[..., :n, n:]
    return (block[..., :n, :n], L) if compute_expm else L


def _solve_sylvester(a, b, q):
    return _sl.solve_sylvester(a, b, q)


solve_sylvester = primitive(_solve_sylvester)
solve_sylvester.__name__ = solve_sylvester.__qualname__ = "solve_sylvester"
solve_sylvester.__doc__ = """The X with ``A X + X B = Q``, like :func:`scipy.linalg.solve_sylvester`.

Differentiable in A, B and Q: ``A dX + dX B = dQ - dA X - X dB``.

>>> float(solve_sylvester(np.eye(1), np.eye(1), np.array([[4.0]]))[0, 0])
2.0
"""


def _per_direction(solve, rhs_front):
    """One Sylvester solve per direction (k first)."""
    return np.stack([solve(rhs_front[j]) for j in range(_shape(rhs_front)[0])])


def _sylvester_jvp(out, args, kwargs, tangents):
    A, B, Q = args
    tA, tB, tQ = (None if t is None else _front(t) for t in tangents)
    rhs = 0.0
    if tQ is not None:
        rhs = rhs + tQ
    if tA is not None:
        rhs = rhs - tA @ out
    if tB is not None:
        rhs = rhs - out @ tB
    k = next(_shape(t)[-1] for t in tangents if t is not None)
    rhs = rhs + np.zeros((k,) + _shape(out))
    return _back(_per_direction(lambda r: solve_sylvester(A, B, r), rhs))


def _sylvester_vjp(out, args, kwargs, ct):
    A, B, Q = args
    Y = _per_direction(lambda g: solve_sylvester(_mT(A), _mT(B), g), _front(ct))  # A^T Y + Y B^T = G
    return [_back(-(Y @ _mT(out))), _back(-(_mT(out) @ Y)), _back(Y)]


TABLE[solve_sylvester] = Custom(_sylvester_jvp, _sylvester_vjp)


def solve_continuous_lyapunov(a, q):
    """The X with ``A X + X Aᵀ = Q``, like :func:`scipy.linalg.solve_continuous_lyapunov` (real input).

    >>> float(solve_continuous_lyapunov(np.eye(1), np.array([[4.0]]))[0, 0])
    2.0
    """
    return solve_sylvester(a, _mT(a), q)


def _sqrtm(A):
    out = _sl.sqrtm(A)
    if np.iscomplexobj(out):
        if np.abs(out.imag).max() > 1e-12 * max(1.0, np.abs(out.real).max()):
            raise UnsupportedFunctionError(
                "dualad.scipy.linalg.sqrtm: this matrix has no real square root (an eigenvalue on the negative "
                "real axis); dualad differentiates real functions only; remedy: keep the spectrum off the "
                "negative real axis")
        out = out.real
    return out


sqrtm_real = primitive(_sqrtm)
sqrtm_real.__name__ = sqrtm_real.__qualname__ = "sqrtm_real"  # the rule entry behind sqrtm


def _sqrtm_jvp(out, args, kwargs, tangents):  # S dX + dX S = dA
    return _back(_per_direction(lambda t: solve_sylvester(out, out, t), _front(tangents[0])))


def _sqrtm_vjp(out, args, kwargs, ct):  # the adjoint solves S^T Y + Y S^T = G
    S = _mT(out)
    return [_back(_per_direction(lambda g: solve_sylvester(S, S, g), _front(ct)))]


TABLE[sqrtm_real] = Custom(_sqrtm_jvp, _sqrtm_vjp)


def sqrtm(A, disp: Any = None, blocksize: Any = None):
    """The principal square root of a real matrix, like :func:`scipy.linalg.sqrtm`.

    >>> float(sqrtm(np.array([[4.0, 0.0], [0.0, 9.0]]))[1, 1])
    3.0
    """
    return sqrtm_real(A)


def _symmetric_or_refuse(function: str, plain) -> None:
    if plain.ndim != 2 or not np.allclose(plain, plain.T, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(plain).max())):
        raise _refuse(function, "a non-symmetric matrix", "use expm/logm/sqrtm, or symmetrise the input")


def _funm_symmetric(A, func):
    plain = _plain(A)
    _symmetric_or_refuse("funm", plain)
    w, V = np.linalg.eigh(plain)
    return (V * func(w)) @ V.T


funm_symmetric = primitive(_funm_symmetric)
funm_symmetric.__name__ = funm_symmetric.__qualname__ = "funm_symmetric"  # the rule entry behind funm


def _daleckii_krein(A, func, E):
    """L_f(A, E) = V (F o V^T E V) V^T for symmetric A = V diag(w) V^T and ANY direction E (k first):
    F holds the divided differences (f(w_i) - f(w_j)) / (w_i - w_j), and f'(w_i) where w_i == w_j."""
    from ..forward import jvp  # noqa: PLC0415 - the forward engine imports this package's parents
    if isinstance(A, ArrayLike):  # a second derivative: eigh's own rule differentiates w and V, along
        A = symmetric_directions(A)  # symmetric directions only (eigh reads one triangle)
    w, V = np.linalg.eigh(A)
    fw, dfw = jvp(func, w, np.ones(np.shape(_plain(w)), dtype=_plain(w).dtype))
    gap = w[:, None] - w[None, :]
    close = np.abs(_plain(gap)) <= 1e-8 * max(1.0, np.abs(_plain(w)).max())
    F = np.where(close, 0.5 * (dfw[:, None] + dfw[None, :]), (fw[:, None] - fw[None, :]) / np.where(close, 1.0, gap))
    return V @ (F * (_mT(V) @ E @ V)) @ _mT(V)


TABLE[funm_symmetric] = Custom(
    lambda out, args, kwargs, tangents: _back(_daleckii_krein(args[0], args[1], _front(tangents[0]))),
    lambda out, args, kwargs, ct: [_back(_daleckii_krein(args[0], args[1], _front(ct))), None])  # self-adjoint


@scipy_on_plain("scipy.linalg")
def funm(A, func, disp: bool = True):
    """``func`` applied to a SYMMETRIC matrix through its eigenvalues, like :func:`scipy.linalg.funm`.

    ``func`` acts elementwise on an array of eigenvalues and is written with numpy functions (its
    derivative enters the Daleckii-Krein formula, right for every direction, symmetric or not, and
    at repeated eigenvalues). Non-symmetric input is refused, and so are second derivatives along
    non-symmetric directions.

    >>> float(funm(np.diag([1.0, 4.0]), np.sqrt)[1, 1])
    2.0
    """
    out = funm_symmetric(A, func)
    return out if disp else (out, 0.0)


# ----------------------------------------------------------------------------- triangular and Cholesky solves
def _triangle(a, lower: bool, unit_diagonal: bool = False):
    """The triangle scipy reads (the rest is ignored: derivative 0 there, as for the numbers)."""
    n = _shape(a)[-1]
    mask = np.tril(np.ones((n, n)), -1 if unit_diagonal else 0) if lower else \
        np.triu(np.ones((n, n)), 1 if unit_diagonal else 0)
    out = a * mask
    return out + np.eye(n) if unit_diagonal else out


def _trans(trans) -> bool:
    if trans in (0, "N", "n"):
        return False
    if trans in (1, 2, "T", "t", "C", "c"):
        return True
    raise ValueError(f"invalid trans {trans!r}")


def solve_triangular(a, b, trans=0, lower: bool = False, unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True):
    """Solve ``a x = b`` for triangular ``a``, like :func:`scipy.linalg.solve_triangular`.

    Only the triangle named by ``lower`` is read (with ``unit_diagonal``, not its diagonal).

    >>> solve_triangular(np.array([[2.0, 1.0], [0.0, 4.0]]), np.array([3.0, 4.0]))
    array([1., 1.])
    """
    T = _triangle(a, lower, unit_diagonal)
    if _trans(trans):
        T = _mT(T)
    return np.linalg.solve(T, b)


def cholesky(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """The Cholesky factor (upper by default), like :func:`scipy.linalg.cholesky`.

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    return np.linalg.cholesky(a, upper=not lower)


def cho_factor(a, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``(c, lower)`` like :func:`scipy.linalg.cho_factor`: the factor in one triangle of ``c``, ``a``'s
    own entries in the other (scipy leaves them there too).

    >>> cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))[0]
    array([[2., 1.],
           [2., 2.]])
    """
    n = _shape(a)[-1]
    factor = np.linalg.cholesky(a, upper=not lower)
    rest = np.triu(np.ones((n, n)), 1) if lower else np.tril(np.ones((n, n)), -1)
    return factor + a * rest, lower


def cho_solve(c_and_lower, b, overwrite_b: bool = False, check_finite: bool = True):
    """Solve ``A x = b`` from ``cho_factor``'s output, like :func:`scipy.linalg.cho_solve`.

    >>> c = cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> cho_solve(c, np.array([6.0, 7.0]))
    array([1., 1.])
    """
    c, lower = c_and_lower
    factor = _triangle(c, lower)
    if lower:  # A = L L^T
        return solve_triangular(factor, solve_triangular(factor, b, lower=True), trans=1, lower=True)
    return solve_triangular(factor, solve_triangular(factor, b, trans=1), lower=False)  # A = U^T U


# ----------------------------------------------------------------------------- LU
def _lu_packed(a):
    return _sl.lu_factor(a, check_finite=False)[0]


lu_packed = primitive(_lu_packed)
lu_packed.__name__ = lu_packed.__qualname__ = "lu_packed"


def _lu_parts(lu_value):
    n = _shape(lu_value)[-1]
    L = lu_value * np.tril(np.ones((n, n)), -1) + np.eye(n)
    U = lu_value * np.triu(np.ones((n, n)))
    return L, U


def _row_permutation(piv) -> np.ndarray:
    """``perm`` with ``(P^T A) = A[perm]`` for LAPACK's sequential row swaps ``piv``."""
    perm = np.arange(len(piv))
    for i, p in enumerate(piv):
        perm[i], perm[p] = perm[p], perm[i]
    return perm


def _lu_jvp(out, args, kwargs, tangents):
    a = args[0]
    perm = _row_permutation(_sl.lu_factor(_plain(a), check_finite=False)[1])
    L, U = _lu_parts(out)
    T = _front(tangents[0])[..., perm, :]
    F = _mT(np.linalg.solve(_mT(U)[None], _mT(np.linalg.solve(L[None], T))))  # L^-1 T U^-1
    n = _shape(a)[-1]
    dL = L @ (F * np.tril(np.ones((n, n)), -1))
    dU = (F * np.triu(np.ones((n, n)))) @ U
    return _back(dL + dU)


TABLE[lu_packed] = Custom(_lu_jvp)  # reverse mode transposes this jvp


def _square(function: str, a) -> None:
    shape = _shape(a)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise _refuse(function, f"a non-square or stacked matrix (shape {shape})", "pass one square matrix")


def lu_factor(a, overwrite_a: bool = False, check_finite: bool = True):
    """``(lu, piv)`` like :func:`scipy.linalg.lu_factor` (square input); the pivots are constants.

    >>> lu, piv = lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> piv
    array([1, 1], dtype=int32)
    """
    _square("lu_factor", a)
    piv = _sl.lu_factor(_plain(a), check_finite=False)[1]
    return lu_packed(a), piv


def lu_solve(lu_and_piv, b, trans=0, overwrite_b: bool = False, check_finite: bool = True):
    """Solve ``A x = b`` from ``lu_factor``'s output, like :func:`scipy.linalg.lu_solve`.

    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> lu_solve(lu_factor(A), np.array([3.0, 7.0]))
    array([1., 1.])
    """
    lu_value, piv = lu_and_piv
    perm = _row_permutation(piv)
    L, U = _lu_parts(lu_value)
    if not _trans(trans):  # A = P L U, so x = U^-1 L^-1 P^T b
        return np.linalg.solve(U, np.linalg.solve(L, b[perm]))
    inverse = np.argsort(perm)  # A^T x = b: x = P L^-T U^-T b
    return np.linalg.solve(_mT(L), np.linalg.solve(_mT(U), b))[inverse]


def lu(a, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True, p_indices: bool = False):
    """``(P, L, U)`` like :func:`scipy.linalg.lu` (square input); P is a constant.

    >>> P, L, U = lu(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> U
    array([[3.        , 4.        ],
           [0.        , 0.66666667]])
    """
    packed, piv = lu_factor(a)
    L, U = _lu_parts(packed)
    perm = _row_permutation(piv)  # A[perm] = L U, so A = P L U with P[perm[i], i] = 1
    if permute_l:
        return L[np.argsort(perm)], U
    if p_indices:
        return perm, L, U
    P = np.zeros((len(perm), len(perm)))
    P[perm, np.arange(len(perm))] = 1.0
    return P, L, U


# ----------------------------------------------------------------------------- numpy.linalg under scipy's names
def det(a, overwrite_a: bool = False, check_finite: bool = True):
    """Like :func:`scipy.linalg.det`.

    >>> float(det(np.diag([2.0, 3.0])))
    6.0
    """
    return np.linalg.det(a)


def inv(a, overwrite_a: bool = False, check_finite: bool = True):
    """Like :func:`scipy.linalg.inv`.

    >>> inv(np.diag([2.0, 4.0]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return np.linalg.inv(a)


_ASSUME = {None: "gen", "gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym", "her": "sym",
           "hermitian": "sym", "pos": "pos", "positive definite": "pos", "diagonal": "diagonal",
           "upper triangular": "upper", "lower triangular": "lower", "tridiagonal": "tridiagonal"}


def solve(a, b, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          check_finite: bool = True, assume_a=None, transposed: bool = False):
    """Solve ``a x = b``, like :func:`scipy.linalg.solve`, reading what ``assume_a`` says scipy reads.

    ``'sym'``/``'pos'`` read one triangle (``lower``), ``'diagonal'``, ``'tridiagonal'`` and the
    triangular kinds read only their band: the rest of ``a`` gets derivative 0, as it has no effect.

    >>> solve(np.array([[2.0, 1.0], [99.0, 2.0]]), np.array([3.0, 3.0]), assume_a="sym")  # 99 is not read
    array([1., 1.])
    """
    kind = _ASSUME.get(assume_a)
    if kind is None:
        raise ValueError(f"assume_a={assume_a!r} is not one of {sorted(k for k in _ASSUME if k)}")
    n = _shape(a)[-1]
    if kind in ("sym", "pos"):
        keep = np.tril(np.ones((n, n))) if lower else np.triu(np.ones((n, n)))
        strict = np.tril(np.ones((n, n)), -1) if lower else np.triu(np.ones((n, n)), 1)
        a = a * keep + _mT(a * strict)
    elif kind == "diagonal":
        a = a * np.eye(n)
    elif kind == "tridiagonal":
        a = a * (np.tri(n, n, 1) - np.tri(n, n, -2))
    elif kind in ("upper", "lower"):
        a = _triangle(a, kind == "lower")
    if transposed:
        a = _mT(a)
    return np.linalg.solve(a, b)


def block_diag(*arrs):
    """Like :func:`scipy.linalg.block_diag`: the blocks (any mix of Duals and arrays) on a diagonal.

    >>> block_diag(np.eye(1), 2 * np.eye(2))
    array([[1., 0., 0.],
           [0., 2., 0.],
           [0., 0., 2.]])
    """
    if not arrs:
        return np.empty((1, 0))
    blocks = [np.atleast_2d(a) if np.ndim(_plain(a)) < 2 else a for a in arrs]
    for a in blocks:
        if len(_shape(a)) > 2:
            raise ValueError("arguments in the following positions have dimension greater than 2")
    cols = [_shape(a)[1] for a in blocks]
    rows = []
    for i, a in enumerate(blocks):
        r = _shape(a)[0]
        parts = [np.zeros((r, sum(cols[:i])))] if i else []
        parts.append(a)
        if i + 1 < len(blocks):
            parts.append(np.zeros((r, sum(cols[i + 1:]))))
        rows.append(np.concatenate(parts, axis=1))
    return np.concatenate(rows, axis=0)


def pinv(a, *, atol=None, rtol=None, return_rank: bool = False, check_finite: bool = True):
    """The pseudo-inverse, like :func:`scipy.linalg.pinv` (cut-off ``atol + rtol * max(s)``).

    Differentiable where the rank stays constant (the numpy.linalg.pinv rule).

    >>> pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    plain = _plain(a)
    s = np.linalg.svd(plain, compute_uv=False)
    smax = s.max() if s.size else 0.0
    atol = 0.0 if atol is None else atol
    rtol = max(plain.shape) * np.finfo(plain.dtype if plain.dtype.kind == "f" else float).eps \
        if rtol is None else rtol
    cutoff = atol + rtol * smax
    rank = int(np.sum(s > cutoff))
    out = np.linalg.pinv(a, rcond=cutoff / smax if smax > 0 else 0.0)
    return (out, rank) if return_rank else out


def lstsq(a, b, cond=None, overwrite_a: bool = False, overwrite_b: bool = False, check_finite: bool = True,
          lapack_driver=None):
    """``(x, residues, rank, s)`` like :func:`scipy.linalg.lstsq` (full-rank, differentiable parts).

    >>> x = lstsq(np.array([[1.0], [1.0]]), np.array([1.0, 3.0]))[0]
    >>> x
    array([2.])
    """
    plain = _plain(a)
    rcond = np.finfo(float).eps * max(plain.shape) if cond is None else cond
    x, residues, rank, s = np.linalg.lstsq(a, b, rcond=rcond)
    m, n = plain.shape
    if not (m > n and int(_plain(rank)) == n):  # scipy's empty residues: rank-deficient or not tall
        residues = np.empty((0,))
    elif np.ndim(_plain(b)) == 1:
        residues = np.reshape(residues, ())  # scipy returns a scalar for a 1-D b
    rank = int(_plain(rank))  # (reverse mode hands back the integer rank as a tape value)
    return x, residues, rank, s


def eigh(a, b=None, *, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, type: int = 1, check_finite: bool = True, subset_by_index=None,
         subset_by_value=None, driver=None):
    """Symmetric (generalised) eigenproblem, like :func:`scipy.linalg.eigh`, eigenvectors signed as scipy's.

    ``b`` (generalised, ``type=1``) through the Cholesky factor of b; ``subset_by_index`` selects.
    Eigenvector derivatives at (nearly) repeated eigenvalues raise (see numpy.linalg.eigh's rule).

    >>> eigh(np.diag([3.0, 1.0]), eigvals_only=True)
    array([1., 3.])
    """
    if subset_by_value is not None:
        raise _refuse("eigh", "subset_by_value", "use subset_by_index, or select on the values")
    if b is not None and type != 1:
        raise _refuse("eigh", f"type={type}", "rewrite the problem as type 1")
    uplo = "L" if lower else "U"
    if b is None:
        if eigvals_only:
            w = np.linalg.eigvalsh(a, UPLO=uplo)
            V = None
        else:
            w, V = np.linalg.eigh(a, UPLO=uplo)
    else:  # B = L L^T: A v = w B v  <=>  (L^-1 A L^-T) y = w y, v = L^-T y (B-normalised, as scipy's)
        n = _shape(a)[-1]
        keep, strict = (np.tril(np.ones((n, n))), np.tril(np.ones((n, n)), -1)) if lower else \
            (np.triu(np.ones((n, n))), np.triu(np.ones((n, n)), 1))
        a_full = a * keep + _mT(a * strict)
        b_full = b * keep + _mT(b * strict)
        L = np.linalg.cholesky(b_full)
        C = np.linalg.solve(L, _mT(np.linalg.solve(L, a_full)))
        C = 0.5 * (C + _mT(C))
        if eigvals_only:
            w, V = np.linalg.eigvalsh(C), None
        else:
            w, Y = np.linalg.eigh(C)
            V = np.linalg.solve(_mT(L), Y)
    if subset_by_index is not None:
        lo, hi = subset_by_index
        w = w[..., lo:hi + 1]
        V = None if V is None else V[..., lo:hi + 1]
    if V is None:
        return w
    # scipy's eigenvectors may differ in sign from numpy's: take scipy's (a constant sign per column)
    theirs = _sl.eigh(_plain(a), None if b is None else _plain(b), lower=lower, subset_by_index=subset_by_index,
                      check_finite=False)[1]
    signs = np.where(np.sum(_plain(V) * theirs, axis=-2) < 0, -1.0, 1.0)
    return w, V * signs[..., None, :]


def eigvalsh(a, b=None, *, lower: bool = True, overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,
             check_finite: bool = True, subset_by_index=None, subset_by_value=None, driver=None):
    """Like :func:`scipy.linalg.eigvalsh`.

    >>> eigvalsh(np.diag([3.0, 1.0]))
    array([1., 3.])
    """
    return eigh(a, b, lower=lower, eigvals_only=True, type=type, subset_by_index=subset_by_index,
                subset_by_value=subset_by_value)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd"):
    """Like :func:`scipy.linalg.svd` (numpy's rule: singular vectors raise at repeated singular values).

    >>> svd(np.diag([3.0, 4.0]), compute_uv=False)
    array([4., 3.])
    """
    if not compute_uv:
        return np.linalg.svd(a, compute_uv=False)
    U, s, Vh = np.linalg.svd(a, full_matrices=full_matrices)
    return U, s, Vh


def svdvals(a, overwrite_a: bool = False, check_finite: bool = True):
    """Like :func:`scipy.linalg.svdvals`.

    >>> svdvals(np.diag([3.0, 4.0]))
    array([4., 3.])
    """
    return np.linalg.svd(a, compute_uv=False)


def qr(a, overwrite_a: bool = False, lwork=None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True):
    """Like :func:`scipy.linalg.qr`: modes ``'full'``, ``'economic'``, ``'r'``; ``pivoting`` (P constant).

    >>> R, = qr(np.array([[3.0], [4.0]]), mode="r")
    >>> R
    array([[-5.],
           [ 0.]])
    """
    if mode == "raw":
        raise _refuse("qr", "mode='raw' (Householder reflectors)", "use mode='full' or 'economic'")
    numpy_mode = {"full": "complete", "economic": "reduced", "r": "complete"}.get(mode)
    if numpy_mode is None:
        raise ValueError(f"mode argument must be one of ['full', 'r', 'economic', 'raw'], not {mode!r}")
    P = None
    if pivoting:
        P = _sl.qr(_plain(a), mode="r", pivoting=True, check_finite=False)[1]
        a = a[:, P]
    Q, R = np.linalg.qr(a, mode=numpy_mode)
    if mode == "r":
        return (R, P) if pivoting else (R,)
    return (Q, R, P) if pivoting else (Q, R)


def _same(a):
    return np.array(a, copy=True)


symmetric_directions = primitive(_same)
symmetric_directions.__name__ = symmetric_directions.__qualname__ = "symmetric_directions"
symmetric_directions.__doc__ = """The identity on symmetric matrices that refuses a non-symmetric direction.

scipy.linalg.schur reads the whole matrix, so off the symmetric matrices its derivative is not
eigh's; forward mode checks each direction and raises on a non-symmetric one. Reverse mode cannot
see directions: it passes the cotangent through (the gradient of eigh's reading of one triangle),
which is exact whenever the matrix is symmetric by construction (``A = X + X.T``, ``X @ X.T``).
"""


def _symmetric_directions_jvp(out, args, kwargs, tangents):
    t = tangents[0]
    plain = _plain(t)
    if not np.allclose(plain, np.swapaxes(plain, -2, -3), rtol=1e-10, atol=1e-12 * max(1.0, np.abs(plain).max())):
        raise _refuse("schur/funm", "a direction that leaves the symmetric matrices (scipy's schur then has a "
                      "non-diagonal derivative, and eigh reads one triangle)",
                      "build the matrix symmetric (A = X + X.T), or use eigh")
    return t


TABLE[symmetric_directions] = Custom(_symmetric_directions_jvp, lambda out, args, kwargs, ct: [ct])


@scipy_on_plain("scipy.linalg")
def schur(a, output: str = "real", lwork=None, overwrite_a: bool = False, sort=None, check_finite: bool = True):
    """``(T, Z)`` like :func:`scipy.linalg.schur`, for a SYMMETRIC matrix (T diagonal), in scipy's order
    and signs. Non-symmetric input, and in forward mode non-symmetric directions, are refused
    (see :func:`symmetric_directions`).

    >>> T, Z = schur(np.diag([2.0, 1.0]))
    >>> np.diag(T)
    array([2., 1.])
    """
    plain = _plain(a)
    if plain.ndim != 2 or not np.allclose(plain, plain.T, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(plain).max())):
        raise _refuse("schur", "a non-symmetric matrix", "use scipy.linalg.schur on plain values, or symmetrise")
    if sort is not None:
        raise _refuse("schur", "sort=", "sort the eigenvalues of a symmetric matrix with eigh")
    T_theirs, Z_theirs = _sl.schur(plain, output=output, check_finite=False)
    w, V = np.linalg.eigh(symmetric_directions(a))
    order = np.array([int(np.argmin(np.abs(_plain(w) - t))) for t in np.diag(T_theirs)])
    V = V[:, order]
    signs = np.where(np.sum(_plain(V) * Z_theirs, axis=0) < 0, -1.0, 1.0)
    return w[order] * np.eye(len(order)), V * signs


def polar(a, side: str = "right"):
    """``(u, p)`` with ``a = u p`` (``side='right'``) or ``a = p u`` (``'left'``), like :func:`scipy.linalg.polar`.

    >>> u, p = polar(np.diag([2.0, 3.0]))
    >>> p
    array([[2., 0.],
           [0., 3.]])
    """
    if side not in ("right", "left"):
        raise ValueError("`side` must be either 'right' or 'left'")
    W, s, Vh = np.linalg.svd(a, full_matrices=False)
    u = W @ Vh
    p = (_mT(Vh) * s) @ Vh if side == "right" else (W * s) @ _mT(W)
    return u, p


def norm(a, ord=None, axis=None, keepdims: bool = False, check_finite: bool = True):
    """Like :func:`scipy.linalg.norm`.

    >>> float(norm(np.array([3.0, 4.0])))
    5.0
    """
    return np.linalg.norm(a, ord=ord, axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------------- special matrices (index gathers)
def _flat(x):
    return np.reshape(x, (-1,))


def toeplitz(c, r=None):
    """Like :func:`scipy.linalg.toeplitz`: first column ``c``, first row ``r`` (``r[0]`` ignored).

    >>> toeplitz(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    array([[1., 3.],
           [2., 1.]])
    """
    c = _flat(c)
    r = c if r is None else _flat(r)
    m, n = _shape(c)[0], _shape(r)[0]
    values = np.concatenate([c[::-1], r[1:]])
    index = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return values[index]


def hankel(c, r=None):
    """Like :func:`scipy.linalg.hankel`: first column ``c``, last row ``r`` (``r[0]`` ignored; zeros if None).

    >>> hankel(np.array([1.0, 2.0]), np.array([5.0, 3.0]))
    array([[1., 2.],
           [2., 3.]])
    """
    c = _flat(c)
    r = np.zeros(_shape(c)) if r is None else _flat(r)
    m, n = _shape(c)[0], _shape(r)[0]
    values = np.concatenate([c, r[1:]])
    return values[np.arange(m)[:, None] + np.arange(n)[None, :]]


def circulant(c):
    """Like :func:`scipy.linalg.circulant`: first column ``c``.

    >>> circulant(np.array([1.0, 2.0, 3.0]))
    array([[1., 3., 2.],
           [2., 1., 3.],
           [3., 2., 1.]])
    """
    c = _flat(c)
    n = _shape(c)[0]
    return c[(np.arange(n)[:, None] - np.arange(n)[None, :]) % n]
