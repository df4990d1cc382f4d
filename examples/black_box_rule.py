"""A black-box routine with a derivative rule of your own, inside a Jacobian, a tape gradient and a
sparse Jacobian.

``lennard_jones_kernel`` stands for compiled code (a C or Fortran kernel): it only accepts plain
floats, so dualad cannot trace it. ``dualad.custom_jvp`` gives it a JVP (one direction, tangents
shaped like the inputs) and declares that output i depends only on input i ("elementwise"). From
that alone dualad gets

- forward-mode Jacobians (all directions in one call of the JVP),
- reverse-mode gradients (the JVP is recorded on a tape and transposed),
- sparsity detection and a coloured sparse Jacobian (the declared pattern, not "everything"),

all checked here against central differences of the same code on plain floats, and the rule itself
with ``dualad.testing.check_rule``.

Run:  python examples/black_box_rule.py
"""
import math

import numpy as np

import dualad
from dualad import tape
from dualad.checking import central_differences
from dualad.testing import check_rule


def lennard_jones_kernel(r, sigma):
    """The 'compiled' part: pair potential 4 (s^12/r^12 - s^6/r^6), one float at a time."""
    values = []
    for ri in np.asarray(r, dtype=float).reshape(-1):
        q = (float(sigma) / ri) ** 6
        values.append(4.0 * (q * q - q))
    return np.array(values).reshape(np.shape(r))


def lennard_jones_force_kernel(r, sigma):
    """Its derivative d/dr, also 'compiled': -24 (2 s^12/r^13 - s^6/r^7)."""
    values = []
    for ri in np.asarray(r, dtype=float).reshape(-1):
        q = (float(sigma) / ri) ** 6
        values.append(-24.0 * (2.0 * q * q - q) / ri)
    return np.array(values).reshape(np.shape(r))


@dualad.custom_jvp(nondiff_argnums=(1,), sparsity="elementwise")
def pair_energy(r, sigma):
    return lennard_jones_kernel(r, sigma)


@pair_energy.defjvp
def pair_energy_jvp(sigma, primals, tangents):
    (r,), (dr,) = primals, tangents
    return pair_energy(r, sigma), lennard_jones_force_kernel(r, sigma) * dr   # linear in dr


SIGMA = 1.0


def chain_energies(x):
    """Energy of each bond of a 1-D chain of atoms at positions x (plain numpy around the black box)."""
    bonds = x[1:] - x[:-1]
    return pair_energy(bonds, SIGMA) + 0.01 * bonds ** 2


def total_energy(x):
    return np.sum(chain_energies(x))


def plain_chain_energies(x):  # the same model without dualad, for central differences
    bonds = x[1:] - x[:-1]
    return lennard_jones_kernel(bonds, SIGMA) + 0.01 * bonds ** 2


def main():
    n = 200
    x = np.cumsum(np.full(n, 1.12)) + 0.05 * np.sin(np.arange(n))

    report = check_rule(pair_energy, (x[1:] - x[:-1], SIGMA))
    print(report)

    J = dualad.jacobian(chain_energies, x)                       # (n-1, n), forward mode
    J_fd = central_differences(plain_chain_energies, x, rel_step=1e-7)[0]   # x up to 220: a small relative step
    print(f"\nforward Jacobian ({J.shape[0]} x {J.shape[1]}) vs central differences: "
          f"max |diff| = {np.abs(J - J_fd).max():.1e} (max |J| = {np.abs(J).max():.1f})")

    g = tape.grad(total_energy, x)                               # reverse mode: the JVP transposed
    print(f"tape gradient vs column sums of the forward Jacobian: max |diff| = {np.abs(g - J.sum(axis=0)).max():.1e}")

    S = dualad.jacobian_sparsity(chain_energies, x)
    Js = dualad.sparse_jacobian(chain_energies, x)
    print(f"sparsity: {S.nnz} nonzeros (a bidiagonal band, as declared), sparse Jacobian in "
          f"{dualad.SparseJacobian(chain_energies, x).ncolors} colours; max |sparse - dense| = "
          f"{np.abs(Js.toarray() - J).max():.1e}")

    assert report.passed
    assert np.abs(J - J_fd).max() <= 1e-6 * max(1.0, np.abs(J).max())
    assert np.allclose(g, J.sum(axis=0), rtol=1e-13, atol=1e-13)
    assert S.nnz == 2 * (n - 1) and np.array_equal(Js.toarray(), J)

    try:
        dualad.jacobian(lambda v: lennard_jones_kernel(v, SIGMA), x[:3])
    except dualad.DualadError as err:
        print(f"\nwithout the rule, dualad refuses instead of guessing:\n  {type(err).__name__}: {str(err)[:110]}...")
    else:
        raise AssertionError("the bare kernel should have been refused")


if __name__ == "__main__":
    main()
