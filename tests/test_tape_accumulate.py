"""The reverse sweep adds a getitem's cotangent into its parent's adjoint in place: that must never
write into an array somebody else holds. Expected values are derived by hand."""
import numpy as np

from dualad import tape


def test_slices_of_one_vector_accumulate():
    x = np.array([1.0, -2.0, 3.0, 0.5, 4.0])
    w = np.array([2.0, 3.0, -1.0])
    g = tape.grad(lambda v: np.sum(w * v[1:4]) + np.sum(v[:2] ** 2) + 5.0 * v[4], x)
    np.testing.assert_allclose(g, [2 * x[0], w[0] + 2 * x[1], w[1], w[2], 5.0])


def test_adjoint_shared_with_another_node_is_not_overwritten():
    # x + h hands one cotangent object to both x and h; the getitem, swept before h,
    # must not add into x's adjoint in place or h would read the sum
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    u = np.array([0.5, -1.0, 2.0, 7.0])

    def f(v):
        h = v * 3.0
        g = v[::-1]
        return np.sum(w * (v + h)) + np.sum(u * g)

    np.testing.assert_allclose(tape.grad(f, x), 4.0 * w + u[::-1])


def test_repeated_advanced_index_and_float32():
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    # sum(v[[0, 0, 2]] * v) + v0 = v0*v0 + v0*v1 + v2*v2 + v0
    g = tape.grad(lambda v: np.sum(v[[0, 0, 2]] * v) + np.sum(v[0:1]), x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [2 * x[0] + x[1] + 1.0, x[0], 2 * x[2]], rtol=1e-6)
