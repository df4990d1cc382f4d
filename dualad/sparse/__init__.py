"""Sparse Jacobians: sparsity detection through the rule table, column colouring, compressed forward mode.

scipy is needed (results are ``scipy.sparse`` matrices) and imported only when
these functions run: ``pip install dualad[scipy]``.
"""
from .jacobian import (MissingDependencyError, SparseJacobian, SparsityChangedError, SparsityError, jacobian_sparsity,
                       sparse_jacobian)

__all__ = ["jacobian_sparsity", "sparse_jacobian", "SparseJacobian", "MissingDependencyError", "SparsityChangedError",
           "SparsityError"]
