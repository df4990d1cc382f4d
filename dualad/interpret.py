"""The one dispatch skeleton every engine shares; each engine supplies only its interpretation.

numpy hands a call on a differentiable value to the value's ``__array_ufunc__`` /
``__array_function__`` (NEP 13, NEP 18). What happens next is the same for
forward mode (:mod:`dualad.dispatch`), the tape (:mod:`dualad.tape.var`) and the
sparsity tracer (:mod:`dualad.sparse.dispatch`), and lives here once:

* find the top level among the arguments (``top``, the engine's hook), and hand
  the call to an outer engine when one of its values outranks this one's;
* vet the keywords: positional keywords and a float ``dtype=`` normalised
  (:mod:`dualad.keywords`), ``out=`` popped, ``where=``, ``initial=``...
  refused (:func:`dualad.common.check_out`); differentiable keyword arguments refused;
* map ufunc methods to table functions (``reduce`` -> ``REDUCE``, ``accumulate``
  -> ``ACCUMULATE``, ``outer`` -> a broadcast ``__call__``; ``at``/``reduceat`` refused);
* route the entry by its kind (loading optional libraries' rules on a miss,
  :func:`dualad.rules.late_rule`): ``Composite`` runs its numpy implementation,
  ``NoDerivative`` runs on plain values (a value-dependent decision, reported to
  :mod:`dualad.decisions`), a call with no value of this engine runs plainly, and
  ``Elementwise`` / ``Linear`` / ``Custom`` / ``ZeroDerivative`` go to the engine (an entry
  without ``complex=True`` meeting complex values is refused here, :mod:`dualad.wirtinger`);
* write ``out=``.

An engine subclasses :class:`Interpreter` and supplies what differs: ``top``
(its level among some objects), ``elementwise``, ``rule`` (Linear and Custom
entries), ``zero`` (a ZeroDerivative result: how the engine makes a zero) and
``assign`` (make a value of its kind hold a result). A new engine (a replay
engine, say) writes those and nothing else; hot paths an engine measures may
stay in front of the skeleton.

>>> import numpy as np
>>> class Counting(Interpreter):
...     value_type = float
...     def top(self, objs):
...         return True if any(type(x) is float for x in objs) else None
...     def elementwise(self, ufunc, rule, args, kwargs, level):
...         return ("elementwise", ufunc.__name__)
>>> Counting().apply_ufunc(np.sin, "__call__", (1.0,), {})
('elementwise', 'sin')
>>> float(Counting().apply_ufunc(np.add, "reduce", (np.ones(2),), {}))   # none of its values: plain
2.0
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .arraylike import ArrayLike, primal, sequence_operand
from .common import check_out, func_name, strip, unsupported
from .decisions import note, note_composite
from .errors import ConversionError, UnsupportedFunctionError, describe
from .keywords import POSITIONAL_LIMIT, SEQUENCE_OF_ARRAYS, call_composite, cast_result, lists_to_arrays, normalise
from .rules import (ACCUMULATE, REDUCE, TABLE, Composite, Custom, Elementwise, Linear, NoDerivative,
                    ZeroDerivative, late_rule)
from .wirtinger import any_complex, refuse as refuse_complex

__all__ = ["Interpreter"]


class Interpreter:
    """How numpy calls on one kind of differentiable value are evaluated (see the module docstring)."""

    #: the value type this engine makes (what ``out=`` may hold)
    value_type: type = ArrayLike
    #: how messages name this engine's values, what a conversion would drop, and the engine's mode
    noun = "a differentiable value"
    loses = "the derivative"
    plural = "differentiable values"
    mode = ""
    out_remedy = "leave out= away"
    #: what ``top`` answers when none of this engine's values is there (None, or -1 for a tag)
    no_level: Any = None

    # ------------------------------------------------------------------ hooks each engine supplies
    # elementwise, rule and zero all take (func, rule, args, kwargs, level), so an engine function
    # of that signature can be the hook itself (a staticmethod: no extra frame per call)
    def top(self, objs) -> Any:
        """The top level among ``objs`` (into lists): ``no_level`` when none of this engine's values
        is there, another :class:`Interpreter` when that engine's value outranks this one's, else
        whatever the engine's hooks want as ``level`` (a tag, a tape...). An engine's search
        function may be the hook itself (a staticmethod)."""
        raise NotImplementedError

    def elementwise(self, ufunc, rule: Elementwise, args: tuple, kwargs: dict, level) -> Any:
        """``ufunc(*args)`` by an Elementwise rule's partials (``kwargs`` is always empty)."""
        raise unsupported(ufunc, self.mode, args)

    def rule(self, func, rule, args: tuple, kwargs: dict, level) -> Any:
        """``func(*args, **kwargs)`` by a Linear rule's maps or a Custom rule's jvp/vjp."""
        raise unsupported(func, self.mode, args)

    def zero(self, func, rule: ZeroDerivative, args: tuple, kwargs: dict, level) -> Any:
        """``func`` on the values, as a value of this engine whose derivative is zero."""
        raise unsupported(func, self.mode, args)

    def assign(self, target, result) -> None:
        """Make ``target`` (one of this engine's values) hold ``result`` (for ``out=`` and ``+=``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the skeleton
    def call(self, func, args: tuple, kwargs: dict) -> Any:
        """``func(*args, **kwargs)`` by the kind of its table entry (``out=``/``dtype=`` already vetted)."""
        entry = TABLE.get(func)
        kind = type(entry)
        if kind is Composite:  # before the level search: its numpy calls come back here anyway
            if entry.complex is not True and any_complex(args):  # its real formulas must not meet them
                raise refuse_complex(func, args)
            note_composite(func)
            if kwargs and kwargs.get("dtype") is not None:
                return call_composite(entry.impl, args, kwargs)  # a float dtype= applied around it
            return entry.impl(*args, **kwargs)
        if kind is NoDerivative:  # orders, positions, predicates: value-dependent decisions
            if entry.structural:  # np.shape, np.ndim: fixed by the inputs' shapes, not a decision
                return func(*strip(args), **strip(kwargs))
            return note(func_name(func), func(*strip(args), **strip(kwargs)), (func, args, kwargs))
        return self.route(func, entry, args, kwargs, self.top(args))

    def route(self, func, entry, args: tuple, kwargs: dict, level) -> Any:
        """``func(*args, **kwargs)`` with table entry ``entry``, ``level`` being ``self.top(args)``."""
        if isinstance(level, Interpreter):  # an outer engine's value outranks ours: its call
            if isinstance(func, np.ufunc):
                return level.apply_ufunc(func, "__call__", args, kwargs)
            return level.apply_function(func, args, kwargs)
        kind = type(entry)
        if kind is Composite or kind is NoDerivative:
            return self.call(func, args, kwargs)
        if kwargs and self.top(tuple(kwargs.values())) != self.no_level:
            raise UnsupportedFunctionError(
                f"{func_name(func)} got {self.noun} as a keyword argument; remedy: pass differentiable "
                "arrays positionally")
        if level == self.no_level:  # none of our values among the arguments (only in out=): a plain call
            return func(*args, **kwargs)
        if kind is Elementwise:
            return self.elementwise(func, entry, args, kwargs, level)
        if (kind is Linear or kind is Custom or kind is ZeroDerivative) and entry.complex is not True \
                and any_complex(args):  # a rule for real values only (np.sign(z) = z/|z| is not constant)
            raise refuse_complex(func, args)
        if kind is Linear or kind is Custom:
            return self.rule(func, entry, args, kwargs, level)
        if kind is ZeroDerivative:
            return self.zero(func, entry, args, kwargs, level)
        if entry is None and late_rule(func) is not None:  # an optional library's rules just loaded
            return self.route(func, TABLE[func], args, kwargs, level)
        raise unsupported(func, self.mode, args)

    def apply_function(self, func, args: tuple, kwargs: dict) -> Any:
        """What a value's ``__array_function__`` does: vet keywords, ``out=`` and ``dtype=``, call, write ``out=``."""
        entry = TABLE.get(func)
        kind = type(entry)
        if func in SEQUENCE_OF_ARRAYS:
            args = lists_to_arrays(func, args)  # np.concatenate([r, [x[0], x[1]]]): inner lists stacked
        if kind is Composite or kind is NoDerivative:
            return self.call(func, args, kwargs)
        if entry is None and late_rule(func) is not None:  # an optional library's rules just loaded
            return self.apply_function(func, args, kwargs)
        zero = kind is ZeroDerivative
        dtype = None
        # positional keywords (np.sum(x, None, None, None, False, 0.0, mask) is where=mask): the
        # limit, cached per function by keywords.normalise, spares the call when none can be there
        if kwargs or len(args) > POSITIONAL_LIMIT.get(func, -1):
            args, kwargs, dtype = normalise(func, args, kwargs, zero)
        if not kwargs and dtype is None:  # no out= or dtype= to look at
            return self.route(func, entry, args, kwargs, self.top(args))
        if zero and kwargs.get("dtype") is not None and np.dtype(kwargs["dtype"]).kind != "f":
            return func(*strip(args), **strip(kwargs))  # an integer constant: its derivative is zero anyway
        kwargs = dict(kwargs)
        zero_dtype = kwargs.pop("dtype", None) if zero else None
        out = check_out(func, kwargs, self.loses, self.plural)
        if zero_dtype is not None:
            kwargs["dtype"] = zero_dtype  # a zero-derivative function passes its dtype to numpy
        result = self.route(func, entry, args, kwargs, self.top(args))
        return self.finish_out(func, result if dtype is None else cast_result(result, dtype), out)

    def apply_ufunc(self, ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
        """What a value's ``__array_ufunc__`` does: ufunc methods mapped to table functions."""
        level = self.top(inputs)
        if isinstance(level, Interpreter):  # an outer engine's value outranks ours: its call
            return level.apply_ufunc(ufunc, method, inputs, kwargs)
        if method == "at" and type(TABLE.get(ufunc)) is Elementwise and not kwargs:  # unbuffered in place:
            from .ops.inplace import ufunc_at  # a write (its 3rd input is b, not out=)
            return ufunc_at(ufunc, *inputs)
        dtype = out = None
        given = kwargs
        if kwargs:  # (numpy passes a ufunc's out=, where=, dtype=... as keywords, never positionally)
            inputs, kwargs, dtype = normalise(ufunc, inputs, kwargs)
            given = kwargs
            kwargs = dict(kwargs)
            out = check_out(ufunc, kwargs, self.loses, self.plural)
        if dtype is not None:  # a float dtype=: the inputs are cast already, the result is cast here
            return self.finish_out(ufunc, cast_result(self.apply_ufunc(ufunc, method, inputs, kwargs), dtype), out)
        if level == self.no_level:  # only out= holds one of our values: the results are constants written into it
            result = getattr(ufunc, method)(*inputs, **kwargs)
            if isinstance(out, tuple):
                return tuple(self.finish_out(ufunc, r, o) for r, o in zip(result, out))
            return self.finish_out(ufunc, result, out)
        if isinstance(out, tuple):
            raise unsupported(ufunc, " with several out= arrays", inputs)
        if method == "__call__":
            if kwargs:
                raise unsupported(ufunc, f" with keyword arguments {sorted(kwargs)}", inputs)
            for item in inputs:
                if type(item) is list or type(item) is tuple:  # np.multiply([0.2, 0.3], x): numpy's array_like
                    inputs = tuple(sequence_operand(a) if type(a) is list or type(a) is tuple else a for a in inputs)
                    break
            result = self.route(ufunc, TABLE.get(ufunc), inputs, {}, level)
        elif method == "reduce" and ufunc in REDUCE:
            result = REDUCE[ufunc](inputs[0], axis=kwargs.pop("axis", 0), **kwargs)
        elif method == "accumulate" and ufunc in ACCUMULATE:
            result = ACCUMULATE[ufunc](inputs[0], axis=kwargs.pop("axis", 0))
        elif method == "outer" and ufunc.nin == 2 and ufunc.nout == 1 and ufunc in TABLE:  # any binary rule
            a, b = inputs
            a = np.reshape(a, np.shape(primal(a)) + (1,) * np.ndim(primal(b)))
            result = self.route(ufunc, TABLE[ufunc], (a, b), {}, self.top((a, b)))
        elif ufunc not in TABLE and late_rule(ufunc) is not None:  # an optional library's rules just loaded
            return self.apply_ufunc(ufunc, method, inputs, given)
        else:
            raise unsupported(ufunc, f".{method}", inputs)
        return result if out is None else self.finish_out(ufunc, result, out)

    def finish_out(self, func, result, out) -> Any:
        """Write ``result`` into ``out=`` (if given) and return what numpy would."""
        if out is None:
            return result
        if isinstance(out, self.value_type):
            self.assign(out, result)
            return out
        if isinstance(result, ArrayLike):
            raise ConversionError(
                f"{func_name(func)}(..., out=<{describe(out)}>) would write {self.noun} into a plain array "
                f"and drop {self.loses}; remedy: {self.out_remedy}")
        out[...] = result
        return out
