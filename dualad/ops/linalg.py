"""numpy.linalg rules: factorisations, spectral functions and numpy 2's array-API linalg names.

Every rule works on stacked matrices (``(..., m, n)``) as numpy does. Formulas
(real matrices):

- ``cholesky``: Murray (2016), dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ = lower triangle with
  the diagonal halved;
- ``qr``: dR = (C - Ω) R, dQ = dA R⁻¹ - Q (C - Ω) with C = Qᵀ dA R⁻¹ and Ω the
  antisymmetric part fixed by C's strict lower triangle (wide input: the
  square block, then R₂ = Qᵀ A₂);
- ``eigh``: dw = diag(Vᵀ dA V), dV = V (F ∘ Vᵀ dA V), F_ij = 1/(w_j - w_i);
- ``svd``: Townsend's notes, dP = Uᵀ dA V, ds = diag(dP), F_ij = 1/(s_j² - s_i²);
- ``pinv``: Golub & Pereyra (constant rank).

Complements (``qr(mode='complete')`` and ``svd(full_matrices=True)`` of a non-square
matrix, the columns beyond min(m, n)): numpy's complete Q is LAPACK's Householder
product, a smooth function of the leading columns (see ``_householder_complement``),
so its derivative is exact. The SVD's extra columns are whatever basis LAPACK's
internal path leaves: a one-column complement is fixed up to sign (exact), a wider
one is refused in forward mode and in reverse mode unless the function depends only
on the complement's span (Wᵀ ∂f/∂W symmetric), e.g. the projector W Wᵀ.

numpy reads only ONE triangle of a symmetric input (``cholesky``: the lower
one, or the upper with ``upper=True``; ``eigh``/``eigvalsh`` by ``UPLO``;
``svd``/``pinv`` with ``hermitian=True``: the lower one), so the derivative
with respect to the other triangle is 0, exactly as for the numbers numpy
returns. For a symmetric ``A = f(x)`` this gives the usual symmetric result.

Degenerate points: eigenvalue and singular-value derivatives are always
given (diag(Vᵀ dA V), right for every symmetric function of a repeated
cluster); eigen- and singular-VECTOR derivatives where two values are closer
than ``sqrt(eps) * max|value|`` raise :class:`~dualad.errors.DegeneracyError`
(the vectors are not differentiable, and not even well determined, there).

>>> import numpy as np, dualad
>>> A = np.array([[2.0, 0.5], [0.5, 1.0]])
>>> g = dualad.gradient(lambda a: np.sum(np.linalg.eigvalsh(a)), A)   # d trace / dA, lower triangle read
>>> g.tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DegeneracyError, UnsupportedFunctionError
from ..rules import TABLE, TRANSPOSE_JVP, Custom, Linear, unbroadcast
from ..wirtinger import any_complex
from .common import arg, back, composite, diag_embed, diag_part, front, mT, norm_axes, plain, shape_of

__all__ = ["gap_tolerance"]


# ----------------------------------------------------------------------------- helpers
def _triangle_masks(n: int, upper: bool):
    """(kept triangle with diagonal, kept triangle without diagonal) as 0/1 float matrices."""
    ones = np.ones((n, n))
    if upper:
        return np.triu(ones), np.triu(ones, 1)
    return np.tril(ones), np.tril(ones, -1)


def _read_triangle(T, upper: bool):
    """The symmetric matrix numpy actually factors, given the tangent of the full input."""
    keep, strict = _triangle_masks(shape_of(T)[-1], upper)
    return T * keep + mT(T * strict)


def _read_triangle_adjoint(G, upper: bool):
    """Adjoint of :func:`_read_triangle`: the other triangle gets nothing."""
    keep, strict = _triangle_masks(shape_of(G)[-1], upper)
    return G * keep + mT(G) * strict


def gap_tolerance(values, dtype) -> float:
    """Below this gap two eigen-/singular values count as repeated: ``sqrt(eps) * max(|values|)``.

    Below it the vectors themselves are computed with errors of order eps/gap > sqrt(eps),
    and their derivatives (of order 1/gap) mean nothing.
    """
    v = plain(values)
    eps = np.finfo(dtype if np.dtype(dtype).kind == "f" else np.float64).eps
    scale = float(np.max(np.abs(v))) if v.size else 0.0
    return math.sqrt(eps) * max(scale, np.finfo(np.float64).tiny)


def _inverse_gaps(values, what: str, func: str, squared: bool = False, vectors: str = "eigenvector"):
    """F_ij = 1 / (v_j - v_i) off the diagonal (0 on it); raises DegeneracyError at a repeated value."""
    v = values * values if squared else values
    gap = v[..., None, :] - v[..., :, None]
    n = shape_of(values)[-1]
    eye = np.eye(n)
    g = plain(gap)
    tol = gap_tolerance(values, plain(values).dtype)
    if squared:  # gaps of s**2: compare s_j - s_i, then s_j + s_i (a pair of zeros)
        s = plain(values)
        close = (np.abs(s[..., None, :] - s[..., :, None]) <= tol) & ~np.eye(n, dtype=bool)
    else:
        close = (np.abs(g) <= tol) & ~np.eye(n, dtype=bool)
    if np.any(close):
        idx = np.argwhere(close)[0]
        flat = plain(values)[tuple(idx[:-2])] if len(idx) > 2 else plain(values)
        i, j = int(idx[-2]), int(idx[-1])
        raise DegeneracyError(
            f"{func}: the {what}s {flat[i]:.6g} and {flat[j]:.6g} (positions {i} and {j}) are repeated "
            f"(gap {abs(flat[j] - flat[i]):.3g} below the tolerance {tol:.3g}), so the {vectors} derivative "
            f"is undefined here (the {vectors}s of a repeated {what} are not unique); remedy: differentiate only "
            f"the {what}s (np.linalg.eigvalsh / svdvals: their derivatives are defined, diag(Vᵀ dA V)), or a "
            "function of the whole repeated eigenspace, or perturb the input to separate them")
    return (1.0 - eye) / (gap + eye)


def _check_rank(diagonal, func: str, what: str):
    d = np.abs(plain(diagonal))
    tol = gap_tolerance(diagonal, d.dtype)
    if d.size and np.min(d) <= tol:
        raise DegeneracyError(
            f"{func}: {what} has a zero (or nearly zero, {np.min(d):.3g} <= {tol:.3g}) pivot, so the "
            "factorisation is not differentiable here (rank deficient input); remedy: regularise the input "
            "(A + eps * I) or use np.linalg.pinv / lstsq")


# ----------------------------------------------------------------------------- cholesky
def _cholesky_parts(args, kwargs, out):
    upper = bool(kwargs.get("upper", False))
    L = mT(out) if upper else out
    return upper, L


_PHI = {}


def _phi(n: int):
    """Lower triangle with the diagonal halved (Murray's Φ) as a 0 / 0.5 / 1 mask."""
    if n not in _PHI:
        _PHI[n] = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    return _PHI[n]


def _cholesky_jvp(out, args, kwargs, tangents):
    upper, L = _cholesky_parts(args, kwargs, out)
    T = _read_triangle(front(tangents[0]), upper)
    Linv = np.linalg.inv(L)
    X = Linv @ T @ mT(Linv)
    dL = L @ (X * _phi(shape_of(L)[-1]))
    return back(mT(dL) if upper else dL)


def _cholesky_vjp(out, args, kwargs, ct):
    upper, L = _cholesky_parts(args, kwargs, out)
    C = front(ct)
    C = mT(C) if upper else C
    Linv = np.linalg.inv(L)
    G = mT(Linv) @ ((mT(L) @ C) * _phi(shape_of(L)[-1])) @ Linv
    return [back(_read_triangle_adjoint(G, upper))]


TABLE[np.linalg.cholesky] = Custom(_cholesky_jvp, _cholesky_vjp)


# ----------------------------------------------------------------------------- qr
def _qr_mode(args, kwargs) -> str:
    mode = arg(args, kwargs, 1, "mode", "reduced")
    if mode not in ("reduced", "complete", "r"):
        raise UnsupportedFunctionError(
            f"np.linalg.qr(mode={mode!r}) has no derivative rule (its Householder output is LAPACK's internal "
            "format); remedy: use mode='reduced', 'complete' or 'r'")
    return mode


def _qr_factors(A, out, mode):
    """Q (m, r) and R (r, n) of the reduced factorisation, r = min(m, n), plus the complement Q₂."""
    m, n = shape_of(A)[-2:]
    r = min(m, n)
    if mode == "r":
        Q, R = np.linalg.qr(A)  # the derivative of R needs Q
        return Q, R, None
    Q, R = out
    if mode == "complete" and m > n:
        return Q[..., :, :r], R[..., :r, :], Q[..., :, r:]
    return Q, R, None


def _householder_complement(Q1):
    """(B, E, P K): the pieces of LAPACK's complement Q₂ as a function of the leading columns Q₁.

    numpy's complete Q (geqrf + orgqr) is a product of n Householder reflections,
    Q = I - Y T Yᵀ with Y (m, n) unit lower trapezoidal and T upper triangular. Writing
    Q₁ = [Q₁₁; Q₂₁] (n + (m - n) rows), K = (I - Q₁₁ᵀ)⁻¹ and B = K Q₂₁ᵀ, this gives
    Q₂ = [(I - Q₁₁) B; I - Q₂₁ B] exactly, so the complement's derivative is the
    derivative of that expression: dQ₂ = -dQ₁ B + P K dQ₁ᵀ E with P = [I; 0] - Q₁ and
    E = [B; I]. det(I - Q₁₁) = det T = the product of LAPACK's Householder scalars τ,
    each in [1, 2], or exactly 0 where LAPACK skipped a reflection because a column
    was already reduced (a triangular input): numpy's Q jumps there, so that raises.
    """
    m, n = shape_of(Q1)[-2:]
    Q11, Q21 = Q1[..., :n, :], Q1[..., n:, :]
    M = np.eye(n) - mT(Q11)
    _, logdet = np.linalg.slogdet(plain(M))
    if np.any(logdet < math.log(0.5)):
        raise DegeneracyError(
            "np.linalg.qr(mode='complete'): LAPACK skipped a Householder reflection here (a column of the input "
            "is already zero below the diagonal, e.g. a triangular input), so numpy's complete Q jumps at this "
            "point and has no derivative; remedy: use mode='reduced' (its Q is differentiable here with R's "
            "diagonal signs held), or perturb the input")
    K = np.linalg.inv(M)
    B = K @ mT(Q21)
    eye = np.broadcast_to(np.eye(m - n), tuple(shape_of(B)[:-2]) + (m - n, m - n))
    E = np.concatenate([B, eye], axis=-2)
    PK = (np.eye(m, n) - Q1) @ K
    return B, E, PK


_STRICT_LOWER = {}


def _strict_lower(n: int):
    if n not in _STRICT_LOWER:
        _STRICT_LOWER[n] = np.tril(np.ones((n, n)), -1)
    return _STRICT_LOWER[n]


def _qr_square_jvp(Q, R1, T1):
    """dQ, dR1 for the factorisation of the first r columns (R1 square, invertible)."""
    r = shape_of(R1)[-1]
    _check_rank(diag_part(R1), "np.linalg.qr", "R")
    Rinv = np.linalg.inv(R1)
    C = mT(Q) @ T1 @ Rinv
    low = C * _strict_lower(r)
    omega = low - mT(low)
    dR = (C - omega) @ R1
    dQ = T1 @ Rinv - Q @ (C - omega)
    return dQ, dR, Rinv


def _qr_jvp(out, args, kwargs, tangents):
    A = args[0]
    mode = _qr_mode(args, kwargs)
    m, n = shape_of(A)[-2:]
    r = min(m, n)
    Q, R, Q2 = _qr_factors(A, out, mode)
    T = front(tangents[0])
    dQ, dR1, Rinv = _qr_square_jvp(Q, R[..., :, :r], T[..., :, :r])
    if n > r:  # wide: R₂ = Qᵀ A₂
        dR = np.concatenate([dR1, mT(dQ) @ A[..., :, r:] + mT(Q) @ T[..., :, r:]], axis=-1)
    else:
        dR = dR1
    if mode == "r":
        return back(dR)
    if Q2 is not None:  # complete, tall: LAPACK's complement is a function of Q (Householder gauge)
        B, E, PK = _householder_complement(Q)
        dQ2 = -dQ @ B + PK @ mT(dQ) @ E
        dQ = np.concatenate([dQ, dQ2], axis=-1)
        dR = np.concatenate([dR, 0.0 * T[..., r:, :]], axis=-2)
    return (back(dQ), back(dR))


def _qr_vjp(out, args, kwargs, ct):
    A = args[0]
    mode = _qr_mode(args, kwargs)
    m, n = shape_of(A)[-2:]
    r = min(m, n)
    Q, R, Q2 = _qr_factors(A, out, mode)
    if mode == "r":
        CQ, CR = None, front(ct)
    else:
        CQ, CR = front(ct[0]), front(ct[1])
        if Q2 is not None:
            CQ2, CQ = CQ[..., :, r:], CQ[..., :, :r]
            CR = CR[..., :r, :]
            B, E, PK = _householder_complement(Q)  # dQ₂ = -dQ B + P K dQᵀ E, transposed:
            CQ = CQ - CQ2 @ mT(B) + E @ mT(CQ2) @ PK
    R1 = R[..., :, :r]
    _check_rank(diag_part(R1), "np.linalg.qr", "R")
    Rinv = np.linalg.inv(R1)
    G = 0.0
    CR1 = CR[..., :, :r]
    if n > r:  # dR₂ = dQᵀ A₂ + Qᵀ dA₂
        CR2 = CR[..., :, r:]
        extra = A[..., :, r:] @ mT(CR2)  # cotangent reaching dQ
        CQ = extra if CQ is None else CQ + extra
        G_wide = Q @ CR2
    # dQ = T1 Rinv - Q M, dR = M R1 with M = C - Ω, C = Qᵀ T1 Rinv
    GM = CR1 @ mT(R1)
    GT1 = 0.0
    if CQ is not None:
        GT1 = CQ @ mT(Rinv)
        GM = GM - mT(Q) @ CQ
    # M = C - Ω(C): Ω = low(C) - low(C)ᵀ, so <GM, M> = <GM - low∘(GM - GMᵀ)..., C>
    low = _strict_lower(r)
    GC = GM - GM * low + mT(GM) * low
    GT1 = GT1 + Q @ GC @ mT(Rinv)
    if n > r:
        G = np.concatenate([GT1, G_wide], axis=-1)
    else:
        G = GT1
    return [back(G)] + [None] * (len(args) - 1)


TABLE[np.linalg.qr] = Custom(_qr_jvp, _qr_vjp)


# ----------------------------------------------------------------------------- eigh / eigvalsh
def _uplo(args, kwargs, pos=1) -> bool:
    """True when numpy reads the upper triangle."""
    uplo = arg(args, kwargs, pos, "UPLO", "L")
    return str(uplo).upper() == "U"


def _eigh_jvp(out, args, kwargs, tangents):
    w, V = out
    T = _read_triangle(front(tangents[0]), _uplo(args, kwargs))
    X = mT(V) @ T @ V
    F = _inverse_gaps(w, "eigenvalue", "np.linalg.eigh")
    return (back(diag_part(X)), back(V @ (F * X)))


def _eigh_vjp(out, args, kwargs, ct):
    w, V = out
    Cw, CV = front(ct[0]), front(ct[1])
    inner = diag_embed(Cw)
    if np.any(plain(CV)):  # the eigenvectors are used: their derivative needs distinct eigenvalues
        F = _inverse_gaps(w, "eigenvalue", "np.linalg.eigh")
        inner = inner + F * (mT(V) @ CV)
    G = V @ inner @ mT(V)
    return [back(_read_triangle_adjoint(G, _uplo(args, kwargs)))] + [None] * (len(args) - 1)


TABLE[np.linalg.eigh] = Custom(_eigh_jvp, _eigh_vjp)


def _eigvalsh_jvp(out, args, kwargs, tangents):
    upper = _uplo(args, kwargs)
    _, V = np.linalg.eigh(args[0], "U" if upper else "L")
    T = _read_triangle(front(tangents[0]), upper)
    return back(diag_part(mT(V) @ T @ V))


def _eigvalsh_vjp(out, args, kwargs, ct):
    upper = _uplo(args, kwargs)
    _, V = np.linalg.eigh(args[0], "U" if upper else "L")
    G = V @ diag_embed(front(ct)) @ mT(V)
    return [back(_read_triangle_adjoint(G, upper))] + [None] * (len(args) - 1)


TABLE[np.linalg.eigvalsh] = Custom(_eigvalsh_jvp, _eigvalsh_vjp)


# ----------------------------------------------------------------------------- svd
def _svd_options(args, kwargs):
    full = bool(arg(args, kwargs, 1, "full_matrices", True))
    compute_uv = bool(arg(args, kwargs, 2, "compute_uv", True))
    hermitian = bool(arg(args, kwargs, 3, "hermitian", False))
    return full, compute_uv, hermitian


def _nonzero(s):
    """1 where a singular value is nonzero: at s == 0 its derivative is 0 (like abs at 0)."""
    return (plain(s) != 0).astype(plain(s).dtype)


def _svd_parts(A, out, full, compute_uv, hermitian):
    """U₁ (m, r), s, V₁ (n, r), and the complement U₂ or V₂ when full matrices were asked for."""
    m, n = shape_of(A)[-2:]
    r = min(m, n)
    if not compute_uv:
        U, s, Vh = np.linalg.svd(A, full_matrices=False, hermitian=hermitian)
        return U, s, mT(Vh), None, None
    U, s, Vh = out
    V = mT(Vh)
    U2 = V2 = None
    if full and m > n:
        U, U2 = U[..., :, :r], U[..., :, r:]
    if full and n > m:
        V, V2 = V[..., :, :r], V[..., :, r:]
    return U, s, V, U2, V2


def _check_small_singular(s):
    v = plain(s)
    tol = gap_tolerance(s, v.dtype)
    if v.size and np.min(v) <= tol:
        raise DegeneracyError(
            f"np.linalg.svd: a singular value is zero (or nearly, {np.min(v):.3g} <= {tol:.3g}), so the "
            "singular-vector derivative is undefined here (a non-square matrix's formula divides by it, and a "
            "square matrix's singular-vector pair flips sign where a singular value touches 0, so numpy's output "
            "jumps); remedy: differentiate only the singular values "
            "(np.linalg.svdvals), or regularise the input")


_COMPLEMENT_REMEDY = (
    "remedy: pass full_matrices=False (same s and leading singular vectors), or np.linalg.svdvals / "
    "compute_uv=False for the values only; for the complement's projector use I - U Uᵀ of the reduced U. "
    "np.linalg.qr(mode='complete') has a differentiable complement if you need a basis (JAX refuses this "
    "case too)")


def _refuse_complement(mode: str):
    raise UnsupportedFunctionError(
        "np.linalg.svd(full_matrices=True) on a non-square matrix: the extra columns of U (or rows of Vh) "
        "beyond min(m, n) are an arbitrary orthonormal basis of the complement chosen by LAPACK's internal "
        f"algorithm path, so their derivative is not defined ({mode}); " + _COMPLEMENT_REMEDY)


def _check_complement_cotangent(basis, ct):
    """Reverse mode: a complement cotangent is usable only if the function ignores the basis choice.

    f depends on the complement W only through W's span exactly when Wᵀ ∂f/∂W is symmetric
    (the derivative along every rotation W exp(Ω), Ω antisymmetric, vanishes); then any gauge gives
    the same gradient. Otherwise the gradient would depend on LAPACK's choice: refuse.
    """
    c = plain(ct)
    if not np.any(c):
        return
    S = np.swapaxes(plain(basis), -1, -2) @ c
    skew = np.max(np.abs(S - np.swapaxes(S, -1, -2)))
    scale = np.max(np.abs(c)) * max(1.0, float(np.max(np.abs(plain(basis)))))
    if skew > math.sqrt(np.finfo(c.dtype if c.dtype.kind == "f" else np.float64).eps) * scale:
        _refuse_complement("the result depends on the basis itself, not only on the subspace it spans")


def _svd_jvp(out, args, kwargs, tangents):
    A = args[0]
    full, compute_uv, hermitian = _svd_options(args, kwargs)
    m, n = shape_of(A)[-2:]
    U, s, V, U2, V2 = _svd_parts(A, out, full, compute_uv, hermitian)
    T = front(tangents[0])
    complement = U2 if U2 is not None else V2
    if complement is not None and shape_of(complement)[-1] > 1 and np.any(plain(T)):
        # forward mode cannot see whether the complement is used later, so it refuses (JAX refuses
        # every full_matrices case). A ONE-column complement is fixed up to its sign: exact below.
        _refuse_complement("forward mode computes every output's tangent")
    if hermitian:
        T = _read_triangle(T, False)
    dP = mT(U) @ T @ V
    ds = diag_part(dP) * _nonzero(s)
    if not compute_uv:
        return back(ds)
    F = _inverse_gaps(s, "singular value", "np.linalg.svd", squared=True, vectors="singular vector")
    _check_small_singular(s)  # the (I - U Uᵀ) dA V S⁻¹ term / the pair's sign jump at 0
    row, col = s[..., None, :], s[..., :, None]
    dU = U @ (F * (dP * row + col * mT(dP)))
    dV = V @ (F * (col * dP + mT(dP) * row))
    if m > n:
        dU = dU + (T @ V - U @ dP) / row
    if n > m:
        dV = dV + (mT(T) @ U - V @ mT(dP)) / row
    if U2 is not None:  # U₂ᵀ dU₂ = 0: exact for one column (a unit vector up to sign), else T == 0 here
        dU = np.concatenate([dU, -U @ ((mT(T @ V) @ U2) / col)], axis=-1)
    if V2 is not None:
        dV = np.concatenate([dV, -V @ ((mT(U) @ T @ V2) / col)], axis=-1)
    return (back(dU), back(ds), back(mT(dV)))


def _svd_vjp(out, args, kwargs, ct):
    A = args[0]
    full, compute_uv, hermitian = _svd_options(args, kwargs)
    m, n = shape_of(A)[-2:]
    r = min(m, n)
    U, s, V, U2, V2 = _svd_parts(A, out, full, compute_uv, hermitian)
    if not compute_uv:
        Cs, CU, CV = front(ct), None, None
    else:
        CU, Cs, CV = front(ct[0]), front(ct[1]), mT(front(ct[2]))
        if not (np.any(plain(CU)) or np.any(plain(CV))):
            CU = CV = None
    GP = diag_embed(Cs * _nonzero(s))
    GT = 0.0
    if CU is not None:
        F = _inverse_gaps(s, "singular value", "np.linalg.svd", squared=True, vectors="singular vector")
        _check_small_singular(s)  # the (I - U Uᵀ) dA V S⁻¹ term / the pair's sign jump at 0
        row, col = s[..., None, :], s[..., :, None]
        CU2 = CU[..., :, r:] if U2 is not None else None
        CV2 = CV[..., :, r:] if V2 is not None else None
        if U2 is not None:
            _check_complement_cotangent(U2, CU2)
        if V2 is not None:
            _check_complement_cotangent(V2, CV2)
        CU, CV = CU[..., :, :r], CV[..., :, :r]
        KU = F * (mT(U) @ CU)
        KV = F * (mT(V) @ CV)
        GP = GP + (KU + mT(KU)) * row + col * (KV + mT(KV))
        if m > n:
            E = CU / row
            GT = GT + E @ mT(V)
            GP = GP - mT(U) @ E
        if n > m:
            E = CV / row
            GT = GT + U @ mT(E)
            GP = GP - mT(E) @ V
        if U2 is not None:
            W = -(mT(U) @ CU2) / col
            GT = GT + U2 @ mT(W) @ mT(V)
        if V2 is not None:
            W = -(mT(V) @ CV2) / col
            GT = GT + U @ W @ mT(V2)
    G = GT + U @ GP @ mT(V)
    if hermitian:
        G = _read_triangle_adjoint(G, False)
    return [back(G)] + [None] * (len(args) - 1)


TABLE[np.linalg.svd] = Custom(_svd_jvp, _svd_vjp)


def _svdvals_jvp(out, args, kwargs, tangents):
    U, s, Vh = np.linalg.svd(args[0], full_matrices=False)
    return back(diag_part(mT(U) @ front(tangents[0]) @ mT(Vh)) * _nonzero(s))


def _svdvals_vjp(out, args, kwargs, ct):
    U, s, Vh = np.linalg.svd(args[0], full_matrices=False)
    return [back(U @ diag_embed(front(ct) * _nonzero(s)) @ Vh)]


if hasattr(np.linalg, "svdvals"):
    TABLE[np.linalg.svdvals] = Custom(_svdvals_jvp, _svdvals_vjp)


# ----------------------------------------------------------------------------- pinv, lstsq
def _pinv_hermitian(args, kwargs) -> bool:
    return bool(arg(args, kwargs, 2, "hermitian", False))


def _pinv_jvp(out, args, kwargs, tangents):
    A, X = args[0], out
    T = front(tangents[0])
    if _pinv_hermitian(args, kwargs):
        T = _read_triangle(T, False)
    m, n = shape_of(A)[-2:]
    P = np.eye(m) - A @ X  # projector onto the complement of A's range
    Q = np.eye(n) - X @ A  # ... of A's row space
    return back(-X @ T @ X + X @ mT(X) @ mT(T) @ P + Q @ mT(T) @ mT(X) @ X)


def _pinv_vjp(out, args, kwargs, ct):
    A, X = args[0], out
    G = front(ct)
    m, n = shape_of(A)[-2:]
    P = np.eye(m) - A @ X
    Q = np.eye(n) - X @ A
    Xt = mT(X)
    GA = -Xt @ G @ Xt + P @ mT(G) @ X @ Xt + Xt @ X @ mT(G) @ Q
    if _pinv_hermitian(args, kwargs):
        GA = _read_triangle_adjoint(GA, False)
    return [back(GA)] + [None] * (len(args) - 1)


TABLE[np.linalg.pinv] = Custom(_pinv_jvp, _pinv_vjp)


def _lstsq_pieces(args, kwargs):
    A, b = args[0], args[1]
    rcond = arg(args, kwargs, 2, "rcond", None)
    m, n = shape_of(A)[-2:]
    if rcond is None:
        rcond = np.finfo(plain(A).dtype).eps * max(m, n)
    X = np.linalg.pinv(A, rcond=rcond)
    vector = len(shape_of(b)) == 1
    return A, b, X, vector


def _lstsq_jvp(out, args, kwargs, tangents):
    A, b, X, vector = _lstsq_pieces(args, kwargs)
    x, residuals, rank, s = out
    tA, tb = tangents[0], tangents[1] if len(tangents) > 1 else None
    xm = x[:, None] if vector else x
    dx = 0.0
    dr = 0.0  # tangent of the residual b - A x
    if tA is not None:
        TA = front(tA)
        dX = _pinv_jvp(X, (A,), {}, [tA])
        dx = front(dX) @ (b[:, None] if vector else b)
        dr = -(TA @ xm)
    if tb is not None:
        Tb = front(tb)
        Tb = Tb[..., None] if vector else Tb
        dx = dx + X @ Tb
        dr = dr + Tb
    dr = dr - A @ dx
    tx = back(dx[..., 0] if vector else dx)
    tres = None
    if plain(residuals).size:
        r = (b[:, None] if vector else b) - A @ xm
        tres = back(np.sum(2.0 * r * dr, axis=-2))
    sv = _svdvals_jvp(s, (A,), {}, [tA]) if tA is not None else None
    return (tx, tres, None, sv)


def _lstsq_vjp(out, args, kwargs, ct):
    A, b, X, vector = _lstsq_pieces(args, kwargs)
    x, residuals, rank, s = out
    cx, cres, _, cs = ct
    Cx = front(cx)
    Cx = Cx[..., None] if vector else Cx
    bm = b[:, None] if vector else b
    xm = x[:, None] if vector else x
    # x = X b: cotangents of X and of b
    GX = Cx @ mT(bm)
    Gb = mT(X) @ Cx
    GA = 0.0
    if plain(residuals).size and cres is not None:
        r = bm - A @ xm  # residual; res = sum r², dr = db - dA x - A dx
        Cr = 2.0 * r * front(cres)[..., None, :]
        Gb = Gb + Cr
        GA = GA - Cr @ mT(xm)
        Cdx = -mT(A) @ Cr  # cotangent reaching dx through -A dx
        GX = GX + Cdx @ mT(bm)
        Gb = Gb + mT(X) @ Cdx
    GA = GA + front(_pinv_vjp(X, (A,), {}, back(GX))[0])
    if cs is not None and np.any(plain(cs)):
        GA = GA + front(_svdvals_vjp(s, (A,), {}, cs)[0])
    Gb = Gb[..., 0] if vector else Gb
    return [back(GA), back(Gb)] + [None] * (len(args) - 2)


TABLE[np.linalg.lstsq] = Custom(_lstsq_jvp, _lstsq_vjp)


# ----------------------------------------------------------------------------- composites
def _move_matrix_axes(x, axis):
    """``x`` with the two matrix axes ``axis`` moved last (and the inverse positions for keepdims)."""
    nd = len(shape_of(x))
    rows, cols = (a % nd for a in axis)
    return np.moveaxis(x, (rows, cols), (-2, -1)), (rows, cols)


def _spectral_norm(x, ord, axis, keepdims):
    """Matrix norms of singular values: ord 2 (largest), -2 (smallest), 'nuc' (their sum)."""
    m, (rows, cols) = _move_matrix_axes(x, axis)
    s = np.linalg.svdvals(m)
    r = np.max(s, axis=-1) if ord == 2 else np.min(s, axis=-1) if ord == -2 else np.sum(s, axis=-1)
    if keepdims:
        r = np.expand_dims(r, tuple(sorted((rows, cols))))
    return r


_base_norm = TABLE[np.linalg.norm].impl


@composite(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    nd = len(shape_of(x))
    matrix_axes = axis if isinstance(axis, tuple) and len(axis) == 2 else (
        (0, 1) if axis is None and nd == 2 else None)
    if ord in (2, -2, "nuc") and matrix_axes is not None:
        return _spectral_norm(x, ord, matrix_axes, keepdims)
    return _base_norm(x, ord=ord, axis=axis, keepdims=keepdims)


@composite(np.linalg.cond)
def _cond(x, p=None):
    if p is None or p in (2, -2):
        s = np.linalg.svdvals(x)  # sorted, largest first
        big, small = s[..., 0], s[..., -1]
        return small / big if p == -2 else big / small
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p, axis=(-2, -1))


@composite(np.linalg.matrix_norm)
def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return np.linalg.norm(x, ord, axis=(-2, -1), keepdims=keepdims)


@composite(np.linalg.vector_norm)
def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    shape = shape_of(x)
    axes = norm_axes(axis, len(shape))
    kept = [i for i in range(len(shape)) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = np.reshape(moved, tuple(shape[i] for i in kept) + (-1,))
    r = np.linalg.norm(flat, ord, axis=-1)
    if keepdims:
        r = np.reshape(r, tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return r


@composite(np.linalg.tensorsolve)
def _tensorsolve(a, b, axes=None):
    nd = len(shape_of(a))
    if axes is not None:
        order = [i for i in range(nd) if i not in [x % nd for x in axes]] + [x % nd for x in axes]
        a = np.transpose(a, order)
    b_shape = shape_of(b)
    x_shape = shape_of(a)[len(b_shape):]
    rows = math.prod(b_shape)
    a2 = np.reshape(a, (rows, math.prod(x_shape)))
    return np.reshape(np.linalg.solve(a2, np.reshape(b, (rows,))), x_shape)


@composite(np.linalg.tensorinv)
def _tensorinv(a, ind=2):
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    rows = math.prod(shape[:ind])
    inv = np.linalg.inv(np.reshape(a, (rows, -1)))
    return np.reshape(inv, shape[ind:] + shape[:ind])


@composite(np.linalg.trace)
def _linalg_trace(x, /, *, offset=0, dtype=None):
    return np.trace(x, offset, axis1=-2, axis2=-1, dtype=dtype)  # dtype= applied, not ignored


@composite(np.linalg.diagonal)
def _linalg_diagonal(x, /, *, offset=0):
    return np.diagonal(x, offset, axis1=-2, axis2=-1)


@composite(np.linalg.matrix_transpose)
def _linalg_matrix_transpose(x, /):
    return mT(x)


if hasattr(np, "matrix_transpose"):
    TABLE[np.matrix_transpose] = TABLE[np.linalg.matrix_transpose]


@composite(np.linalg.outer)
def _linalg_outer(x1, x2, /):
    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ValueError("Input arrays must be one-dimensional")
    return np.outer(x1, x2)


@composite(np.linalg.cross)
def _linalg_cross(x1, x2, /, *, axis=-1):
    a, b = np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1)
    if shape_of(a)[-1] != 3 or shape_of(b)[-1] != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors")
    return np.moveaxis(np.cross(a, b), -1, axis)


@composite(np.linalg.tensordot)
def _linalg_tensordot(x1, x2, /, *, axes=2):
    return np.tensordot(x1, x2, axes=axes)


@composite(np.linalg.vecdot)
def _linalg_vecdot(x1, x2, /, *, axis=-1):
    return np.sum(x1 * x2, axis=axis)


# ----------------------------------------------------------------------------- numpy 2 gufuncs (bilinear)
# Trailing direction layout here (not front): the other operand may have more batch axes than
# the tangent's own value, and ``b[..., None]`` lines it up with ``t``'s trailing ``k`` axis.
def _vecdot_tangent_a(t, a, b):
    return np.sum(t * b[..., None], axis=-2)


def _vecdot_tangent_b(t, a, b):
    return np.sum(a[..., None] * t, axis=-2)


def _vecdot_transpose_a(ct, a, b):
    return unbroadcast(ct[..., None, :] * b[..., :, None], shape_of(a))


def _vecdot_transpose_b(ct, a, b):
    return unbroadcast(ct[..., None, :] * a[..., :, None], shape_of(b))


def _matvec_tangent_a(t, a, v):
    return np.sum(t * v[..., None, :, None], axis=-2)


def _matvec_tangent_v(t, a, v):
    return a @ t


def _matvec_transpose_a(ct, a, v):
    return unbroadcast(ct[..., :, None, :] * v[..., None, :, None], shape_of(a))


def _matvec_transpose_v(ct, a, v):
    return unbroadcast(mT(a) @ ct, shape_of(v))


def _vecmat_tangent_v(t, v, a):
    return np.sum(t[..., :, None, :] * a[..., :, :, None], axis=-3)


def _vecmat_tangent_a(t, v, a):
    return np.sum(v[..., :, None, None] * t, axis=-3)


def _vecmat_transpose_v(ct, v, a):
    return unbroadcast(a @ ct, shape_of(v))


def _vecmat_transpose_a(ct, v, a):
    return unbroadcast(v[..., :, None, None] * ct[..., None, :, :], shape_of(a))


if hasattr(np, "vecdot"):
    TABLE[np.vecdot] = Linear({0: _vecdot_tangent_a, 1: _vecdot_tangent_b},
                              {0: _vecdot_transpose_a, 1: _vecdot_transpose_b})
if hasattr(np, "matvec"):
    TABLE[np.matvec] = Linear({0: _matvec_tangent_a, 1: _matvec_tangent_v},
                              {0: _matvec_transpose_a, 1: _matvec_transpose_v})
    TABLE[np.vecmat] = Linear({0: _vecmat_tangent_v, 1: _vecmat_tangent_a},
                              {0: _vecmat_transpose_v, 1: _vecmat_transpose_a})


# ----------------------------------------------------------------------------- complex matrices (issue 15)
# Under dualad's complex convention (dualad.wirtinger: JAX's) these rules hold for complex matrices:
# only the jvp is written; reverse mode transposes it (rules.TRANSPOSE_JVP). Real matrices keep the
# rules above, untouched. Eigen- and singular VECTORS of a complex matrix are unique only up to a
# phase per vector; LAPACK fixes it (eigh with UPLO='L': the first component real, 'U': the last;
# svd: the first component of each right singular vector real when m >= n, of each left one when
# m < n; eig: the largest component real) and the rules differentiate exactly that choice, after
# checking the returned vectors follow it (another LAPACK: a refusal, never a wrong derivative).
def _complex_args(args) -> bool:
    return any_complex(args[:1])


def _phase_row(V, row, func: str):
    """The entries of ``V[..., row, :]``, checked real and nonzero (the phase LAPACK fixed)."""
    r = plain(V)[..., row, :]
    scale = max(float(np.max(np.abs(r))), np.finfo(np.float64).tiny)
    if np.any(np.abs(r.imag) > 1e-12 * scale) or np.any(np.abs(r) <= 1e-12 * scale):
        raise UnsupportedFunctionError(
            f"{func}: the vectors of this complex matrix are not in the phase this build of LAPACK is known to "
            "return (a real component at a fixed position), so their derivative would depend on an unknown "
            "choice; remedy: differentiate the values only (eigvalsh/svdvals), or phase-independent functions "
            "of the vectors (|v|, v v^H) computed from them")
    return V[..., row, :]


def _fix_phase(dV, V, row, func: str):
    """Add i theta_j v_j to column j so that component ``row`` stays real (LAPACK's phase)."""
    ref = _phase_row(V, row, func)  # (..., n): real
    theta = -np.imag(dV[..., row, :]) / np.real(ref)  # (k, ..., n) against (..., n)
    return dV + 1j * theta[..., None, :] * V


def _hermitian_read(T, upper: bool):
    """The Hermitian matrix LAPACK factors, given the tangent of the full input: one triangle, its
    conjugate mirrored, the real part of the diagonal."""
    keep, strict = _triangle_masks(shape_of(T)[-1], upper)
    eye = np.eye(shape_of(T)[-1])
    return T * (keep - eye) + np.conjugate(mT(T * strict)) + np.real(T) * eye


def _eigh_complex_jvp(out, args, kwargs, tangents):
    w, V = out
    upper = _uplo(args, kwargs)
    T = _hermitian_read(front(tangents[0]), upper)
    X = np.conjugate(mT(V)) @ T @ V
    F = _inverse_gaps(w, "eigenvalue", "np.linalg.eigh")
    dV = _fix_phase(V @ (F * X), V, -1 if upper else 0, "np.linalg.eigh")
    return (back(np.real(diag_part(X))), back(dV))


def _eigvalsh_complex_jvp(out, args, kwargs, tangents):
    upper = _uplo(args, kwargs)
    _, V = np.linalg.eigh(args[0], "U" if upper else "L")
    T = _hermitian_read(front(tangents[0]), upper)
    return back(np.real(diag_part(np.conjugate(mT(V)) @ T @ V)))


def _svd_complex_jvp(out, args, kwargs, tangents):
    A = args[0]
    full, compute_uv, hermitian = _svd_options(args, kwargs)
    m, n = shape_of(A)[-2:]
    if hermitian:
        raise UnsupportedFunctionError("np.linalg.svd(..., hermitian=True) of a complex matrix has no derivative "
                                       "rule in dualad; remedy: leave hermitian out")
    if compute_uv and full and m != n:
        raise UnsupportedFunctionError(
            "np.linalg.svd(..., full_matrices=True) of a complex non-square matrix: the complement vectors have "
            "no derivative rule in dualad; remedy: full_matrices=False")
    if not compute_uv:
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
    else:
        U, s, Vh = out
    V = np.conjugate(mT(Vh))
    T = front(tangents[0])
    dP = np.conjugate(mT(U)) @ T @ V
    ds = np.real(diag_part(dP))
    if not compute_uv:
        return back(ds)
    _check_small_singular(s)
    F = _inverse_gaps(s, "singular value", "np.linalg.svd", squared=True, vectors="singular vector")
    S = diag_embed(s)
    inv_s = diag_embed(1.0 / s)
    # the imaginary part of diag(dP) turns U and V by opposite phases (Hermitian-SVD identities)
    phase = 0.5 * (dP - np.conjugate(mT(dP))) * np.eye(shape_of(s)[-1]) @ inv_s
    dU = U @ (F * (dP @ S + S @ np.conjugate(mT(dP))) + phase)
    dV = V @ (F * (S @ dP + np.conjugate(mT(dP)) @ S))
    if m > n:
        dU = dU + (T @ V - U @ dP) @ inv_s
    if n > m:
        dV = dV + (np.conjugate(mT(T)) @ U - V @ np.conjugate(mT(dP))) @ inv_s
    # LAPACK's phase: shared by U's and V's columns, so one theta per pair
    if m >= n:
        ref = _phase_row(V, 0, "np.linalg.svd")
        theta = -np.imag(dV[..., 0, :]) / np.real(ref)
    else:
        ref = _phase_row(U, 0, "np.linalg.svd")
        theta = -np.imag(dU[..., 0, :]) / np.real(ref)
    dU = dU + 1j * theta[..., None, :] * U
    dV = dV + 1j * theta[..., None, :] * V
    return (back(dU), back(ds), back(np.conjugate(mT(dV))))


def _svdvals_complex_jvp(out, args, kwargs, tangents):
    U, _, Vh = np.linalg.svd(args[0], full_matrices=False)
    dP = np.conjugate(mT(U)) @ front(tangents[0]) @ np.conjugate(mT(Vh))
    return back(np.real(diag_part(dP)))


def _slogdet_complex_jvp(out, args, kwargs, tangents):
    sign = out[0]
    try:
        inv = np.linalg.inv(args[0])
    except np.linalg.LinAlgError:
        raise DegeneracyError("np.linalg.slogdet of a singular complex matrix: log|det| is -inf and the sign is "
                              "undefined, so neither has a derivative; remedy: move off the singular point") from None
    t = np.sum(np.swapaxes(inv, -1, -2)[..., None] * tangents[0], axis=(-3, -2))  # tr(A^-1 dA) per direction
    return (np.expand_dims(sign, -1) * 1j * np.imag(t), np.real(t))


# ----------------------------------------------------------------------------- eig, eigvals (general matrices)
def _eig_parts(A, w, V):
    """Vinv and the eigenvalue gaps, refusing repeated eigenvalues (not differentiable in general)."""
    F = _inverse_gaps(w, "eigenvalue", "np.linalg.eig")
    return np.linalg.inv(V), F


def _eig_jvp(out, args, kwargs, tangents):
    w, V = out
    Vinv, F = _eig_parts(args[0], w, V)
    X = Vinv @ front(tangents[0]) @ V
    dw = diag_part(X)
    dV = V @ (F * X)
    # LAPACK's normalisation: unit norm, the largest component real (real vectors stay real)
    Vp = plain(V)
    mags = np.abs(Vp)
    p = np.argmax(mags, axis=-2)  # (..., n)
    top = np.take_along_axis(mags, p[..., None, :], axis=-2)[..., 0, :]
    second = np.sort(mags, axis=-2)[..., -2, :] if Vp.shape[-2] > 1 else np.zeros_like(top)
    if np.any(second >= top * (1 - 1e-8)):
        raise DegeneracyError("np.linalg.eig: an eigenvector has two components of the same largest magnitude, "
                              "so the phase LAPACK fixes (largest component real) may jump; its derivative is "
                              "undefined here; remedy: differentiate the eigenvalues only (np.linalg.eigvals)")
    vp = np.take_along_axis(Vp, p[..., None, :], axis=-2)[..., 0, :]
    if np.any(np.abs(np.imag(vp)) > 1e-12 * np.abs(vp)):
        raise UnsupportedFunctionError("np.linalg.eig: the eigenvectors are not in the phase this build of LAPACK "
                                       "is known to return (largest component real); remedy: differentiate "
                                       "np.linalg.eigvals, or phase-independent functions of the vectors")
    dvp = np.take_along_axis(dV, np.broadcast_to(p[..., None, :], shape_of(dV)[:-2] + (1,) + p.shape[-1:]),
                             axis=-2)[..., 0, :]
    vp_value = np.take_along_axis(V, p[..., None, :], axis=-2)[..., 0, :]  # V itself: nested derivatives see it
    c = -np.real(np.sum(np.conjugate(V) * dV, axis=-2)) - 1j * np.imag(dvp) / np.real(vp_value)
    if not np.iscomplexobj(plain(V)):
        c = np.real(c)
    dV = dV + c[..., None, :] * V
    return (back(dw), back(dV))


def _eigvals_jvp(out, args, kwargs, tangents):
    w, V = np.linalg.eig(args[0])
    Vinv, _ = _eig_parts(args[0], w, V)
    return back(diag_part(Vinv @ front(tangents[0]) @ V))


def _by_dtype(real_entry, complex_jvp, constant_outputs=None):
    """One entry: the real rule for real matrices, ``complex_jvp`` (transposed in reverse mode) for complex."""
    def jvp(out, args, kwargs, tangents):
        if _complex_args(args):
            return complex_jvp(out, args, kwargs, tangents)
        return real_entry.jvp(out, args, kwargs, tangents)

    def vjp(out, args, kwargs, ct):
        if _complex_args(args):
            return TRANSPOSE_JVP
        return real_entry.vjp(out, args, kwargs, ct)

    kept = real_entry.constant_outputs if constant_outputs is None else constant_outputs
    return Custom(jvp, None if real_entry.vjp is None else vjp, pattern_like=real_entry.pattern_like,
                  constant_outputs=kept, complex=True)


TABLE[np.linalg.eigh] = _by_dtype(TABLE[np.linalg.eigh], _eigh_complex_jvp)
TABLE[np.linalg.eigvalsh] = _by_dtype(TABLE[np.linalg.eigvalsh], _eigvalsh_complex_jvp)
TABLE[np.linalg.svd] = _by_dtype(TABLE[np.linalg.svd], _svd_complex_jvp)
TABLE[np.linalg.svdvals] = _by_dtype(TABLE[np.linalg.svdvals], _svdvals_complex_jvp)
TABLE[np.linalg.slogdet] = _by_dtype(TABLE[np.linalg.slogdet], _slogdet_complex_jvp)
TABLE[np.linalg.eig] = Custom(_eig_jvp, complex=True)
TABLE[np.linalg.eigvals] = Custom(_eigvals_jvp, complex=True)
