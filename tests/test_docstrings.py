"""Every example in dualad's docstrings runs and prints what it shows."""
import doctest
import importlib
import pkgutil

import pytest

import dualad

MODULES = sorted(m.name for m in pkgutil.walk_packages(dualad.__path__, "dualad.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} failed (run with -s to see them)"
