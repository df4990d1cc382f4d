"""dualad: forward-mode automatic differentiation for plain numpy code.

>>> import numpy as np, dualad
>>> dualad.jacobian(lambda x: np.sin(x) * x[0], np.array([1.0, 2.0])).shape
(2, 2)
"""
from . import rules  # noqa: F401  (the rule table: read by both modes)
from .buffers import zeros_like
from .dual import Dual
from .errors import (ConversionError, CustomRuleError, DegeneracyError, DualadError, InputError, OptionError,
                     OutputError, TangentShapeError, UnsupportedFunctionError)
from .forward import auto_chunk_size
from .valueforms import derivative, gradient, hessian, jacobian, jvp  # argnums, containers, has_aux
from .pytree import register_dataclass, register_pytree_node
from . import tape  # noqa: E402  (reverse mode: dualad.tape.grad, .jacobian, .record, ...)
from .tape import hvp
from .checking import check_grad
from .parallel import batch_gradient, batch_jacobian
from .transforms import grad, hess, jacfwd, jacrev, value_and_grad  # function transforms, JAX's names
from .custom import custom_jvp, custom_vjp, float_function
from .implicit import custom_argmin, custom_fixed_point, custom_root
from .replay import Prepared, ReplayRefused, prepare
from .sparse import (SparseJacobian, SparsityChangedError, SparsityError, jacobian_sparsity,  # scipy imported
                     sparse_jacobian)  # when they run

__version__ = "0.1.0"

__all__ = [
    "Dual", "jvp", "derivative", "jacobian", "gradient", "hessian", "auto_chunk_size", "zeros_like",
    "DualadError", "UnsupportedFunctionError", "ConversionError", "InputError", "OutputError",
    "TangentShapeError", "DegeneracyError", "CustomRuleError", "tape", "hvp", "check_grad", "jacobian_sparsity",
    "sparse_jacobian", "SparseJacobian", "batch_jacobian", "batch_gradient", "SparsityChangedError", "SparsityError",
    "OptionError",
    "jacfwd", "jacrev", "grad", "value_and_grad", "hess", "register_pytree_node", "register_dataclass",
    "custom_jvp", "custom_vjp", "float_function", "custom_root", "custom_fixed_point", "custom_argmin",
    "prepare", "Prepared", "ReplayRefused",
]
