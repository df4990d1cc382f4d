"""Code hygiene the architecture promises (docs/architecture.md): no module of dualad imports
another module's private (``_x``) names, so every shared helper is a public name of its owner."""
from __future__ import annotations

import ast
import pathlib

import dualad

PACKAGE = pathlib.Path(dualad.__file__).parent
ALLOWED = {"__version__", "__all__"}  # dunder metadata is public by convention


def _private_imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            internal = node.level > 0 or (node.module or "").split(".")[0] == "dualad"
            if not internal:
                continue  # third-party privates (numpy's) are each guarded where they are used
            parts = (node.module or "").split(".")
            for part in parts:
                if part.startswith("_") and part not in ALLOWED:
                    found.append(f"{path.name}:{node.lineno} from {node.module} (a private module)")
            for alias in node.names:
                if alias.name.startswith("_") and alias.name not in ALLOWED:
                    found.append(f"{path.name}:{node.lineno} imports {alias.name} from {node.module or '.'}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dualad" and any(p.startswith("_") for p in parts):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _private_imports(path)]
    assert offenders == [], "private names imported across modules:\n" + "\n".join(offenders)


def test_the_check_catches_a_private_import(tmp_path):
    # the checker itself must be able to fail (a test that cannot fail checks nothing)
    bad = tmp_path / "bad.py"
    bad.write_text("from .dispatch import _scale\nfrom dualad.common import ndim as _n\nimport dualad._x\n")
    hits = _private_imports(bad)
    assert len(hits) == 2 and "_scale" in hits[0] and "dualad._x" in hits[1]


def test_a_new_ufunc_takes_one_table_line():
    """docs/architecture.md: "a new op is one entry in the table". scipy.special.erf, removed from
    the table and added back by one line, works in forward mode, reverse mode and the sparsity
    tracer with no engine edit (checked against its closed form, not against dualad)."""
    import math

    import pytest
    sc = pytest.importorskip("scipy.special")
    from dualad import UnsupportedFunctionError, rules, tape
    from dualad.rules import TABLE, Elementwise

    import numpy as np
    rules.late_rule(sc.erf)  # load ops/special.py as the engines would on first use (once: no reload later)
    saved = TABLE.pop(sc.erf)
    x = np.array([-0.7, 0.1, 1.3])
    f = lambda v: sc.erf(v) * v[0]  # noqa: E731
    try:
        with pytest.raises(UnsupportedFunctionError):
            dualad.jacobian(f, x)
        TABLE[sc.erf] = Elementwise((lambda out, x: 2.0 / math.sqrt(math.pi) * np.exp(-x * x),))  # the one line
        expected = np.diag(2.0 / math.sqrt(math.pi) * np.exp(-x * x) * x[0])
        expected[:, 0] += sc.erf(x)
        np.testing.assert_allclose(dualad.jacobian(f, x), expected, rtol=1e-13)
        np.testing.assert_allclose(np.asarray(tape.jacobian(f, x)), expected, rtol=1e-13)
        assert (dualad.jacobian_sparsity(f, x).toarray() != 0).tolist() == (expected != 0).tolist()
    finally:
        TABLE[sc.erf] = saved
