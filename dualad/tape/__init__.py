"""Reverse mode: a tape that records numpy calls and sweeps backward, reading the same rule table.

>>> import numpy as np
>>> from dualad import tape
>>> tape.grad(lambda w: np.sum(np.tanh(w) ** 2), np.array([0.5, -1.0]))
array([ 0.72686198, -0.63970001])

Pieces: :class:`Var` (a value being recorded), :class:`Tape` and
:class:`Node` (the Wengert list and its backward sweep), the functions in
:mod:`dualad.tape.api`, and the listing / DOT views in :mod:`dualad.tape.display`.
"""
from .api import label, record, stop_gradient
from .graph import Node, Tape
from .var import Var
# the value forms with argnums, containers and has_aux, over the single-array functions of .api
from .valueforms import grad, hvp, jacobian, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "record", "stop_gradient", "label", "hvp",
           "Tape", "Node", "Var"]
