"""Derivatives past one core: Jacobians on any ``concurrent.futures.Executor``, and Jacobians at many points.

- ``executor=`` on :func:`dualad.jacobian` (blocks of columns), :func:`dualad.tape.jacobian`
  (blocks of rows), :func:`dualad.hessian`: a ``ProcessPoolExecutor``, a ``ThreadPoolExecutor``,
  dask's ``Client(...).get_executor()`` or loky's executor. The work (f, x, a block) is sent with
  cloudpickle, so lambdas and closures work; see :mod:`dualad.parallel.engine` for faults.
- :func:`batch_jacobian` / :func:`batch_gradient`: the Jacobian (gradient) at every row of a batch.

>>> import numpy as np, dualad
>>> dualad.batch_gradient(lambda v: np.sum(v ** 2), np.array([[1.0, 2.0], [3.0, 4.0]]))
array([[2., 4.],
       [6., 8.]])
"""
from .batch import batch_gradient, batch_jacobian
from .engine import executor_workers
from .jacobians import BLOCKS_PER_WORKER, block_size

__all__ = ["batch_jacobian", "batch_gradient", "executor_workers", "block_size", "BLOCKS_PER_WORKER"]
