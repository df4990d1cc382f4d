"""The partials the reverse program writer spells out by hand (``reverse_code._INLINE_PARTIALS``:
``ct / y`` for divide, ``1 - o*o`` for tanh, signs folded) must be the rule table's partials.

Each entry is found from the table itself (the ufunc whose ``partials`` hold it), evaluated as the
generated program would evaluate it, and compared with the rule's own partial times the cotangent,
so a change to a formula in ``rules.py`` cannot leave a stale copy here.
"""
from __future__ import annotations

import numpy as np
import pytest

from dualad.replay import reverse_code
from dualad.rules import TABLE


def _owner(partial):
    for func, rule in TABLE.items():
        if isinstance(func, np.ufunc) and partial in getattr(rule, "partials", ()):
            return func, list(rule.partials).index(partial)
    raise AssertionError("a hand-written partial that is not in the rule table")


ENTRIES = list(reverse_code._INLINE_PARTIALS.items())


@pytest.mark.parametrize("partial, entry", ENTRIES, ids=lambda e: getattr(e, "__qualname__", "entry"))
def test_written_partial_is_the_rule_partial(partial, entry):
    ufunc, position = _owner(partial)
    nargs, write = entry
    assert nargs == ufunc.nin
    rng = np.random.default_rng(0)
    args = [rng.uniform(0.3, 2.0, 7) for _ in range(nargs)]
    out = ufunc(*args)
    ct = rng.standard_normal(7)
    how, text, negate = write("o", *[f"a{j}" for j in range(nargs)])
    value = eval(text, {"np": np}, {"o": out, **{f"a{j}": a for j, a in enumerate(args)}})
    written = ct / value if how == "divide" else value * ct
    if negate:
        written = -written
    np.testing.assert_allclose(written, partial(out, *args) * ct, rtol=1e-14, atol=0)
