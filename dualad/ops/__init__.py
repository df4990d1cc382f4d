"""Rule families beyond the core table, each module registering its entries into ``rules.TABLE``.

- :mod:`dualad.ops.linalg`: numpy.linalg factorisations and spectral functions, numpy 2's linalg names;
- :mod:`dualad.ops.statistics`: quantiles (every method), cov/corrcoef, the nan-functions, partition, unique;
- :mod:`dualad.ops.manipulation`: pad, split family, tril/triu, block, insert/delete, put, select, linspace, ...;
- :mod:`dualad.ops.einsum`: ``np.einsum`` in every form (``...``, integer lists), repeated indices in reverse mode;
- :mod:`dualad.ops.signal`: interp, convolve/correlate, gradient, diff/ediff1d, trapezoid, unwrap, i0, modf/frexp/ldexp/divmod;
- :mod:`dualad.ops.polynomial`: polyfit, polyder, polyint, polyadd/sub/mul/div, vander;
- :mod:`dualad.ops.inplace`: putmask, place, ``ufunc.at`` and ``x.flat[...]`` as ordinary writes;
- :mod:`dualad.ops.sets`: setdiff1d, setxor1d, trim_zeros, histogram_bin_edges, poly (of roots), ix_;
- :mod:`dualad.ops.ufuncmethods`: ``reduce``/``accumulate`` of the other binary ufuncs as left folds;
- :mod:`dualad.ops.fft`: numpy.fft (every transform, n=/s=, axes, norm; fftshift, ifftshift), as linear maps;
- :mod:`dualad.ops.complex`: which entries hold for complex values; abs/conj/real/imag/angle.

The numpy families are imported at the end of :mod:`dualad.composites`, so their entries exist
whenever any engine (forward, tape, sparsity) is loaded. Modules for optional libraries
(``special``: scipy.special's ufuncs) are imported only on demand, by
:func:`dualad.rules.late_rule`, never by ``import dualad``.
"""
from . import einsum, inplace, linalg, manipulation, polynomial, sets, signal, statistics  # noqa: F401
from . import fft  # noqa: F401
from . import ufuncmethods  # noqa: F401,E402  (after the others: fills the REDUCE/ACCUMULATE gaps they leave)
from . import complex  # noqa: F401,E402  (last: it marks the entries above that hold for complex values)

__all__ = ["einsum", "inplace", "linalg", "manipulation", "polynomial", "sets",
           "signal", "statistics", "fft", "ufuncmethods", "complex"]
