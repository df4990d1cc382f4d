"""Notebook displays: short HTML for differentiable values, a tape as SVG (or DOT text), sparsity plots,
and the progress bar (tqdm when installed, the built-in line otherwise)."""
from __future__ import annotations

import io
import pickle
import sys
import types

import numpy as np
import pytest

import dualad
from dualad import cost, notebook, tape


def test_dual_html_is_short_whatever_the_tangent():
    d = dualad.Dual(np.linspace(0.0, 1.0, 2000), np.zeros((2000, 300)))
    text = d._repr_html_()
    assert len(text) < 400
    assert "<b>Dual</b>" in text and "(2000,)" in text and "float64" in text and "300 directions" in text
    one = dualad.Dual(np.float32(2.0), np.float32(1.0))._repr_html_()
    assert "1 direction " in one and "float32" in one and "2.0" in one


def test_tape_value_html_names_its_node():
    t = tape.record(lambda x, y: tape.label(x * y, "prod") + 1.0, 2.0, 3.0)
    inner = t.nodes[2]
    assert inner.label == "prod"
    html = t.output._repr_html_()
    assert "<b>Var</b>" in html and "tape of 4 nodes" in html and "7.0" in html
    g = tape.grad(lambda v: (lambda h: 0 * len(h) + np.sum(v))(v._repr_html_()), np.ones(3))
    np.testing.assert_array_equal(g, np.ones(3))  # rendering inside f changes nothing


def test_html_of_a_nested_dual():
    seen = []

    def f(x):
        def g(y):
            seen.append(y._repr_html_())  # a Dual whose value is the outer call's Dual
            return y * x
        return dualad.jacobian(g, x)
    dualad.jacobian(f, np.ones(2))
    assert seen and all("<b>Dual</b>" in s and "2 directions" in s for s in seen)


@pytest.fixture
def recorded():
    t = tape.record(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0, names=["x", "y", "z"])
    t.backward()
    return t


def test_tape_without_dot_shows_dot_text(recorded, monkeypatch):
    monkeypatch.setattr(notebook.shutil, "which", lambda name: None)
    assert recorded._repr_svg_() is None
    text = recorded._repr_markdown_()
    assert "```dot" in text and "digraph" in text and recorded.to_dot() in text


def test_tape_without_graphviz_package_shows_dot_text(recorded, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz raises ImportError
    monkeypatch.setattr(notebook.shutil, "which", lambda name: "/usr/bin/dot")
    assert recorded._repr_svg_() is None
    assert "digraph" in recorded._repr_markdown_()


class _FakeSource:
    fail = False

    def __init__(self, dot):
        self.dot = dot

    def pipe(self, format, encoding):
        if self.fail:
            raise RuntimeError("dot crashed")
        return f"<svg><!-- {format} {len(self.dot)} --></svg>"


def test_tape_renders_svg_through_graphviz(recorded, monkeypatch):
    fake = types.SimpleNamespace(Source=_FakeSource)
    monkeypatch.setitem(sys.modules, "graphviz", fake)
    monkeypatch.setattr(notebook.shutil, "which", lambda name: "/usr/bin/dot")
    svg = recorded._repr_svg_()
    assert svg.startswith("<svg>") and f"svg {len(recorded.to_dot())}" in svg
    assert recorded._repr_markdown_() is None  # the SVG is shown instead
    monkeypatch.setattr(_FakeSource, "fail", True)
    assert recorded._repr_svg_() is None  # a failing dot falls back cleanly


def test_real_graphviz_when_available(recorded):
    graphviz = pytest.importorskip("graphviz")
    import shutil
    if shutil.which("dot") is None:
        assert recorded._repr_svg_() is None
    else:
        assert "<svg" in recorded._repr_svg_()
    assert graphviz is not None


def test_sparsity_pattern_plot_colours_columns():
    pytest.importorskip("scipy")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import scipy.sparse as sp
    f = lambda u: u[1:] * u[:-1] + np.sin(u[0])  # noqa: E731
    S = dualad.jacobian_sparsity(f, np.ones(8))
    assert isinstance(S, sp.csr_matrix) and S.dtype == bool
    np.testing.assert_array_equal(S.toarray(), dualad.jacobian(f, np.ones(8)) != 0)
    again = pickle.loads(pickle.dumps(S))
    assert type(again) is type(S) and (again != S).nnz == 0
    ax = S.plot()
    assert "7 x 8" in ax.get_title() and "colours" in ax.get_title()
    jac = dualad.SparseJacobian(f, np.ones(8))
    ax = jac.plot()
    points = ax.collections[0]
    assert len(points.get_offsets()) == jac.sparsity.nnz
    cols = points.get_offsets()[:, 0].astype(int)
    np.testing.assert_array_equal(points.get_array(), jac.colors[cols])  # coloured by column group
    assert f"{jac.ncolors} colours" in ax.get_title()
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.mark.parametrize("use_tqdm", [None, False])
def test_progress_bar(use_tqdm):
    if use_tqdm is None:
        pytest.importorskip("tqdm")
    quiet = io.StringIO()
    bar = cost._Progress(3, "sweep", None, delay=60.0, stream=quiet, use_tqdm=use_tqdm)
    bar.update(1)
    bar.update(2, "n=8")
    bar.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = cost._Progress(3, "sweep", True, delay=60.0, stream=loud, use_tqdm=use_tqdm)
    bar.update(2, "n=8")
    bar.close()
    assert "2/3" in loud.getvalue() and "n=8" in loud.getvalue() and loud.getvalue().endswith("\n")
    assert (bar.tqdm is not None) == (use_tqdm is None)


def test_progress_bar_falls_back_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    loud = io.StringIO()
    bar = cost._Progress(3, "sweep", True, stream=loud)
    bar.update(3)
    bar.close()
    assert bar.tqdm is None and "[########################] 3/3" in loud.getvalue()
