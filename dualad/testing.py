"""Helpers for users' own test suites.

>>> import numpy as np
>>> from dualad.testing import assert_derivatives_close
>>> _ = assert_derivatives_close(lambda v: np.exp(v) * v, np.array([0.1, 0.2]))
"""
from __future__ import annotations

from typing import Any, Callable

from .checking import GradCheckReport, check_grad

__all__ = ["assert_derivatives_close"]


def assert_derivatives_close(f: Callable, x: Any, **options) -> GradCheckReport:
    """Assert that forward mode, reverse mode and finite differences agree on ``f`` at ``x``.

    Keyword options go to :func:`dualad.check_grad` (``methods``, ``rtol``,
    ``atol``, ``ad_rtol``, ``ad_atol``, ``rel_step``, ``worst``). Raises
    ``AssertionError`` whose message is the full report; returns the report
    when everything agrees.

    >>> import numpy as np
    >>> from dualad.testing import assert_derivatives_close
    >>> report = assert_derivatives_close(np.tanh, np.array([0.3, -1.0]))
    >>> report.passed
    True
    """
    report = check_grad(f, x, **options)
    if not report.passed:
        raise AssertionError("derivatives disagree\n" + str(report))
    return report
