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
