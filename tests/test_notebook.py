"""The forward-vs-reverse notebook executes top to bottom and is committed without outputs."""
import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "forward_vs_reverse.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None


def test_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []))
    assert "reverse mode" in text and "forward mode" in text
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors


TOUR = NOTEBOOK.parent / "notebook_tour.ipynb"


def test_tour_is_committed_without_outputs():
    nb = json.loads(TOUR.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None


def test_tour_executes_and_shows_the_three_displays(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("matplotlib")
    pytest.importorskip("scipy")
    nb = nbformat.read(str(TOUR), as_version=4)
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    data = [out.get("data", {}) for out in outputs]
    html = [d["text/html"] for d in data if "text/html" in d]
    assert any("<b>Dual</b>" in h and "50 directions" in h for h in html)  # not the 50 000 tangent entries
    assert any("<b>Var</b>" in h for h in html)
    graphs = [d.get("image/svg+xml", "") + d.get("text/markdown", "") for d in data]
    assert any("<svg" in g or "digraph" in g for g in graphs)  # SVG with graphviz + dot, DOT text without
    assert sum("image/png" in d for d in data) == 2  # the two sparsity plots
