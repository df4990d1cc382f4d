"""Coverage as a test: every public callable of ``numpy`` and ``numpy.linalg`` on a differentiable value.

Each callable is tried with a few argument patterns (a vector, a matrix, a
scalar, with a constant second operand, an axis, a list of arrays...). A
pattern counts only where the same call on plain arrays succeeds. On a
differentiable value each call must then either

* be differentiated correctly: the Jacobian equals central finite differences
  of the plain-numpy call, or
* raise a dualad error (``DualadError``), or
* return plain, non-float values (predicates, shape queries, ``argmax``), and
  where such values are floats (or the function is not integer/bool-valued)
  the function must be a ``NoDerivative`` entry of ``rules.TABLE``.

Anything else is a silent pass-through and fails the test: an object array, a
plain float result with the derivative dropped, a wrong derivative, or a numpy
error where the plain call works. ``pytest -s`` prints the counts.
"""
from __future__ import annotations

import inspect
import math
import warnings
from collections import Counter

import numpy as np
import pytest

import dualad
from dualad import DualadError, rules
from dualad.arraylike import ArrayLike  # base of every differentiable type (Dual, tape.Var, tracer)
from cases import central_jacobian

# Callables never called here, and why: they write or read files, print, change global
# numpy state, or run numpy's own test suite. None of them computes on array values.
SKIP = {
    "save": "writes a file", "savez": "writes a file", "savez_compressed": "writes a file",
    "savetxt": "writes a file", "load": "reads a file", "loadtxt": "reads a file",
    "genfromtxt": "reads a file", "fromfile": "reads a file", "fromregex": "reads a file",
    "memmap": "maps a file", "info": "prints help", "show_config": "prints", "show_runtime": "prints",
    "test": "runs numpy's test suite", "set_printoptions": "global state", "printoptions": "global state",
    "setbufsize": "global state", "seterr": "global state", "seterrcall": "global state",
    "errstate": "global state",
}

# Points where every function used is smooth: distinct entries (no ties), away from
# 0, the integers and the halves (rounding to 0 or 1 decimals), inside (0, 1) where
# possible (arcsin, arctanh), no integer ratios between any two entries (np.mod), and a
# well-conditioned symmetric positive definite matrix.
V = np.array([0.37, 0.61, 0.83])
M = np.array([[2.13, 0.31, 0.42], [0.31, 1.74, 0.36], [0.42, 0.36, 1.92]])
S = np.float64(0.7)
_CV = np.array([0.23, 0.73, 0.44])
_CM = np.array([[1.33, 0.26, 0.13], [0.17, 1.12, 0.27], [0.0613, 0.38, 1.63]])


def CV():  # noqa: N802 - fresh constants each call: out= patterns write into them
    return _CV.copy()


def CM():  # noqa: N802
    return _CM.copy()


# (name, point, args(x)): x is the differentiable argument
PATTERNS = [
    ("v", V, lambda x: (x,)),
    ("m", M, lambda x: (x,)),
    ("s", S, lambda x: (x,)),
    ("v,c", V, lambda x: (x, CV())),
    ("c,v", V, lambda x: (CV(), x)),
    ("v,v", V, lambda x: (x, x * 0.5 + 0.9)),
    ("m,c", M, lambda x: (x, CM())),
    ("c,m", M, lambda x: (CM(), x)),
    ("m,v", M, lambda x: (x, CV())),
    ("cm,v", V, lambda x: (CM(), x)),
    ("m,0", M, lambda x: (x, 0)),
    ("m,1", M, lambda x: (x, 1)),
    ("v,2", V, lambda x: (x, 2)),
    ("m,2", M, lambda x: (x, 2)),
    ("v,0.4,0.7", V, lambda x: (x, 0.4, 0.7)),
    ("mask,v,c", V, lambda x: (CV() > 0.5, x, CV())),
    ("[v,c]", V, lambda x: ([x, CV()],)),
    ("[v,v]", V, lambda x: ([x, x * x],)),
    ("[m,c]", M, lambda x: ([x, CM()],)),
]

# Results that are uninitialised memory: only "no derivative" can be checked.
UNINITIALISED = {"np.empty_like", "np.empty"}

# numpy code that does not dispatch (NEP 18) and fails on a non-ndarray by itself:
# the error numpy raises is the refusal. np.bmat treats any non-ndarray row as a
# sequence of blocks, so a Dual row reaches np.concatenate as a list of 0-d values.
NUMPY_REFUSES = {"np.bmat": "numpy's matrix class helpers do not dispatch"}


def _public(module, prefix):
    out = []
    for name in sorted(dir(module)):
        if name.startswith("_") or name in SKIP:
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        if isinstance(obj, type) and issubclass(obj, BaseException):
            continue
        out.append((prefix + name, obj))
    return out


def _ufunc_methods():
    out = []
    for name in sorted(dir(np)):
        u = getattr(np, name)
        if isinstance(u, np.ufunc) and u.nin == 2 and u.nout == 1 and name not in SKIP:
            for meth in ("reduce", "accumulate", "outer", "reduceat", "at"):
                out.append((f"np.{name}.{meth}", getattr(u, meth)))
    return out


#: The modules surveyed, with the prefix their callables are named by. Kept generic so other
#: namespaces (scipy.special, ...) join by adding a line here; counts are printed per module.
MODULES = [(np, "np."), (np.linalg, "np.linalg.")]


def callables():
    """Every public callable of the surveyed modules, plus numpy's binary ufuncs' methods."""
    seen, out = set(), []
    listed = [item for module, prefix in MODULES for item in _public(module, prefix)]
    for name, obj in listed + _ufunc_methods():
        key = (id(obj), name.rsplit(".", 1)[-1])
        if key not in seen:
            seen.add(key)
            out.append((name, obj))
    return out


# ----------------------------------------------------------------------------- result inspection
def _leaves(r):
    if isinstance(r, (tuple, list)):
        for item in r:
            yield from _leaves(item)
    else:
        yield r


def _is_diff(obj, diff_types) -> bool:
    return isinstance(obj, diff_types)


def _object_array(r) -> bool:
    return any(isinstance(leaf, np.ndarray) and leaf.dtype == object for leaf in _leaves(r))


def _float_leaves(r) -> bool:
    """True if any plain leaf is float-valued."""
    for leaf in _leaves(r):
        if isinstance(leaf, (float, np.floating)) and not isinstance(leaf, bool):
            return True
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc":
            return True
    return False


def _numeric_leaves(r):
    for leaf in _leaves(r):
        if isinstance(leaf, (np.ndarray, np.generic)) and leaf.dtype.kind in "biuf":
            yield leaf
        elif isinstance(leaf, (int, float, bool)) or _is_diff(leaf, ArrayLike):
            yield leaf


def _flat(r):
    """All numeric leaves of a result, raveled and joined (so one Jacobian checks every output)."""
    parts = [np.reshape(leaf, -1) for leaf in _numeric_leaves(r)]
    parts = [p if not isinstance(p, np.ndarray) or p.dtype.kind == "f" else p.astype(np.float64) for p in parts]
    if not parts:
        return np.zeros(0)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _tape():
    try:
        from dualad import tape
    except ImportError:
        return None
    return tape if hasattr(tape, "jacobian") else None


def _engine(mode):
    if mode == "forward":
        return dualad.jacobian, (dualad.Dual,)
    tape = _tape()
    return tape.jacobian, (tape.Var,)


def _entry(func):
    try:
        return rules.TABLE.get(func)
    except TypeError:  # unhashable
        return None


def _integer_valued(r) -> bool:
    return not _float_leaves(r)


def _raised_in_dualad(err) -> bool:
    """True if the innermost Python frame of the traceback is dualad's own code."""
    tb, last = err.__traceback__, None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and "/dualad/" in last.replace("\\", "/")


def _for_jacobian(r):
    """What ``g`` hands to the jacobian: one joined vector, or ``r`` itself if it is not numeric."""
    leaves = list(_leaves(r))
    if len(list(_numeric_leaves(r))) != len(leaves):
        return r  # garbage (None, str, ...): the jacobian must refuse it
    return _flat(r)


def classify(name, func, pattern, mode):
    """One call pattern's verdict and a detail string.

    Verdicts: 'n/a' (the plain call fails or is not numeric), 'supported' (a nonzero
    derivative, checked), 'zero' (a zero derivative, checked: floor, or out= a Dual), 'raises'
    (a DualadError), 'numpy-refuses' (numpy itself raises TypeError/ValueError on the
    differentiable value, outside dualad's code), 'no-derivative' (a NoDerivative
    entry), 'integer' (an integer/bool result), 'independent' (the result does not
    depend on the argument, checked by finite differences), or 'FAIL'.
    """
    pname, point, make_args = pattern
    jacobian, diff_types = _engine(mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with np.errstate(all="ignore"):
                plain = func(*make_args(point.copy()))
        except Exception:
            return "n/a", ""
        if _object_array(plain) or not list(_numeric_leaves(plain)):
            return "n/a", ""  # not a numeric function of the array (np.dtype, np.nditer, ...)
        if not np.all(np.isfinite(_flat(plain))):
            return "n/a", ""  # outside the function's domain (arccosh of 0.4, x / 0, ...)
        seen = []

        def g(x):
            r = func(*make_args(x))
            seen.append(r)
            return _for_jacobian(r)

        try:
            with np.errstate(all="ignore"):
                J = np.asarray(jacobian(g, point.copy()))
        except DualadError as err:
            if not str(err):
                return "FAIL", f"empty message from {type(err).__name__}"
            return "raises", type(err).__name__
        except Exception as err:  # noqa: BLE001 - classified here
            if not _raised_in_dualad(err) or name in NUMPY_REFUSES:  # numpy's own refusal
                return "numpy-refuses", f"{type(err).__name__}: {err}"
            return "FAIL", f"{type(err).__name__} raised inside dualad where the plain call works: {err}"
    raw = seen[0]
    if _object_array(raw):
        return "FAIL", "object array result"
    if name in UNINITIALISED:
        return ("zero", "") if not np.any(J) else ("FAIL", "a nonzero derivative of uninitialised memory")
    try:
        with np.errstate(all="ignore"):
            fd = central_jacobian(lambda x: _flat(func(*make_args(x))), point.copy())
    except ValueError:  # the output's size changes under a small step (np.unique at ties): no reference
        if any(_is_diff(leaf, diff_types) for leaf in _leaves(raw)):
            return "nonsmooth", ""
        return "FAIL", "a plain result where finite differences change the output's size"
    if not any(_is_diff(leaf, diff_types) for leaf in _leaves(raw)):
        entry = _entry(func)
        if isinstance(entry, rules.NoDerivative):
            return "no-derivative", ""
        if _integer_valued(raw) and _integer_valued(plain):
            return "integer", ""
        if not np.any(np.abs(fd) > 1e-8):
            return "independent", ""
        return "FAIL", f"plain float result ({type(raw).__name__}) with the derivative dropped"
    if J.shape != fd.shape:
        return "FAIL", f"Jacobian shape {J.shape}, finite differences {fd.shape}"
    if not np.allclose(J, fd, rtol=1e-5, atol=1e-6):
        return "FAIL", f"derivative differs from finite differences by {np.max(np.abs(J - fd)):.3g}"
    # a zero derivative is right for floor or sign, and for np.sin(c, out=dual) (a constant
    # written into a Dual buffer): counted apart so that 'supported' means a nonzero one checked
    return ("supported" if np.any(fd) or np.any(J) else "zero"), ""


def survey(mode):
    """Classify every callable; returns (per-callable verdicts, pattern counts, failures)."""
    verdicts, patterns, failures = {}, Counter(), []
    for name, func in callables():
        kinds = set()
        for pattern in PATTERNS:
            kind, detail = classify(name, func, pattern, mode)
            patterns[kind] += 1
            kinds.add(kind)
            if kind == "FAIL":
                failures.append(f"{name}({pattern[0]}): {detail}")
        for verdict in ("FAIL", "supported", "zero", "no-derivative", "integer", "raises", "numpy-refuses",
                        "independent", "nonsmooth"):
            if verdict in kinds:
                verdicts[name] = verdict
                break
        else:
            verdicts[name] = "n/a"
    return verdicts, patterns, failures


def module_of(name: str) -> str:
    """The surveyed module a callable belongs to: the longest matching prefix in MODULES."""
    best = max((p for _, p in MODULES if name.startswith(p)), key=len)
    return best[:-1]


def differentiated_by_module(verdicts) -> dict:
    """{module prefix: (differentiated, callables)} -- 'differentiated' = a nonzero derivative, checked."""
    table: dict = {}
    for name, verdict in verdicts.items():
        done, total = table.get(module_of(name), (0, 0))
        table[module_of(name)] = (done + (verdict == "supported"), total + 1)
    return table


def _report(mode, verdicts, patterns):
    counts = Counter(verdicts.values())
    print(f"\n[{mode}] differentiated: " + ", ".join(
        f"{module} {done} of {total}" for module, (done, total) in differentiated_by_module(verdicts).items()))
    print(f"\n[{mode}] {len(verdicts)} callables: " + ", ".join(f"{k} {counts[k]}" for k in
          ("supported", "zero", "raises", "numpy-refuses", "no-derivative", "integer", "independent",
           "nonsmooth", "n/a", "FAIL")))
    print(f"[{mode}] calls by pattern: " + ", ".join(f"{k} {v}" for k, v in sorted(patterns.items())))
    print(f"[{mode}] numpy-refuses: " + ", ".join(n for n, v in verdicts.items() if v == "numpy-refuses"))


@pytest.mark.filterwarnings("ignore")
def test_no_silent_pass_through_forward():
    verdicts, patterns, failures = survey("forward")
    _report("forward", verdicts, patterns)
    assert not failures, "\n".join(f[:300] for f in failures)
    counts = Counter(verdicts.values())
    # the survey reached the table: differentiated and refused functions both exist in number
    # (289 supported, 70 refused after the s2-gaps session: ufunc methods, in-place writes, sets)
    assert counts["supported"] >= 250 and counts["raises"] >= 50, counts


@pytest.mark.filterwarnings("ignore")
def test_no_silent_pass_through_reverse():
    if _tape() is None:
        pytest.skip("dualad.tape not available")
    verdicts, patterns, failures = survey("reverse")
    _report("reverse", verdicts, patterns)
    assert not failures, "\n".join(failures)
    counts = Counter(verdicts.values())
    assert counts["supported"] >= 250 and counts["raises"] >= 50, counts


# ----------------------------------------------------------------------------- scipy.special
# scipy.special's public callables: mostly ufuncs (rules in dualad/ops/special.py, loaded on first
# use), a few Python functions. The same verdicts as above; integer-order functions get an
# integer first argument, three-argument ones two constants first.
SPECIAL_PATTERNS = [
    ("v", V, lambda x: (x,)),
    ("s", S, lambda x: (x,)),
    ("v,c", V, lambda x: (x, CV())),
    ("c,v", V, lambda x: (CV() + 1.0, x)),
    ("2,v", V, lambda x: (2, x)),
    ("c,c,v", V, lambda x: (CV() + 1.0, CV() + 1.5, x)),
]
SPECIAL_SKIP = {"seterr": "global state", "errstate": "global state", "geterr": "global state"}


def special_callables():
    special = pytest.importorskip("scipy.special")
    return [(f"scipy.special.{name}", getattr(special, name)) for name in sorted(dir(special))
            if not name.startswith("_") and name not in SPECIAL_SKIP and callable(getattr(special, name))
            and not inspect.ismodule(getattr(special, name)) and not isinstance(getattr(special, name), type)]


def survey_special(mode):
    verdicts, failures = {}, []
    for name, func in special_callables():
        kinds = set()
        for pattern in SPECIAL_PATTERNS:
            if isinstance(func, np.ufunc) and len(pattern[2](V)) != func.nin:
                continue  # an extra positional argument of a ufunc is its out= buffer, not an operand
            kind, detail = classify(name, func, pattern, mode)
            kinds.add(kind)
            if kind == "FAIL":
                failures.append(f"{name}({pattern[0]}): {detail}")
        verdicts[name] = next((v for v in ("FAIL", "supported", "zero", "no-derivative", "integer", "raises",
                                           "numpy-refuses", "independent") if v in kinds), "n/a")
    return verdicts, failures


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_scipy_special_no_silent_pass_through(mode):
    verdicts, failures = survey_special(mode)
    counts = Counter(verdicts.values())
    print(f"\n[scipy.special {mode}] {len(verdicts)} callables: " + ", ".join(
        f"{k} {counts[k]}" for k in ("supported", "zero", "raises", "numpy-refuses", "no-derivative", "integer",
                                      "independent", "n/a", "FAIL")))
    assert not failures, "\n".join(f[:300] for f in failures)
    # before the scipy.special rules (dualad/ops/special.py): 0 differentiated
    assert counts["supported"] >= 60, counts
