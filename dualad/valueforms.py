"""Value forms with several arguments, containers, ``has_aux`` and ``f``'s own keywords.

``dualad.jacobian(f, *args, argnums=0, has_aux=False, **kwargs)`` and its
siblings wrap the single-array core (:mod:`dualad.forward`,
:mod:`dualad.tape.api`): the differentiated arguments (``argnums``) are
flattened into one array ``z`` (their leaves, raveled and concatenated; a
single leaf is passed as it is), the core differentiates ``z -> f(...)``
once, and the result is cut back into the containers the caller used. A
container therefore costs what its flat vector costs: one seed block in
forward mode, one sweep in reverse mode.

Keyword arguments that name an option of the core function (``chunk_size``,
and whatever the core takes, e.g. ``executor``) go to the core unchanged; all
other keywords go to ``f``.

Result structure (as JAX): a Jacobian is nested output-outer, input-inner,
each leaf of shape ``out_leaf.shape + in_leaf.shape``; a gradient has the
structure of the differentiated arguments (a tuple of them when ``argnums``
is a tuple); a Hessian is nested input-outer, input-inner.

>>> import numpy as np, dualad
>>> J = dualad.jacobian(lambda a, b: {"p": a * b, "s": a + b}, 2.0, 3.0, argnums=(0, 1))
>>> J["p"]
(array(3.), array(2.))
"""
from __future__ import annotations

import inspect
import math
import operator
from typing import Any, Callable, Sequence

import numpy as np

from . import forward
from .arraylike import ArrayLike
from .dual import Dual, new_tag
from .errors import InputError, OptionError, OutputError, describe, not_callable
from .pytree import PyTreeDef, is_scalar_list, tree_flatten, tree_map, tree_unflatten

__all__ = ["jacobian", "jvp", "derivative", "gradient", "hessian", "Call", "split_options", "PLAIN_INPUTS",
           "check_argnums", "is_plain", "fast_call",
           "core_options", "plain_output_of", "jacobian_call", "jvp_call", "gradient_call", "hessian_call"]

#: Argument types that are one array (no container): the fast path hands them to the core directly.
PLAIN_INPUTS = frozenset({np.ndarray, float, int, np.float64, np.float32, Dual})
#: Output types that are one array: returned to the core untouched.
_PLAIN_OUTPUTS = frozenset({np.ndarray, float, np.float64, np.float32, Dual})

_OPTIONS: dict[Callable[..., Any], frozenset[str]] = {}


def core_options(core: Callable[..., Any]) -> frozenset[str]:
    """The keyword-only parameters of a core function (its options: ``chunk_size``, ``executor``...)."""
    names = _OPTIONS.get(core)
    if names is None:
        names = frozenset(p.name for p in inspect.signature(core).parameters.values()
                          if p.kind is p.KEYWORD_ONLY)
        _OPTIONS[core] = names
    return names


def split_options(core: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(options for the core, keywords for f)``."""
    names = core_options(core)
    options = {k: v for k, v in kwargs.items() if k in names}
    if len(options) == len(kwargs):
        return options, {}
    return options, {k: v for k, v in kwargs.items() if k not in names}


#: the options of dualad's value forms, to name the likely one when a keyword fits neither them nor f
OPTION_NAMES = ("chunk_size", "executor", "holomorphic", "argnums", "has_aux")


def check_keywords_of_f(f: Callable[..., Any], kwargs: dict[str, Any], what: str) -> None:
    """Keywords that are not dualad's options go to ``f``: refuse, before f runs, one that f cannot take.

    A misspelt option (``chunksize=8``) would otherwise surface as f's own TypeError, which
    blames f. Functions whose signature Python cannot read, or that take ``**kwargs``, are let be.
    """
    try:
        parameters = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for name in kwargs:
        if name not in accepted:
            import difflib  # error path only
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            if name in OPTION_NAMES:
                fix = f"{what} has no {name}= (other dualad functions do); leave it out, or "
            else:
                fix = f"did you mean {close[0]}=? " if close else ""
            raise OptionError(f"{what}: {name}= is neither an option of {what} nor a parameter of f "
                              f"(keywords dualad does not know go to f); remedy: {fix}pass only {what}'s options "
                              f"({', '.join(OPTION_NAMES)} ...) and keywords f takes")


def check_argnums(argnums: Any, what: str) -> None:
    """Refuse anything but an int or a non-empty tuple/list of distinct ints, naming the likely mix-up."""
    if _is_int(argnums):
        return
    if isinstance(argnums, (tuple, list)) and argnums and all(_is_int(a) for a in argnums):
        if len(set(int(a) for a in argnums)) != len(argnums):
            raise InputError(f"{what}: argnums={argnums!r} names an argument twice; remedy: list each once")
        return
    hint = ""
    if not isinstance(argnums, (tuple, list)) or not argnums:
        hint = (" (transforms take the function only and return a new function: "
                "dualad.grad(f)(x), or use the value form dualad.gradient(f, x))")
    raise InputError(f"{what}: argnums must be an int or a non-empty tuple of ints, got {describe(argnums)}"
                     f"{hint}; remedy: pass argnums=0, argnums=1 or argnums=(0, 1)")


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if isinstance(x, (np.ndarray, ArrayLike)) else np.shape(x)


def _float_dtype(x: Any) -> np.dtype:
    dtype = x.dtype if isinstance(x, (np.ndarray, ArrayLike, np.generic)) else np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _input_leaf(leaf: Any, where: str) -> Any:
    """A leaf of a differentiated argument as a float array (Duals and tape values pass, for nesting)."""
    if isinstance(leaf, ArrayLike):
        return leaf
    try:
        arr = np.asarray(leaf)
    except Exception as err:  # ragged lists and the like
        raise InputError(f"{where} could not be read as an array ({err}); "
                         "remedy: pass floats or ndarrays as the leaves of the container") from None
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "O" and all(isinstance(e, (int, float, np.integer, np.floating)) for e in arr.flat):
        try:  # Python ints past int64 (10**30) read as floats, as they do in a single-array argument
            return arr.astype(np.float64)
        except OverflowError:
            raise InputError(f"{where} holds an integer too large for float64; remedy: scale the input") from None
    if kind == "c":
        raise InputError(f"{where} is complex ({describe(arr)}); complex variables are differentiated only as "
                         "one single array argument (see the README's 'Complex numbers'); remedy: pass the complex "
                         "values as one ndarray, or pass real and imaginary parts separately")
    raise InputError(f"{where} is {describe(leaf)}, not a number or an array of numbers; "
                     "remedy: pass floats or ndarrays as the leaves, and keep other data out of the "
                     "differentiated arguments (pass it as a further argument not in argnums, or register it "
                     "as aux data with dualad.register_pytree_node / meta_fields)")


def _output_leaf(leaf: Any) -> Any:
    """A leaf of f's output as an array or differentiable value (lists of scalars stacked)."""
    if isinstance(leaf, ArrayLike):
        return leaf
    if isinstance(leaf, (list, tuple)):
        items = [_output_leaf(v) for v in leaf]
        if any(isinstance(v, ArrayLike) for v in items):
            return np.stack(items)
        return np.array(items, dtype=float) if items else np.zeros(0)
    arr = np.asarray(leaf) if isinstance(leaf, (np.ndarray, np.generic, int, float, bool)) else None
    if arr is None or arr.dtype.kind not in "biuf":
        raise OutputError(f"the function returned a container holding {describe(leaf)}, which is not numeric; "
                          "remedy: return a float, an array, a Dual, or a container of those (use has_aux=True to "
                          "return other data beside the output)")
    return arr


def _offsets(shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, int]]:
    out, start = [], 0
    for s in shapes:
        stop = start + math.prod(s)
        out.append((start, stop))
        start = stop
    return out


_UNBUILT = object()


class Call:
    """One call of a value form: ``f(*args, **kwargs)`` seen as a function of one array ``z``.

    ``z`` holds the leaves of the arguments named by ``argnums`` (one leaf as
    it is, several raveled and concatenated); :meth:`__call__` rebuilds the
    arguments from ``z``, runs ``f``, sets the auxiliary data aside and
    flattens a container output into one vector. The ``tree_*`` methods cut
    the core's results back into the callers' structures.
    """

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 argnums: int | Sequence[int], has_aux: bool, what: str):
        if not callable(f):
            raise not_callable(f, what)
        check_argnums(argnums, what)
        if not args:
            raise InputError(f"{what} needs the point to differentiate at; remedy: pass f's arguments after f "
                             f"({what}(f, x) or {what}(f, a, b, argnums=(0, 1)))")
        self.tupled = not _is_int(argnums)
        numbers = tuple(argnums) if self.tupled else (argnums,)  # type: ignore[arg-type]
        positions = []
        for a in numbers:
            p = int(a) + (len(args) if a < 0 else 0)
            if not 0 <= p < len(args):
                raise InputError(f"{what}: argnums={argnums!r} but f was given {len(args)} positional "
                                 f"argument(s); remedy: number the arguments from 0, pass all of them positionally")
            positions.append(p)
        self.positions = positions
        self.f, self.args, self.kwargs, self.has_aux, self.what = f, args, kwargs, bool(has_aux), what
        if kwargs:
            check_keywords_of_f(f, kwargs, what)
        if self.tupled:  # a tuple node of the arguments, even when they are all scalars
            leaves, defs = [], []
            for p in positions:
                arg_leaves, arg_def = tree_flatten(args[p])
                leaves += arg_leaves
                defs.append(arg_def)
            self.in_def = PyTreeDef(tuple, None, tuple(defs))
        else:
            leaves, self.in_def = tree_flatten(args[positions[0]])
        self.in_leaves = leaves
        if len(leaves) == 1:
            self.flat = False
            self._z = leaves[0]  # the core reads and checks it (and copies it) as before
            self.in_shapes = [None]  # known after the core has read it; see in_shape_list
        else:
            where = f"a leaf of argument(s) {positions if self.tupled else positions[0]}"
            leaves = [_input_leaf(leaf, where) for leaf in leaves]
            self.flat = True
            self.in_shapes = [_shape(leaf) for leaf in leaves]
            self.in_dtypes = [_float_dtype(leaf) for leaf in leaves]
            self.in_leaves = leaves
            self._z: Any = _UNBUILT  # the flat vector, made when a core needs it (not for tape gradients)
        self.out_def: PyTreeDef | None = None
        self.out_shapes: list[tuple[int, ...]] = []
        self.out_dtypes: list[np.dtype] = []
        self.aux: Any = None
        self.floor = new_tag() if self.has_aux else 0  # tags made by this call are larger
        # False until f ran in this process: with a process executor f runs only in the workers,
        # and the output's structure (and the aux data) must then be learned here, see run()
        self.seen = False
        self.scalar_output = False
        self.expect_out: tuple[PyTreeDef, list[tuple[int, ...]]] | None = None

    # ------------------------------------------------------------------ f as a function of z
    @property
    def z(self) -> Any:
        """The differentiated leaves as one array: the single leaf itself, or all raveled and concatenated."""
        if self._z is _UNBUILT:
            leaves = self.in_leaves
            self._z = np.concatenate([np.reshape(leaf, -1) for leaf in leaves]) if leaves else np.zeros(0)
        return self._z

    def run(self, core: Callable[..., Any], *rest: Any, **options: Any) -> Any:
        """``core(self, z, *rest, **options)``; then, if f never ran in this process, one plain evaluation."""
        result = core(self, self.z, *rest, **options)
        if not self.seen:  # an executor ran f elsewhere: learn the output structure and aux here
            self(self.z)
        return result

    def __call__(self, z: Any) -> Any:
        if self.flat:
            parts = [z[a:b].reshape(s) for (a, b), s in zip(_offsets(self.in_shapes), self.in_shapes)]
        else:
            parts = [z]
        return self.at_leaves(*parts)

    def at_leaves(self, *parts: Any) -> Any:
        """f with the differentiated leaves replaced by ``parts`` (its output flattened for the core)."""
        self.seen = True
        selected = parts[0] if self.in_def.is_leaf else tree_unflatten(self.in_def, parts)
        args = list(self.args)
        if self.tupled:
            for p, value in zip(self.positions, selected):
                args[p] = value
        else:
            args[self.positions[0]] = selected
        y = self.f(*args, **self.kwargs)
        if self.has_aux:
            if not (isinstance(y, (tuple, list)) and len(y) == 2):
                raise OutputError(f"{self.what}(..., has_aux=True) needs f to return a pair (output, aux), "
                                  f"got {describe(y)}; remedy: return (output, aux), or drop has_aux")
            y, self.aux = y
        return self.output(y)

    def output(self, y: Any) -> Any:
        """The output for the core: as it is when it is one array, else its leaves as one vector."""
        if type(y) in _PLAIN_OUTPUTS or isinstance(y, ArrayLike):
            self.out_def = None
            return y
        leaves, treedef = tree_flatten(y)
        if treedef.is_leaf:  # a number, a list of scalars, or something the core refuses
            self.out_def = None
            return y
        if self.scalar_output:
            raise OutputError(f"{self.what} needs a scalar-valued function, but f returned the container "
                              f"{treedef}; remedy: return one scalar (use has_aux=True for other data, or a "
                              "Jacobian function for container outputs)")
        arrays = [_output_leaf(leaf) for leaf in leaves]
        self.out_def = treedef
        self.out_shapes = [_shape(a) for a in arrays]
        self.out_dtypes = [_float_dtype(a) for a in arrays]
        if self.expect_out is not None and (treedef, self.out_shapes) != self.expect_out:
            raise InputError(f"u must have the structure and shapes of f's output {treedef} "
                             f"{self.out_shapes}, got {self.expect_out[0]} {self.expect_out[1]}; "
                             "remedy: pass one cotangent leaf per output leaf, shaped like it")
        if len(arrays) == 1:
            return arrays[0]
        return np.concatenate([np.reshape(a, -1) for a in arrays]) if arrays else np.zeros(0)

    # ------------------------------------------------------------------ results back into containers
    def in_shape_list(self) -> list[tuple[int, ...]]:
        if self.flat:
            return self.in_shapes
        return [_shape(self.z) if not isinstance(self.z, (list, tuple)) else np.shape(self.z)]

    def plain(self) -> bool:
        """True when neither the differentiated arguments nor the output are containers."""
        return self.out_def is None and self.in_def.is_leaf

    def tree_input(self, leaves: list[Any]) -> Any:
        return leaves[0] if self.in_def.is_leaf else tree_unflatten(self.in_def, leaves)

    def tree_output(self, leaves: list[Any]) -> Any:
        return leaves[0] if self.out_def is None else tree_unflatten(self.out_def, leaves)

    def jacobian(self, J: Any) -> Any:
        """Cut a core Jacobian (``y.shape + z.shape``) into output-outer, input-inner blocks."""
        if self.plain():
            return J
        in_shapes = self.in_shape_list()
        zdim = len(in_shapes[0]) if not self.flat else 1
        out_shapes = self.out_shapes if self.out_def is not None else [tuple(J.shape[:J.ndim - zdim])]
        rows, cols = _offsets(out_shapes), _offsets(in_shapes)
        J2 = J.reshape(rows[-1][1] if rows else 0, cols[-1][1] if cols else 0)
        result = []
        for i, ((r0, r1), so) in enumerate(zip(rows, out_shapes)):
            blocks = []
            for j, ((c0, c1), si) in enumerate(zip(cols, in_shapes)):
                block = J2[r0:r1, c0:c1].reshape(so + si)
                blocks.append(self._cast(block, i, j))
            result.append(self.tree_input(blocks))
        return self.tree_output(result)

    def _cast(self, block: Any, i: int, j: int) -> Any:
        if type(block) is not np.ndarray:
            return block
        want = np.result_type(self.out_dtypes[i] if self.out_def is not None else block.dtype,
                              self.in_dtypes[j] if self.flat else block.dtype)
        return block if block.dtype == want else block.astype(want)

    def like_input(self, g: Any) -> Any:
        """Cut a vector shaped like ``z`` into the differentiated arguments' structure."""
        if self.in_def.is_leaf:
            return g
        if not self.flat:
            return self.tree_input([g])
        flat = g.reshape(-1)
        return self.tree_input([self._cast_in(flat[a:b].reshape(s), j) for j, ((a, b), s)
                                in enumerate(zip(_offsets(self.in_shapes), self.in_shapes))])

    def _cast_in(self, part: Any, j: int) -> Any:
        if type(part) is np.ndarray and part.dtype != self.in_dtypes[j]:
            return part.astype(self.in_dtypes[j])
        return part

    def like_output(self, y: Any) -> Any:
        """Cut a vector shaped like the flattened output into f's output structure."""
        if self.out_def is None:
            return y
        flat = y.reshape(-1)
        parts = []
        for i, ((a, b), s) in enumerate(zip(_offsets(self.out_shapes), self.out_shapes)):
            part = flat[a:b].reshape(s)
            if type(part) is np.ndarray and part.dtype != self.out_dtypes[i]:
                part = part.astype(self.out_dtypes[i])
            parts.append(part)
        return self.tree_output(parts)

    def hessian(self, H: Any) -> Any:
        """Cut a core Hessian (``z.shape + z.shape``) into input-outer, input-inner blocks."""
        if self.in_def.is_leaf:
            return H
        in_shapes = self.in_shape_list()
        cols = _offsets(in_shapes)
        n = cols[-1][1] if cols else 0
        H2 = H.reshape(n, n)
        rows = []
        for i, ((r0, r1), si) in enumerate(zip(cols, in_shapes)):
            blocks = []
            for j, ((c0, c1), sj) in enumerate(zip(cols, in_shapes)):
                block = H2[r0:r1, c0:c1].reshape(si + sj)
                if self.flat and type(block) is np.ndarray:
                    want = np.result_type(self.in_dtypes[i], self.in_dtypes[j])
                    block = block if block.dtype == want else block.astype(want)
                blocks.append(block)
            rows.append(self.tree_input(blocks))
        return self.tree_input(rows)

    def flat_like_input(self, v: Any, name: str) -> Any:
        """A direction given in the differentiated arguments' structure, as one array like ``z``."""
        if self.tupled and isinstance(v, (tuple, list)) and len(v) == len(self.positions):
            leaves, defs = [], []
            for part in v:
                part_leaves, part_def = tree_flatten(part)
                leaves += part_leaves
                defs.append(part_def)
            treedef = PyTreeDef(tuple, None, tuple(defs))
        else:
            leaves, treedef = tree_flatten(v)
        if treedef != self.in_def:
            raise InputError(f"{name} must have the structure of the differentiated argument(s) {self.in_def}, "
                             f"got {treedef}; remedy: pass one direction leaf per input leaf")
        if not self.flat:
            return leaves[0]
        leaves = [_input_leaf(leaf, f"a leaf of {name}") for leaf in leaves]
        shapes = [_shape(leaf) for leaf in leaves]
        if shapes != self.in_shapes:
            raise InputError(f"{name} has leaf shapes {shapes} but the inputs have {self.in_shapes}; "
                             f"remedy: pass {name} shaped like the inputs, leaf by leaf")
        return np.concatenate([np.reshape(leaf, -1) for leaf in leaves]) if leaves else np.zeros(0)

    def aux_value(self) -> Any:
        """The auxiliary data with this call's differentiation levels removed (outer levels kept)."""
        return tree_map(self._strip, self.aux)

    def _strip(self, leaf: Any) -> Any:
        while isinstance(leaf, ArrayLike):
            tag = leaf.tag if isinstance(leaf, Dual) else getattr(getattr(leaf, "tape", None), "tag", 0)
            if tag <= self.floor:
                break
            leaf = leaf.value
        return leaf

    def finish(self, result: Any) -> Any:
        return (result, self.aux_value()) if self.has_aux else result


def is_plain(x: Any) -> bool:
    """True for one array (not a container): ndarray, number, Dual, tape value."""
    return type(x) in PLAIN_INPUTS or isinstance(x, ArrayLike)


def _fast(args: tuple[Any, ...], argnums: Any, has_aux: Any, kwargs: dict[str, Any],
          core: Callable[..., Any]) -> bool:
    """True for the calls the core served before: one plain array argument, no extras."""
    return (type(argnums) is int and argnums == 0 and has_aux is False and len(args) == 1
            and (type(args[0]) in PLAIN_INPUTS or isinstance(args[0], ArrayLike))
            and (not kwargs or kwargs.keys() <= core_options(core)))


def fast_call(args: tuple[Any, ...], argnums: Any, has_aux: Any, f_kwargs: dict[str, Any],
              options: dict[str, Any] | None = None) -> bool:
    """The same test inside a transform, whose options are apart from f's keywords already.

    With an executor, f may run in other processes: the output's structure is then learned by
    :meth:`Call.run`, so the call goes the general way.
    """
    return (argnums == 0 and type(argnums) is int and has_aux is False and len(args) == 1 and not f_kwargs
            and is_plain(args[0]) and (not options or options.get("executor") is None))


def one_array(y: Any) -> bool:
    """True when an output is one array for the core (no container): arrays, numbers, Duals, tape
    values, and lists of scalars, which the core stacks (scalar-style code returns those)."""
    t = type(y)
    if t in _PLAIN_OUTPUTS or isinstance(y, ArrayLike):
        return True
    if t is list or t is tuple:
        # the common lists, checked by C loops (map) rather than a Python loop per element:
        # plain numbers, or scalar Duals of float64 values (scalar-style code)
        kinds = set(map(type, y))
        if kinds <= _NUMBER_TYPES or (kinds == _DUAL_TYPE and set(map(type, map(_VALUE_OF, y))) == _FLOAT64_TYPE):
            return True
        return is_scalar_list(y)  # anything else: the general test
    return False


_NUMBER_TYPES = frozenset({float, int, np.float64})
_DUAL_TYPE = frozenset({Dual})
_FLOAT64_TYPE = frozenset({np.float64})
_VALUE_OF = operator.attrgetter("value")


def plain_output_of(f: Callable[..., Any]) -> tuple[Callable[[Any], Any], list[Call]]:
    """``f`` for the fast path: its output goes to the core as it is unless it is a container."""
    box: list[Call] = []

    def g(z: Any) -> Any:
        y = f(z)
        if one_array(y):
            return y
        if not box:
            box.append(Call(f, (z,), {}, 0, False, "jacobian"))
        return box[0].output(y)
    return g, box


# ---------------------------------------------------------------------------------- the value forms
def jacobian_call(core: Callable[..., Any], f: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], argnums: Any, has_aux: bool, options: dict[str, Any], what: str) -> Any:
    """The Jacobian by ``core`` (forward or reverse) in the callers' structures."""
    if fast_call(args, argnums, has_aux, kwargs, options):
        g, box = plain_output_of(f)
        J = core(g, args[0], **options)
        return J if not box else box[0].jacobian(J)
    call = Call(f, args, kwargs, argnums, has_aux, what)
    return call.finish(call.jacobian(call.run(core, **options)))


def jacobian(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
             has_aux: bool = False, **kwargs: Any) -> Any:
    """The Jacobian of ``f`` by forward mode, with respect to the arguments ``argnums``.

    With one array argument the shape is ``f(x).shape + x.shape``. Containers
    (tuples, lists, dicts, dataclasses, registered types) in and out give a
    nested result, output-outer and input-inner, each leaf of shape
    ``out_leaf.shape + in_leaf.shape``; ``argnums=(0, 1)`` gives a tuple per
    output leaf. ``has_aux=True``: ``f`` returns ``(output, aux)`` and the
    result is ``(J, aux)``. ``chunk_size`` (and any other option of
    :func:`dualad.forward.jacobian`) goes to the core; other keywords to ``f``.

    >>> import numpy as np, dualad
    >>> dualad.jacobian(lambda v: [v[0] * v[1], np.exp(v[0])], [2.0, 3.0])
    array([[3.       , 2.       ],
           [7.3890561, 0.       ]])
    >>> dualad.jacobian(lambda a, b: a * b, 2.0, np.array([1.0, 3.0]), argnums=(0, 1))
    (array([1., 3.]), array([[2., 0.],
           [0., 2.]]))
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "jacobian")
    if (not more and type(x) in PLAIN_INPUTS and type(argnums) is int and argnums == 0 and has_aux is False
            and (not kwargs or (kwargs.keys() <= core_options(forward.jacobian) and kwargs.get("executor") is None))):
        # the single-array call of old: a Dual output goes to the core as it is, anything else
        # through `outputs` (one closure per call, called only for outputs that are not a Dual)
        tree: Call | None = None

        def outputs(z: Any, y: Any) -> Any:
            nonlocal tree
            if one_array(y):
                return y
            if tree is None:
                tree = Call(f, (z,), {}, 0, False, "jacobian")
            return tree.output(y)
        J = forward.array_jacobian(f, x, outputs, **kwargs) if kwargs else forward.array_jacobian(f, x, outputs)
        return J if tree is None else tree.jacobian(J)
    options, f_kwargs = split_options(forward.jacobian, kwargs) if kwargs else (kwargs, kwargs)
    return jacobian_call(forward.jacobian, f, (x, *more), f_kwargs, argnums, has_aux, options, "jacobian")


def jvp_call(core: Callable[..., Any], f: Callable[..., Any], args: tuple[Any, ...], v: Any,
             kwargs: dict[str, Any], argnums: Any, has_aux: bool, options: dict[str, Any], what: str) -> Any:
    call = Call(f, args, kwargs, argnums, has_aux, what)
    value, tangent = call.run(core, call.flat_like_input(v, "v"), **options)
    value, tangent = call.like_output(value), call.like_output(tangent)
    return (value, tangent, call.aux_value()) if has_aux else (value, tangent)


def jvp(f: Callable[..., Any], x: Any, v: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
        has_aux: bool = False, **kwargs: Any) -> Any:
    """``(f(*args), J @ v)`` in one forward pass; the last positional argument is the direction ``v``.

    ``v`` has the structure of the differentiated arguments (a tuple of
    directions when ``argnums`` is a tuple); both results have ``f``'s output
    structure. ``has_aux=True`` returns ``(value, J @ v, aux)``.

    >>> import numpy as np, dualad
    >>> dualad.jvp(np.sin, 0.0, 2.0)
    (np.float64(0.0), np.float64(2.0))
    >>> dualad.jvp(lambda a, b: a * b, 2.0, 5.0, (1.0, 0.0), argnums=(0, 1))
    (np.float64(10.0), np.float64(5.0))
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "jvp")
    if not more and _fast((x,), argnums, has_aux, kwargs, forward.jvp) and is_plain(v):
        g, box = plain_output_of(f)
        value, tangent = forward.jvp(g, x, v, **kwargs)
        return (value, tangent) if not box else (box[0].like_output(value), box[0].like_output(tangent))
    args, v = ((x, v, *more[:-1]), more[-1]) if more else ((x,), v)
    options, f_kwargs = split_options(forward.jvp, kwargs) if kwargs else (kwargs, kwargs)
    return jvp_call(forward.jvp, f, args, v, f_kwargs, argnums, has_aux, options, "jvp")


def derivative(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
               has_aux: bool = False, **kwargs: Any) -> Any:
    """d f / d x for scalar argument(s); the result has ``f(x)``'s shape (its structure for containers).

    With ``argnums`` a tuple, one derivative per argument, nested output-outer.

    >>> import dualad
    >>> float(dualad.derivative(lambda t: t ** 3, 2.0))
    12.0
    >>> dualad.derivative(lambda t, c: c * t ** 2, 3.0, 0.5)
    np.float64(3.0)
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "derivative")
    if not more and _fast((x,), argnums, has_aux, kwargs, forward.derivative):
        g, box = plain_output_of(f)
        d = forward.derivative(g, x, **kwargs)
        return d if not box else box[0].like_output(d)
    options, f_kwargs = split_options(forward.derivative, kwargs) if kwargs else (kwargs, kwargs)
    call = Call(f, (x, *more), f_kwargs, argnums, has_aux, "derivative")
    if call.flat or call.in_def.is_leaf is False:
        shapes = call.in_shapes if call.flat else [np.shape(call.z)]
        if any(s != () for s in shapes):
            raise InputError(f"derivative needs scalar arguments, got leaf shapes {shapes}; "
                             "remedy: use jacobian or gradient")
        return call.finish(call.jacobian(call.run(forward.jacobian, **options)))
    return call.finish(call.like_output(forward.derivative(call, call.z, **options)))


def gradient_call(core: Callable[..., Any], f: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], argnums: Any, has_aux: bool, options: dict[str, Any], what: str) -> Any:
    if fast_call(args, argnums, has_aux, kwargs, options):
        return core(f, args[0], **options)  # a container output is refused by the core
    call = Call(f, args, kwargs, argnums, has_aux, what)
    call.scalar_output = True
    return call.finish(call.like_input(call.run(core, **options)))


def gradient(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
             has_aux: bool = False, **kwargs: Any) -> Any:
    """The gradient of a scalar-valued ``f`` by forward mode; it has the arguments' structure.

    ``has_aux=True`` returns ``(gradient, aux)``. For many inputs
    :func:`dualad.tape.grad` (reverse mode) is faster.

    >>> import numpy as np, dualad
    >>> dualad.gradient(lambda v: np.sum(v ** 2), np.array([1.0, 2.0]))
    array([2., 4.])
    >>> dualad.gradient(lambda p: p["a"] * p["b"], {"a": 2.0, "b": 5.0})
    {'a': array(5.), 'b': array(2.)}
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "gradient")
    if not more and _fast((x,), argnums, has_aux, kwargs, forward.gradient):
        return forward.gradient(f, x, **kwargs)  # a container output is refused by the core
    options, f_kwargs = split_options(forward.gradient, kwargs) if kwargs else (kwargs, kwargs)
    return gradient_call(forward.gradient, f, (x, *more), f_kwargs, argnums, has_aux, options, "gradient")


def hessian_call(core: Callable[..., Any], f: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], argnums: Any, has_aux: bool, options: dict[str, Any], what: str) -> Any:
    if fast_call(args, argnums, has_aux, kwargs, options):
        return core(f, args[0], **options)
    call = Call(f, args, kwargs, argnums, has_aux, what)
    call.scalar_output = True
    return call.finish(call.hessian(call.run(core, **options)))


def hessian(f: Callable[..., Any], x: Any, /, *more: Any, argnums: int | Sequence[int] = 0,
            has_aux: bool = False, **kwargs: Any) -> Any:
    """The Hessian of a scalar-valued ``f`` (forward over forward), nested input-outer, input-inner.

    With one array argument its shape is ``x.shape + x.shape``; with
    ``argnums=(0, 1)`` it is a tuple of tuples of blocks. Options of the core
    (e.g. ``chunk_size``) go to it; other keywords to ``f``.

    >>> import numpy as np, dualad
    >>> dualad.hessian(lambda v: v[0] ** 2 * v[1], np.array([1.0, 3.0]))
    array([[6., 2.],
           [2., 0.]])
    >>> H = dualad.hessian(lambda a, b: a ** 2 * b, 1.0, 3.0, argnums=(0, 1))
    >>> [[float(h) for h in row] for row in H]
    [[6.0, 2.0], [2.0, 0.0]]
    """
    if not callable(f):  # a value where the function belongs: say so before f is called
        raise not_callable(f, "hessian")
    if not more and _fast((x,), argnums, has_aux, kwargs, forward.hessian):
        return forward.hessian(f, x, **kwargs)
    options, f_kwargs = split_options(forward.hessian, kwargs) if kwargs else (kwargs, kwargs)
    return hessian_call(forward.hessian, f, (x, *more), f_kwargs, argnums, has_aux, options, "hessian")
