"""Run one objective module's plain-numpy source with another numpy-like namespace.

The objectives are written once, against ``np``. JAX and autograd each get the same source with
``np`` bound to ``jax.numpy`` or ``autograd.numpy``, so every contestant differentiates the same
program (only the LSTM also gets a ``lax.scan`` version for JAX, which compiles it far faster).

>>> import numpy
>>> from benchmarks.adbench import gmm
>>> same = with_numpy(gmm, numpy)
>>> float(same.logsumexp(numpy.zeros(4))) == float(gmm.logsumexp(numpy.zeros(4)))
True
"""
from __future__ import annotations

import types


def with_numpy(module: types.ModuleType, numpy_like: types.ModuleType) -> types.SimpleNamespace:
    """A copy of ``module``'s functions whose global ``np`` is ``numpy_like``.

    The copies share one globals dict, so a function calling another one of the module calls the
    rebound copy too.
    """
    namespace = dict(vars(module))
    namespace["np"] = numpy_like
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            rebound = types.FunctionType(value.__code__, namespace, name, value.__defaults__, value.__closure__)
            rebound.__kwdefaults__ = value.__kwdefaults__
            namespace[name] = rebound
    return types.SimpleNamespace(**namespace)
