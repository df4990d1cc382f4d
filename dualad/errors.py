"""The exceptions dualad raises.

Every error derives from :class:`DualadError` and also from the builtin that
fits (``TypeError`` for "this kind of object cannot be used here",
``ValueError`` for "this value cannot be used here"), so ``except TypeError``
code written for numpy keeps working.
"""
from __future__ import annotations

__all__ = [
    "DualadError",
    "UnsupportedFunctionError",
    "ConversionError",
    "InputError",
    "OutputError",
    "TangentShapeError",
    "OptionError",
    "LifetimeError",
    "AliasingError",
    "NondeterministicError",
    "DegeneracyError",
    "SerializationError",
    "WorkerError",
    "CustomRuleError",
    "NonHolomorphicError",
    "UnsupportedAttributeError",
    "not_callable",
]


class DualadError(Exception):
    """Base class of every error raised by dualad."""


class UnsupportedFunctionError(DualadError, TypeError):
    """A numpy function or ufunc has no derivative rule in dualad."""


class UnsupportedAttributeError(DualadError, AttributeError):
    """An ndarray attribute that reads or writes raw memory (``x.tobytes()``, ``x.flags``,
    ``x.strides``...) on a differentiable value, whose value and derivative live apart.

    An ``AttributeError``, so ``hasattr(x, "flags")`` answers False as for any object without it."""


class ConversionError(DualadError, TypeError):
    """A Dual (or tape value) would be turned into a plain number or array,
    which would silently drop its derivative."""


class InputError(DualadError, TypeError):
    """The point ``x`` handed to a derivative function is not a real numeric array."""


class OutputError(DualadError, TypeError):
    """The differentiated function returned something that is not numeric."""


class OptionError(DualadError, ValueError):
    """An option of a dualad function has a value it does not accept (``repeat=0``, an unknown method)."""


class TangentShapeError(DualadError, ValueError):
    """A tangent's shape does not fit its value's shape."""


class DegeneracyError(DualadError, ValueError):
    """A derivative does not exist at this point: eigen- or singular-vectors of a repeated
    eigenvalue or singular value, a rank-deficient factorisation."""


class SerializationError(DualadError, TypeError):
    """The work of a parallel call (the function, the point) cannot be sent to an executor's workers."""


class WorkerError(DualadError, RuntimeError):
    """A worker of an executor died (or its task was cancelled) while computing a block; nothing is returned."""


class CustomRuleError(DualadError, ValueError):
    """A user-defined rule (``custom_jvp``, ``custom_vjp``, ``float_function``, ``custom_root``,
    an ODE sensitivity) is missing, misused, or returned something that does not fit."""


class NonHolomorphicError(DualadError, ValueError):
    """A ``holomorphic=True`` evaluation met an operation that is not holomorphic (abs, conj, real,
    imag, angle, ...): the complex derivative df/dz it would return does not exist."""


def describe(x) -> str:
    """A short 'shape and dtype' description of ``x`` for error messages."""
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    name = type(x).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    if shape is None:
        return f"{article} {name}"
    return f"{article} {name} of shape {tuple(shape)} and dtype {dtype}"


class LifetimeError(DualadError, ValueError):
    """A Dual or tape value was used after the derivative call that made it had returned."""


class AliasingError(DualadError, ValueError):
    """An in-place write cannot keep numpy's semantics together with a correct derivative
    (a constant changed after the tape recorded it, a write dualad cannot follow)."""


class NondeterministicError(DualadError, ValueError):
    """The passes of one derivative call disagreed on f's value (f draws random numbers,
    or changes state it reads)."""


def not_callable(f: object, what: str) -> InputError:
    """The error for a value passed where the function belongs (``jacobian(np.sin(x), x)``).

    >>> print(not_callable(3.0, "jacobian"))  # doctest: +ELLIPSIS
    jacobian needs a callable f, got a float...; remedy: pass the function first, ...
    """
    return InputError(f"{what} needs a callable f, got {describe(f)}; remedy: pass the function first, "
                      f"e.g. {what}(f, x) or {what}(lambda v: np.sin(v), x), not its value at x")
