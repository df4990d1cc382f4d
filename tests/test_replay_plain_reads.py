"""Plain copies of recorded values (``v.value``, ``tape.stop_gradient(v)``) under ``prepare`` and ``SparseJacobian``.

dualad's own error messages suggest reading ``d.value`` deliberately, and ``tape.stop_gradient``
for constants and indices. A recording cannot see what f does with such a copy, so a replay at
another x used the recorded branch or the recorded constant: silently wrong values and
derivatives. Each function here was wrong under ``prepare`` before; now ``prepare`` refuses it
with a remedy, and ``SparseJacobian`` answers right at every call.
"""
import threading

import numpy as np
import pytest

import dualad
from dualad import tape
from dualad.replay import plain_reads
from dualad.tape.var import Var

X0 = np.array([1.3, 2.0, 0.5])
X1 = np.array([-1.4, 2.0, 3.0])


def plain(u):
    """``u.value`` for a differentiable value (the deliberate read), u itself for central differences."""
    return getattr(u, "value", u)


def value_branch(v):
    return v * 2 if plain(v[0]) > 0 else v * 3


def value_index(v):
    return v * v[int(abs(plain(v[0]))) % 3]


def stop_branch(v):
    return v * 2 if tape.stop_gradient(v[0]) > 0 else v[::-1] * 3


def stop_factor(v):
    return v * tape.stop_gradient(v)


def stop_shift(v):  # the log-sum-exp shift of examples/mlp_iris.py
    u = v - tape.stop_gradient(np.max(v))
    return np.exp(u) / np.sum(np.exp(u))


READERS = [value_branch, value_index, stop_branch, stop_factor, stop_shift]


def summed(f):
    return lambda v: np.sum(np.sin(f(v)))


@pytest.mark.parametrize("f", READERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("entry", ["jacobian", "jvp", "vjp", "gradient", "value_and_grad", "hvp", "sparse"])
def test_prepare_refuses_plain_reads(f, entry):
    g = summed(f)
    calls = {
        "jacobian": lambda: dualad.prepare(f, X0).jacobian(X1),
        "jvp": lambda: dualad.prepare(f, X0).jvp(X1, np.ones(3)),
        "vjp": lambda: dualad.prepare(f, X0).vjp(X1, np.ones(3)),
        "gradient": lambda: dualad.prepare(g, X0).gradient(X1),
        "value_and_grad": lambda: dualad.prepare(g, X0).value_and_grad(X1),
        "hvp": lambda: dualad.prepare(g, X0).hvp(X1, np.ones(3)),
        "sparse": lambda: dualad.prepare(f, X0, sparse=True).jacobian(X1),
    }
    with pytest.raises(dualad.ReplayRefused, match="remedy") as info:
        calls[entry]()
    assert "value" in str(info.value) or "stop_gradient" in str(info.value)
    assert Var.__dict__["value"] is plain_reads.slot_of()  # the watch is gone after the recording


@pytest.mark.parametrize("f", READERS, ids=lambda f: f.__name__)
def test_plain_modes_are_unchanged(f):
    # forward and reverse mode run f at every point: the plain reads are right there
    for x in (X0, X1):
        J = dualad.jacobian(f, x)
        np.testing.assert_allclose(tape.jacobian(f, x), J, rtol=1e-12, atol=1e-14)
        h = 1e-6
        central = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
        if f is not stop_factor and f is not stop_shift:  # stop_gradient changes the derivative on purpose
            np.testing.assert_allclose(J, central, rtol=1e-6, atol=1e-6)


def value_flip(v):  # a branch on a plain copy that changes the pattern (diagonal / anti-diagonal)
    return v * 2 if plain(v[0]) > 0 else v[::-1] * 3


@pytest.mark.parametrize("f", [stop_branch, stop_factor, stop_shift, value_flip, value_branch],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("replay", [True, False])
def test_sparse_jacobian_follows_plain_reads(f, replay):
    # from the first call on, at points on either side of the branch
    jac = dualad.SparseJacobian(f, X0, replay=replay)
    for x in (X1, X1, X0, X1 * 0.5, X0 + 1, X1, X1):
        np.testing.assert_allclose(jac(x).toarray(), dualad.jacobian(f, x), rtol=1e-12, atol=1e-14)


def test_reads_inside_dualad_are_not_reported():
    # composites, sorting, indexing with guarded decisions read .value internally: still replayed
    def f(v):
        s = np.sort(v)
        return s * np.cumsum(v) + np.where(v > 0.7, v ** 2, -v) + v[np.argmax(v)]
    p = dualad.prepare(f, X0)
    for x in (X0, X1, X0 * 2):
        np.testing.assert_allclose(p.jacobian(x), dualad.jacobian(f, x), rtol=1e-12)


def test_the_watch_is_removed_when_f_raises():
    def f(v):
        raise RuntimeError("inside f")
    with pytest.raises(RuntimeError):
        dualad.prepare(f, X0).jacobian(X0)
    assert Var.__dict__["value"] is plain_reads.slot_of()


def test_other_threads_are_not_reported():
    class Log:
        def __init__(self):
            self.unguarded = []

    kept = []
    tape.value_and_grad(lambda u: kept.append(u) or u * 2.0, 1.0)
    var, = kept  # a tape value (its call has returned; reading .value is still allowed)
    log, seen = Log(), []
    with plain_reads.watching(log):
        worker = threading.Thread(target=lambda: seen.append(var.value))
        worker.start()
        worker.join()
    assert seen == [1.0] and log.unguarded == []
    with plain_reads.watching(log):
        _ = var.value  # this thread's recording: reported
    assert log.unguarded == [plain_reads.READ]
    assert Var.__dict__["value"] is plain_reads.slot_of()


def test_dualad_frames_are_recognised_by_their_real_path():
    # imported through a relative sys.path entry (benchmarks/run.py adds `benchmarks/..`), co_filename
    # is not normalised: dualad's own reads must still not count as the user's
    own_file = plain_reads._OWN + "tape/var.py"
    unnormalised = own_file.replace("/dualad/", "/dualad/../dualad/", 1)
    assert plain_reads._is_own(compile("0", unnormalised, "eval"))
    assert plain_reads._is_own(compile("0", own_file, "eval"))
    assert not plain_reads._is_own(compile("0", __file__, "eval"))
    assert not plain_reads._is_own(compile("0", plain_reads._OWN.rstrip("/") + "_extra/x.py", "eval"))
