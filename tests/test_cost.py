"""dualad.cost: the measurements are consistent with the cost model and with each other.

No timing assertions: times are only checked to be positive and ordered (min <= median <= max).
"""
import io
import subprocess
import sys

import numpy as np
import pytest

from dualad import cost
from dualad.__main__ import main


def counted(f):
    """f with a call counter, to check the pass counts independently of dualad.cost."""
    calls = [0]

    def g(x):
        calls[0] += 1
        return f(x)
    return g, calls


def poly_map(x):
    """R^n -> R^n with a hand-written Jacobian (below)."""
    return x ** 3 + 2.0 * x * x[0]


def poly_jac(x):
    J = np.diag(3 * x ** 2 + 2.0 * x[0])
    J[:, 0] += 2.0 * x
    return J


# ----------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("kind, evals", [("central", lambda n: 2 * n), ("forward", lambda n: n + 1)])
def test_finite_differences_match_hand_jacobian_and_count_evaluations(kind, evals):
    x = np.array([0.3, -1.2, 2.0, 5.0])
    g, calls = counted(poly_map)
    J, reported = cost.finite_difference_jacobian(g, x, kind)
    assert reported == calls[0] == evals(x.size)
    tol = 1e-7 if kind == "central" else 1e-5
    np.testing.assert_allclose(J, poly_jac(x), rtol=tol, atol=tol)


def test_finite_differences_keep_jacobian_shape_convention():
    x = np.arange(6.0).reshape(2, 3)
    J, _ = cost.finite_difference_jacobian(lambda v: np.sum(v ** 2, axis=0), x)
    assert J.shape == (3, 2, 3)
    expected = np.zeros((3, 2, 3))
    for j in range(3):
        expected[j, :, j] = 2 * x[:, j]
    np.testing.assert_allclose(J, expected, atol=1e-6)


# ----------------------------------------------------------------------------- compare
def test_compare_pass_counts_follow_the_cost_model():
    x = np.linspace(0.5, 1.5, 10)
    g, calls = counted(poly_map)
    r = cost.compare(g, x, chunk_size=3, repeat=2, memory=False, methods=("forward", "fd"))
    # forward: ceil(10/3) = 4 passes; fd: 2n = 20 evaluations. Each pass is one call of f.
    assert r["forward"].passes == 4 and r["fd"].passes == 20
    assert r.n == 10 and r.m == 10 and r.chunk == 3
    # 1 call to learn m, 1 recorded on the tape to count operations, then each method once
    # untimed plus `repeat` timed runs
    assert calls[0] == 2 + (1 + 2) * 4 + (1 + 2) * 20

    fd = cost.compare(poly_map, x, fd="forward", repeat=1, memory=False, methods=("fd",))
    assert fd["fd"].passes == 11 and fd["fd"].label == "forward differences"


def test_compare_methods_agree_with_the_hand_jacobian():
    x = np.array([0.4, -0.7, 1.3])
    r = cost.compare(poly_map, x, repeat=1)
    assert [c.method for c in r.methods] == ["forward", "reverse", "fd"]
    for c in r.methods:
        np.testing.assert_allclose(c.jacobian, poly_jac(x), rtol=1e-7, atol=1e-8)
        assert c.max_diff < 1e-7
    assert r["reverse"].passes == 1  # all three output rows in one batched sweep
    # max_diff is the largest distance to the other two methods
    fwd, rev, fd = (r[k].jacobian for k in ("forward", "reverse", "fd"))
    assert r["fd"].max_diff == pytest.approx(max(np.abs(fd - fwd).max(), np.abs(fd - rev).max()))


def test_compare_counts_primitive_operations_from_one_recording():
    x = np.linspace(0.1, 1.0, 6)
    f = lambda v: np.sin(v) * v + 1.0  # noqa: E731  three primitives: sin, multiply, add
    r = cost.compare(f, x, chunk_size=4, reverse_chunk_size=4, repeat=1, memory=False)
    assert r.nodes == 3
    assert r["forward"].passes == 2 and r["reverse"].passes == 2 and r["fd"].passes == 12
    assert r["forward"].ops == 3 * 2
    assert r["fd"].ops == 3 * 12
    assert r["reverse"].ops == 3 + 2 * 3  # recorded once, each node visited in each of 2 sweeps
    # work: every op outputs 6 elements; forward computes values in 2 passes plus 6 tangent columns,
    # reverse records once plus 6 cotangent rows, fd evaluates 12 times
    assert r["forward"].work == 3 * 6 * (2 + 6)
    assert r["reverse"].work == 3 * 6 * (1 + 6)
    assert r["fd"].work == 3 * 6 * 12


def test_textbook_chunks_give_n_forward_passes_and_m_backward_sweeps():
    f = lambda v: np.stack([np.sum(v ** 2), np.prod(v)])  # noqa: E731  R^5 -> R^2
    r = cost.compare(f, np.arange(1.0, 6.0), chunk_size=1, reverse_chunk_size=1, repeat=1, memory=False)
    assert (r.n, r.m) == (5, 2)
    assert r["forward"].passes == 5 and r["reverse"].passes == 2
    auto = cost.compare(f, np.arange(1.0, 6.0), repeat=1, memory=False)
    assert auto["forward"].passes == 1 and auto["reverse"].passes == 1  # all directions in one go


def test_compare_times_and_memory_are_recorded():
    n = 200
    f, x = cost.gradient_problem(n)
    r = cost.compare(f, x, repeat=3)
    for c in r.methods:
        assert len(c.times) == 3 and all(t > 0 for t in c.times)
        assert c.time_min <= c.time_median <= c.time_max
        assert c.peak_bytes is not None and c.peak_bytes >= 0
    # forward mode seeds all n directions at once: an n x n identity block at least
    assert r["forward"].peak_bytes >= n * n * 8
    # a gradient by reverse mode holds n-sized adjoints, not n x n tangent blocks
    assert r["reverse"].peak_bytes < r["forward"].peak_bytes
    assert r["reverse"].tape_bytes > 0


def test_compare_rows_and_to_dict_suit_a_dataframe():
    r = cost.compare(np.sin, np.array([0.1, 0.2]), repeat=1, memory=False, name="sin")
    rows = r.rows
    assert len(rows) == 3 and all(row["name"] == "sin" and row["n"] == 2 for row in rows)
    d = r.to_dict()
    assert set(d) == set(rows[0]) and all(len(v) == 3 for v in d.values())
    assert d["method"] == ["forward", "reverse", "fd"]
    for value in rows[0].values():  # plain Python/numpy scalars only, no arrays
        assert value is None or isinstance(value, (str, int, float))
    text = str(r)
    for label in ("forward mode", "reverse mode", "central differences", "R^2 -> R^2"):
        assert label in text
    assert "<table>" in r._repr_html_()


def test_compare_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown method"):
        cost.compare(np.sin, [1.0], methods=("sideways",))
    with pytest.raises(ValueError, match="fd must be"):
        cost.compare(np.sin, [1.0], fd="backward")
    with pytest.raises(ValueError, match="repeat"):
        cost.compare(np.sin, [1.0], repeat=0)
    with pytest.raises(ValueError, match="reverse_chunk_size"):
        cost.compare(np.sin, [1.0], reverse_chunk_size=0)


# ----------------------------------------------------------------------------- scaling
def _fake_scaling(sizes, fwd, rev):
    def cell(meth, t):
        return cost.MethodCost(meth, meth, 1, "", None, None, None, [t, t, t], 0.0)
    results = [cost.Comparison(s, 1, s, 1, None, [cell("forward", a), cell("reverse", b)])
               for s, a, b in zip(sizes, fwd, rev)]
    return cost.Scaling(list(sizes), results, "fake", "n")


def test_crossover_is_interpolated_on_log_log_axes():
    sizes = [10, 100, 1000]
    fwd = [1e-4 * (s / 10) ** 2 for s in sizes]      # grows like n^2
    rev = [1e-3 * (s / 10) for s in sizes]           # grows like n
    s = _fake_scaling(sizes, fwd, rev)
    # 1e-4 (n/10)^2 = 1e-3 (n/10)  <=>  n = 100
    assert s.crossover() == [pytest.approx(100.0)]
    sizes = [4, 16]
    s = _fake_scaling(sizes, [1.0, 3.0], [2.0, 1.5])  # log-ratio -log2 -> log2: midway in log size
    assert s.crossover() == [pytest.approx(8.0)]
    assert _fake_scaling([1, 2], [1.0, 1.0], [2.0, 2.0]).crossover() == []
    # a near-tie (within 15 %) is not a lead: noise between equal methods is no crossing
    assert _fake_scaling([2, 8, 32], [1.00, 1.05, 1.0], [1.04, 1.0, 3.0]).crossover() == []
    assert _fake_scaling([2, 8, 32], [2.0, 1.05, 1.0], [1.0, 1.0, 2.0]).crossover() == [pytest.approx(
        8.0 * 4 ** (np.log(1.05) / (np.log(1.05) + np.log(2.0))))]  # in the segment where the sign flips
    # an exact tie in the middle is where they cross
    assert _fake_scaling([2, 8, 32], [2.0, 1.0, 1.0], [1.0, 1.0, 2.0]).crossover() == [pytest.approx(8.0)]


def test_scaling_runs_the_family_and_flattens_rows():
    s = cost.scaling(cost.tall_problem, [3, 7], name="tall", size_label="m", repeat=1, memory=False,
                     reverse_chunk_size=1)
    assert [r.m for r in s.results] == [3, 7] and all(r.n == 1 for r in s.results)
    assert [r["reverse"].passes for r in s.results] == [3, 7]  # one sweep per output row
    assert [r["forward"].passes for r in s.results] == [1, 1]
    rows = s.rows
    assert len(rows) == 6 and {row["size"] for row in rows} == {3, 7}
    assert all(len(v) == 6 for v in s.to_dict().values())
    assert s.times("forward").shape == (2,)
    assert "tall" in str(s)
    for r in s.results:
        assert max(c.max_diff for c in r.methods) < 1e-6


def test_progress_bar_only_after_the_delay():
    quiet = io.StringIO()
    bar = cost._Progress(3, "sweep", None, delay=60.0, stream=quiet)
    bar.update(1)
    bar.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = cost._Progress(3, "sweep", None, delay=0.0, stream=loud)
    bar.update(2, "n=8")
    bar.close()
    assert "2/3" in loud.getvalue() and loud.getvalue().endswith("\n")
    never = io.StringIO()
    bar = cost._Progress(3, "sweep", False, delay=0.0, stream=never)
    bar.update(3)
    bar.close()
    assert never.getvalue() == ""


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    s = _fake_scaling([10, 100, 1000], [1e-4, 1e-2, 1.0], [1e-3, 1e-2, 1e-1])
    ax = s.plot()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.get_lines()) >= 3  # two methods and the crossover marker
    path = tmp_path / "fig.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- command line
def test_cli_help_explains_the_options():
    proc = subprocess.run([sys.executable, "-m", "dualad", "compare", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    for option in ("--quick", "--sizes", "--plot", "--repeat", "--families", "--methods", "--chunk"):
        assert option in proc.stdout


def test_cli_quick_compare_prints_tables_and_writes_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "cmp.png"
    assert main(["compare", "--sizes", "2,4", "--repeat", "1", "--no-progress", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    for text in ("R^n -> R", "R^n -> R^n", "R -> R^m", "forward", "reverse", "fin. diff.", "Rule of thumb"):
        assert text in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_chunk_one_gives_textbook_pass_counts(capsys):
    assert main(["compare", "--quick", "--families", "square", "--sizes", "3,5", "--chunk", "1",
                 "--methods", "forward,reverse", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "R^n -> R^n" in out and "fin. diff." not in out
    assert "passes fwd/rev" in out and " 5/5 " in out  # n = 5 forward passes, m = 5 backward sweeps


def test_cli_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit) as err:
        main(["compare", "--sizes", "2,x"])
    assert err.value.code == 2
    assert "sizes" in capsys.readouterr().err


def test_default_command_is_still_the_demo(capsys):
    assert main([]) == 0
    assert "Jacobian by forward mode" in capsys.readouterr().out


def test_two_threads_compare_different_functions_at_once():
    import threading

    results = {}

    def work(key, f, x):
        results[key] = cost.compare(f, x, repeat=2)

    threads = [threading.Thread(target=work, args=("poly", poly_map, np.array([0.3, -0.8, 1.1]))),
               threading.Thread(target=work, args=("grad",) + cost.gradient_problem(40))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    poly, grad = results["poly"], results["grad"]
    for c in poly.methods:
        np.testing.assert_allclose(c.jacobian, poly_jac(np.array([0.3, -0.8, 1.1])), rtol=1e-7, atol=1e-8)
    assert (poly.n, poly.m, grad.n, grad.m) == (3, 3, 40, 1)
    assert grad["fd"].passes == 80 and max(c.max_diff for c in grad.methods) < 1e-5
    assert all(c.peak_bytes is not None and c.peak_bytes >= 0 for r in (poly, grad) for c in r.methods)


def test_comparisons_in_two_threads_take_turns():
    # tracemalloc.start()/stop() must never run while another comparison allocates (CPython 3.11
    # segfaulted): f records which thread is inside; the two threads' calls must never interleave
    import threading
    import time

    inside, overlaps = [], []

    def make(tag):
        def f(x):
            inside.append(tag)
            if len(set(inside)) > 1:
                overlaps.append(tuple(inside))
            time.sleep(0.001)
            inside.remove(tag)
            return np.sin(x) * x[0]
        return f

    threads = [threading.Thread(target=cost.compare, args=(make(k), np.ones(3)), kwargs={"repeat": 1})
               for k in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlaps
