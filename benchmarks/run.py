"""Time dualad's derivatives against the established AD systems, in one run.

    python benchmarks/run.py                   # full suite, markdown table on stdout
    python benchmarks/run.py --quick           # a subset, under a minute
    python benchmarks/run.py --json out.json   # also write every measurement as JSON
    python benchmarks/run.py --tasks chain,lorenz96

Every peer that is not installed is skipped with a note (``pip install .[bench]``
installs JAX, autograd, ad and scipy; PyTorch is optional). Each contestant's
Jacobian is checked against dualad's before it is timed; a mismatch is printed
loudly and makes the script exit with status 1.

Times are medians over repeats of ``timeit`` batches (gc disabled while timing,
as timeit does); the ratio beside each time is to one plain numpy evaluation
of the same function in the same run. ``dualad``, ``jax.jit(jacfwd)``,
``torch jacfwd``, ``dualad prepare`` and ``tape re-record`` (whose ratios are
targets) are timed together in interleaved batches, more and shorter ones, each
still reported as the median of its own batches.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import timeit
import types
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import dualad  # noqa: E402
import problems  # noqa: E402  (benchmarks/problems.py: the test problems, shared with the tests)

# ----------------------------------------------------------------------------- peers
NOTES: list[str] = []


def _optional(name: str):
    try:
        return __import__(name)
    except Exception as err:  # ImportError, or a broken install
        NOTES.append(f"{name} is not available ({type(err).__name__}: {err}); its columns are skipped")
        return None


jax = _optional("jax")
if jax is not None:
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
torch = _optional("torch")
if torch is not None:
    import torch.func  # noqa: F401

    # One thread, like OPENBLAS_NUM_THREADS=1 for numpy. Left at its default, torch's OpenMP pool
    # keeps spinning after each torch call and steals the CPU from whatever is timed next: on this
    # 2-core machine dualad's chain n=10 Jacobian measured 189 us in a run with torch instead of 34 us.
    torch.set_num_threads(1)
autograd = _optional("autograd")
if autograd is not None:
    import autograd.numpy as anp
ad = _optional("ad")
if ad is not None:
    from ad import admath
scipy = _optional("scipy")
if scipy is not None:
    import scipy.optimize
try:
    from dualad import tape as dtape
except ImportError as err:
    dtape = None
    NOTES.append(f"dualad.tape is not available yet ({err}); the MLP gradient task is skipped")

# ----------------------------------------------------------------------------- namespaces
# Each task is written once against a small namespace ``X``, so every system runs
# the same arithmetic: numpy (also what dualad runs through), autograd.numpy,
# jax.numpy, torch and the ``ad`` package's admath.


def _np_space(mod, name):
    return types.SimpleNamespace(name=name, sin=mod.sin, exp=mod.exp, log1p=mod.log1p, cosh=mod.cosh,
                                 tanh=mod.tanh, concatenate=mod.concatenate, stack=mod.stack,
                                 mean=mod.mean, reshape=mod.reshape, const=lambda a: a)


NP = _np_space(np, "numpy")
AG = _np_space(anp, "autograd") if autograd else None
JX = _np_space(jnp, "jax") if jax else None
if jax:
    JX.const = jnp.asarray
if torch:
    TH = types.SimpleNamespace(name="torch", sin=torch.sin, exp=torch.exp, log1p=torch.log1p, cosh=torch.cosh,
                               tanh=torch.tanh, concatenate=torch.cat, stack=torch.stack, mean=torch.mean,
                               reshape=torch.reshape, const=torch.as_tensor)
else:
    TH = None
if ad:
    def _obj(f):
        return lambda v: np.array(f(v), dtype=object)

    AD = types.SimpleNamespace(name="ad", sin=_obj(admath.sin), exp=_obj(admath.exp), log1p=_obj(admath.log1p),
                               cosh=_obj(admath.cosh), tanh=_obj(admath.tanh), concatenate=np.concatenate,
                               stack=lambda xs: np.array(xs, dtype=object), const=lambda a: a)
else:
    AD = None


# ----------------------------------------------------------------------------- tasks
class Task:
    """A function R^n -> R^m with its data, written against a namespace ``X``."""

    name = ""
    title = ""
    sizes: tuple = ()
    quick_sizes: tuple = ()
    returns_list = False  # f returns a Python list (peers that need an array stack it)
    ad_max_n = 10 ** 9    # the ad package is O(n^2)-O(n^3) in Python objects: cap it

    def __init__(self, n: int):
        self.n = n
        rng = np.random.default_rng(n)
        self.x = self.make_x(rng)
        self.data = self.make_data(rng)

    def make_x(self, rng):
        return rng.uniform(-1.0, 1.0, self.n)

    def make_data(self, rng):
        return {}

    def f(self, x, X, **data):
        raise NotImplementedError

    def bound(self, X, convert=lambda a: a, stack=True):
        """f(x) with the data converted for one system; a list output stacked by X.stack unless not asked."""
        data = {k: convert(v) for k, v in self.data.items()}
        if self.returns_list and stack:
            return lambda x: X.stack(self.f(x, X, **data))
        return lambda x: self.f(x, X, **data)

    def analytic(self):
        return None


class Chain(Task):
    name, title = "chain", "elementwise chain cosh(log1p(exp(sin x)))"
    sizes, quick_sizes = (10, 100, 1000), (10, 100)

    def f(self, x, X):
        return X.cosh(X.log1p(X.exp(X.sin(x))))

    def analytic(self):
        x = self.x
        s = np.sin(x)
        e = np.exp(s)
        l = np.log1p(e)
        return np.diag(np.sinh(l) / (1.0 + e) * e * np.cos(x))


class Dense(Task):
    name, title = "dense", "dense layer tanh(W x + b)"
    sizes, quick_sizes = (10, 100, 500), (10, 100)
    ad_max_n = 10  # n=100 already takes about two minutes per Jacobian

    def make_data(self, rng):
        return {"W": rng.standard_normal((self.n, self.n)) / np.sqrt(self.n), "b": rng.standard_normal(self.n)}

    def f(self, x, X, W, b):
        return X.tanh(W @ x + b)

    def analytic(self):
        y = np.tanh(self.data["W"] @ self.x + self.data["b"])
        return (1.0 - y * y)[:, None] * self.data["W"]


class Lorenz96(Task):
    name, title = "lorenz96", "Lorenz-96 RHS, scalar indexing in a loop, returns a list"
    sizes, quick_sizes = (10, 40), (10, 40)
    returns_list = True

    def f(self, x, X):
        return problems.lorenz96(x)

    def analytic(self):
        return problems.lorenz96_jacobian(self.x)


class Bratu(Task):
    name, title = "bratu", "1-D Bratu residual (tridiagonal Jacobian)"
    sizes, quick_sizes = (100, 1000), (100,)

    def make_x(self, rng):
        return 0.1 * np.sin(np.pi * np.linspace(0.0, 1.0, self.n + 2)[1:-1]) + 0.01 * rng.standard_normal(self.n)

    def make_data(self, rng):
        return {"zero": np.zeros(1), "h2": np.float64(1.0 / (self.n + 1) ** 2), "lam": np.float64(2.0)}

    def f(self, u, X, zero, h2, lam):
        return problems.bratu_1d(u, lam, X, zero)

    def analytic(self):
        h2, lam, n = self.data["h2"], self.data["lam"], self.n
        return (np.diag(np.full(n, -2.0 / h2) + lam * np.exp(self.x)) + np.diag(np.full(n - 1, 1.0 / h2), 1)
                + np.diag(np.full(n - 1, 1.0 / h2), -1))


class Robertson(Task):
    name, title = "robertson", "Robertson kinetics RHS (3 species), scalar style, returns a list"
    sizes, quick_sizes = (3,), (3,)
    returns_list = True

    def make_x(self, rng):
        return np.array([0.9, 2e-5, 0.1]) * rng.uniform(0.5, 1.5, 3)

    def f(self, y, X):
        k1, k2, k3 = 0.04, 3e7, 1e4
        return [-k1 * y[0] + k3 * y[1] * y[2],
                k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2,
                k2 * y[1] ** 2]

    def analytic(self):
        y = self.x
        return np.array([[-0.04, 1e4 * y[2], 1e4 * y[1]],
                         [0.04, -1e4 * y[2] - 6e7 * y[1], -1e4 * y[1]],
                         [0.0, 6e7 * y[1], 0.0]])


class Hires(Task):
    name, title = "hires", "HIRES RHS (8 species), scalar style, returns a list"
    sizes, quick_sizes = (8,), (8,)
    returns_list = True

    def make_x(self, rng):
        return np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0057]) + rng.uniform(0.0, 0.1, 8)

    def f(self, y, X):
        r6 = 280.0 * y[5] * y[7]
        return [-1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007,
                1.71 * y[0] - 8.75 * y[1],
                -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4],
                8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
                -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6],
                -r6 + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
                r6 - 1.81 * y[6],
                -r6 + 1.81 * y[6]]

    def analytic(self):
        y = self.x
        J = np.zeros((8, 8))
        J[0, :3] = [-1.71, 0.43, 8.32]
        J[1, :2] = [1.71, -8.75]
        J[2, 2:5] = [-10.03, 0.43, 0.035]
        J[3, 1:4] = [8.32, 1.71, -1.12]
        J[4, 4:7] = [-1.745, 0.43, 0.43]
        J[5, 3:8] = [0.69, 1.71, -0.43 - 280.0 * y[7], 0.69, -280.0 * y[5]]
        J[6, 5:8] = [280.0 * y[7], -1.81, 280.0 * y[5]]
        J[7, 5:8] = [-280.0 * y[7], 1.81, -280.0 * y[5]]
        return J


TASKS = [Chain, Dense, Lorenz96, Robertson, Hires, Bratu]


# ----------------------------------------------------------------------------- timing
class Budget:
    def __init__(self, quick: bool):
        self.min_batch = 0.02 if quick else 0.1   # seconds per timeit batch
        self.repeats = 3 if quick else 7
        self.slow = 0.5 if quick else 2.0        # a single call this slow is timed only a few times


def measure(fn: Callable, budget: Budget, first: float | None = None) -> float:
    """Median seconds per call: timeit batches sized like timeit's autorange, repeated."""
    if first is None:
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
    if first > budget.slow:
        reps = 1 if first > 4 * budget.slow else 2
        return min(first, statistics.median(timeit.repeat(fn, number=1, repeat=reps)))
    timer = timeit.Timer(fn)
    number = 1
    while True:  # autorange, with our own batch length
        t = timer.timeit(number)
        if t >= budget.min_batch:
            break
        number = max(number * 2, int(number * budget.min_batch / max(t, 1e-9) * 1.2))
    return statistics.median(timer.repeat(repeat=budget.repeats, number=number)) / number


# Contestants whose ratio is a target (issue 17: replay >= 10x faster than re-recording) are timed
# together, their batches interleaved (A B C, C B A, A B C, ...). Timed one after the other, a busy stretch of
# a shared machine can fall on one contestant's batches and not the other's, and the ratio of the two
# medians then swung 6-23x between runs of the same code. Interleaved, a burst hits both alike; each
# still reports the median of its own batches (the statistic every other contestant gets).
# Every contestant a target row compares with another is in the group: dualad against torch's jacfwd
# (>= 10x), the prepared calls against jax.jit and against re-recording. (jax.jacfwd, eager, is 40x
# slower or more; the others are reported, not judged.)
INTERLEAVED = ("dualad", "jax.jit(jacfwd)", "torch jacfwd", "dualad prepare", "tape re-record")


def measure_interleaved(fns: dict, budget: Budget) -> dict:
    """Seconds per call of each callable, {label: [one per batch]}: batches of about a quarter of
    ``budget.min_batch`` each (sized like timeit's autorange), ``5 * budget.repeats`` rounds, the
    contestants taking turns and the order reversed every other round (gc off inside a batch, as timeit)."""
    timers, numbers = {}, {}
    for label, fn in fns.items():
        timer = timeit.Timer(fn)
        number = 1
        while True:
            t = timer.timeit(number)
            if t >= budget.min_batch / 4:
                break
            number = max(number * 2, int(number * budget.min_batch / 4 / max(t, 1e-9) * 1.2))
        timers[label], numbers[label] = timer, number
    samples: dict = {label: [] for label in fns}
    order = list(fns)
    for round_ in range(5 * budget.repeats):
        for label in (order if round_ % 2 == 0 else order[::-1]):
            samples[label].append(timers[label].timeit(numbers[label]) / numbers[label])
    return samples


# ----------------------------------------------------------------------------- contestants
# Each builder gets the task and returns (callable computing the Jacobian, to_numpy) or a
# string saying why it is skipped. Setup (conversions, transformations, compilation,
# warm-up) happens in the builder, outside the timed call.

def c_dualad(task):
    f = task.bound(NP, stack=False)  # dualad takes f exactly as written, list output included
    return (lambda: dualad.jacobian(f, task.x)), np.asarray


def c_prepared(task):
    p = dualad.prepare(task.bound(NP, stack=False), task.x)  # recorded (and compiled) here, outside the timing
    p(task.x)
    return (lambda: p(task.x)), np.asarray


def c_rerecord(task):
    f = task.bound(NP, stack=False)  # what a replay saves: recording the tape (and sweeping it) at every call
    return (lambda: dualad.tape.jacobian(f, task.x)), np.asarray


def c_jax_eager(task):
    if not jax:
        return "jax not installed"
    jf = jax.jacfwd(task.bound(JX, jnp.asarray))
    x = jnp.asarray(task.x)
    return (lambda: jf(x).block_until_ready()), np.asarray


def c_jax_jit(task):
    if not jax:
        return "jax not installed"
    jf = jax.jit(jax.jacfwd(task.bound(JX, jnp.asarray)))
    x = jnp.asarray(task.x)
    jf(x).block_until_ready()  # compile
    return (lambda: jf(x).block_until_ready()), np.asarray


def _torch_fn(task, transform):
    if not torch:
        return "torch not installed"
    jf = transform(task.bound(TH, torch.as_tensor))
    x = torch.from_numpy(task.x.copy())
    return (lambda: jf(x)), (lambda t: t.detach().numpy())


def c_torch_jacfwd(task):
    return _torch_fn(task, torch.func.jacfwd) if torch else "torch not installed"


def c_torch_jacrev(task):
    return _torch_fn(task, torch.func.jacrev) if torch else "torch not installed"


def c_autograd(task):
    if not autograd:
        return "autograd not installed"
    jf = autograd.jacobian(task.bound(AG))
    return (lambda: jf(task.x)), np.asarray


def c_ad(task):
    if not ad:
        return "ad not installed"
    if task.n > task.ad_max_n:
        return f"not run above n={task.ad_max_n} (too slow)"
    f = task.bound(AD)

    def jac():
        xs = ad.adnumber(task.x)
        return ad.jacobian(f(xs), xs)
    return jac, (lambda J: np.array(J, dtype=float))


def c_scipy_fd(task):
    if not scipy:
        return "scipy not installed"
    return (lambda: scipy.optimize.approx_fprime(task.x, task.bound(NP))), np.asarray


def c_analytic(task):
    if task.analytic() is None:
        return "no hand-written Jacobian"
    return task.analytic, np.asarray


CONTESTANTS = [
    ("dualad", c_dualad), ("dualad prepare", c_prepared), ("tape re-record", c_rerecord),
    ("jax.jacfwd", c_jax_eager), ("jax.jit(jacfwd)", c_jax_jit),
    ("torch jacfwd", c_torch_jacfwd), ("torch jacrev", c_torch_jacrev), ("autograd", c_autograd),
    ("ad", c_ad), ("scipy FD", c_scipy_fd), ("analytic", c_analytic),
]
APPROXIMATE = {"scipy FD"}


# ----------------------------------------------------------------------------- the run
class Run:
    def __init__(self, budget: Budget):
        self.budget = budget
        self.records: list[dict] = []
        self.mismatches: list[str] = []

    def record(self, task, n, contestant, seconds=None, base=None, note=""):
        rec = {"task": task, "n": n, "contestant": contestant, "seconds": seconds,
               "ratio_to_f": (seconds / base) if seconds and base else None, "note": note}
        self.records.append(rec)
        return rec

    def check(self, label, J, ref, approximate):
        J = np.asarray(J, dtype=float).reshape(np.shape(ref))
        scale = max(1.0, float(np.max(np.abs(ref))))
        rtol, atol = (1e-4, 1e-5 * scale) if approximate else (1e-9, 1e-11 * scale)
        if not np.allclose(J, ref, rtol=rtol, atol=atol):
            err = float(np.max(np.abs(J - ref)))
            if approximate:  # finite differences on a stiff scale (Robertson's 3e7 y1**2): their error, not ours
                print(f"note: {label} is inaccurate (max abs difference {err:.3e})", file=sys.stderr)
                return True
            msg = f"MISMATCH: {label} (max abs difference {err:.3e})"
            self.mismatches.append(msg)
            print("!" * 78 + "\n" + msg + "\n" + "!" * 78, file=sys.stderr)
            return False
        return True

    def jacobian_task(self, cls, n, only=None):
        task = cls(n)
        f_plain = task.bound(NP, stack=False)
        base = measure(lambda: f_plain(task.x), self.budget)
        self.record(task.name, n, "numpy f", base, base)
        ref = None
        together: dict = {}  # INTERLEAVED contestants: timed after the loop, their batches interleaved
        for label, build in CONTESTANTS:
            if only and label not in only and label != "dualad":
                continue
            try:
                built = build(task)
            except Exception as err:  # a peer that cannot run this task at all
                self.record(task.name, n, label, note=f"failed to set up: {type(err).__name__}: {err}")
                continue
            if isinstance(built, str):
                self.record(task.name, n, label, note=built)
                continue
            fn, to_numpy = built
            t0 = time.perf_counter()
            try:
                J = to_numpy(fn())
            except Exception as err:
                self.record(task.name, n, label, note=f"failed: {type(err).__name__}: {err}")
                continue
            first = time.perf_counter() - t0
            if label == "dualad":
                ref = np.asarray(J)
                ok = True
            else:
                ok = self.check(f"{label} vs dualad on {task.name} n={n}", J, ref, label in APPROXIMATE)
            if label in INTERLEAVED and first <= self.budget.slow:  # (a slow call is timed a few times alone)
                together[label] = (fn, ok)
                continue
            seconds = measure(fn, self.budget, first)
            self.record(task.name, n, label, seconds, base, note="" if ok else "MISMATCH")
            print(f"  {task.name:9s} n={n:<5d} {label:16s} {_fmt(seconds):>10s}", file=sys.stderr)
        if together:
            samples = measure_interleaved({label: fn for label, (fn, _) in together.items()}, self.budget)
            for label, (_, ok) in together.items():
                seconds = statistics.median(samples[label])
                rec = self.record(task.name, n, label, seconds, base, note="" if ok else "MISMATCH")
                rec["batches"] = samples[label]  # interleaved with the other INTERLEAVED contestant's
                print(f"  {task.name:9s} n={n:<5d} {label:16s} {_fmt(seconds):>10s} (interleaved)", file=sys.stderr)
        # the reference itself is checked against the hand-written Jacobian, an independent source
        if task.analytic() is not None and ref is not None:
            self.check(f"dualad vs analytic on {task.name} n={n}", ref, task.analytic(), False)


def _fmt(seconds) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


# ----------------------------------------------------------------------------- MLP gradient
MLP_SHAPE = (64, 128, 10)  # inputs, hidden units, outputs: 64*128+128+128*10+10 = 9610 parameters
MLP_BATCH = 32


def mlp_sizes():
    d, h, o = MLP_SHAPE
    return [(d, h), (h,), (h, o), (o,)]


def mlp_loss(theta, X, Y, S):
    parts, start = [], 0
    for shape in mlp_sizes():
        size = int(np.prod(shape))
        parts.append(S.reshape(theta[start:start + size], shape))
        start += size
    W1, b1, W2, b2 = parts
    r = S.tanh(X @ W1 + b1) @ W2 + b2 - Y
    return S.mean(r * r)


def mlp_analytic_grad(theta, X, Y):
    d, h, o = MLP_SHAPE
    W1 = theta[:d * h].reshape(d, h)
    b1 = theta[d * h:d * h + h]
    W2 = theta[d * h + h:d * h + h + h * o].reshape(h, o)
    b2 = theta[d * h + h + h * o:]
    a = np.tanh(X @ W1 + b1)
    r = a @ W2 + b2 - Y
    g_out = 2.0 * r / r.size
    g_a = (g_out @ W2.T) * (1.0 - a * a)
    return np.concatenate([(X.T @ g_a).ravel(), g_a.sum(0), (a.T @ g_out).ravel(), g_out.sum(0)])


def mlp_task(run: Run, quick: bool):
    n = sum(int(np.prod(s)) for s in mlp_sizes())
    if dtape is None:
        run.record("mlp", n, "dualad tape.grad", note="skipped: dualad.tape does not exist yet")
        return
    rng = np.random.default_rng(0)
    theta = 0.1 * rng.standard_normal(n)
    X = rng.standard_normal((MLP_BATCH, MLP_SHAPE[0]))
    Y = rng.standard_normal((MLP_BATCH, MLP_SHAPE[2]))
    loss = lambda th: mlp_loss(th, X, Y, NP)  # noqa: E731
    base = measure(lambda: loss(theta), run.budget)
    run.record("mlp", n, "numpy f", base, base)
    ref = np.asarray(dtape.grad(loss, theta))
    run.check("dualad tape.grad vs analytic on mlp", ref, mlp_analytic_grad(theta, X, Y), False)

    entries: list[tuple[str, Callable | str, Callable]] = [("dualad tape.grad", lambda: dtape.grad(loss, theta), np.asarray)]
    prepared = dualad.prepare(loss, theta)
    prepared.value_and_grad(theta)
    entries.append(("dualad prepare value_and_grad", lambda: prepared.value_and_grad(theta)[1], np.asarray))
    if quick:
        entries.append(("dualad forward", "not run with --quick (about a second per gradient)", None))
    else:
        entries.append(("dualad forward", lambda: dualad.gradient(loss, theta), np.asarray))
    if jax:
        Xj, Yj, thj = jnp.asarray(X), jnp.asarray(Y), jnp.asarray(theta)
        gj = jax.grad(lambda th: mlp_loss(th, Xj, Yj, JX))
        gjit = jax.jit(gj)
        gjit(thj).block_until_ready()
        entries += [("jax.grad", lambda: gj(thj).block_until_ready(), np.asarray),
                    ("jax.jit(grad)", lambda: gjit(thj).block_until_ready(), np.asarray)]
    else:
        entries.append(("jax.grad", "jax not installed", None))
    if torch:
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

        def torch_backward():
            th = torch.from_numpy(theta).requires_grad_(True)
            mlp_loss(th, Xt, Yt, TH).backward()
            return th.grad
        entries.append(("torch backward", torch_backward, lambda t: t.numpy()))
    else:
        entries.append(("torch backward", "torch not installed", None))
    if autograd:
        ga = autograd.grad(lambda th: mlp_loss(th, X, Y, AG))
        entries.append(("autograd", lambda: ga(theta), np.asarray))
    else:
        entries.append(("autograd", "autograd not installed", None))
    entries.append(("analytic", lambda: mlp_analytic_grad(theta, X, Y), np.asarray))

    for label, fn, to_numpy in entries:
        if isinstance(fn, str):
            run.record("mlp", n, label, note=fn)
            continue
        ok = label == "dualad tape.grad" or run.check(f"{label} vs dualad tape.grad on mlp", to_numpy(fn()), ref,
                                                      False)
        seconds = measure(fn, run.budget)
        run.record("mlp", n, label, seconds, base, note="" if ok else "MISMATCH")
        print(f"  mlp       n={n:<5d} {label:16s} {_fmt(seconds):>10s}", file=sys.stderr)


# ----------------------------------------------------------------------------- guard mismatches
def guard_task(run: Run):
    """What a failed guard costs, on a prepared Lorenz-96 (n=40) with a branch on x[0]: a call on a
    branch never seen (the guard fails, the plain dualad.jacobian answers), and calls alternating
    between two branches both recorded (the most recent trace's guard fails, the other one replays);
    beside one plain dualad.jacobian at the same point, single calls alternating with the first
    meetings (benchmarks/prepared.py --tasks guard times six branchy functions and streams)."""
    n = 40

    branchy = problems.lorenz96_branchy
    xa = np.random.default_rng(0).uniform(0.1, 1.0, n)
    xb = xa.copy()
    xb[0] = -xb[0]
    fresh = []  # one prepared object per timed call: each meets branch b for the first time
    for _ in range(7 if run.budget.repeats < 7 else 21):
        p = dualad.prepare(branchy, xa)
        p(xa)
        fresh.append(p)
    run.check("prepare after a guard mismatch", fresh[0](xb), dualad.jacobian(branchy, xb), False)
    dualad.jacobian(branchy, xb)
    # single calls against single plain calls at the same point, the order alternating (a repeated
    # plain call timed by timeit is warmer than any first meeting, and whichever of a pair runs
    # first meets colder caches)
    times, plains = [], []
    for k, p in enumerate(fresh[1:]):
        for contestant in ((p, None) if k % 2 else (None, p)):  # None: the plain call
            t0 = time.perf_counter()
            if contestant is None:
                dualad.jacobian(branchy, xb)
            else:
                contestant(xb)
            (plains if contestant is None else times).append(time.perf_counter() - t0)
        assert p.mismatches == 1
    plain = statistics.median(plains)
    run.record("guard", n, "dualad", plain, plain)
    seconds = statistics.median(times)
    run.record("guard", n, "prepare, new branch (guard fails, plain answer)", seconds, plain)
    both = dualad.prepare(branchy, xa)
    for x in (xb, xb, xa):  # branch b: met, then recorded
        both(x)
    state = {"flip": False}

    def switch():
        state["flip"] = not state["flip"]
        return both(xb if state["flip"] else xa)
    switching = measure(switch, run.budget)
    run.record("guard", n, "prepare, alternating two recorded branches", switching, plain)
    print(f"  guard     n={n:<5d} new branch {_fmt(seconds):>10s}, switching {_fmt(switching)} "
          f"(retapes {both.retapes})", file=sys.stderr)


# ----------------------------------------------------------------------------- scalar overhead
def scalar_task(run: Run):
    a, b = np.float64(1.3), np.float64(0.7)
    base = measure(lambda: a * b, run.budget)
    run.record("scalar-mul", 1, "numpy float64", base, base)
    for k in (1, 10):
        ta = np.float64(1.0) if k == 1 else np.linspace(0.1, 1.0, k)
        tb = np.float64(0.5) if k == 1 else np.linspace(1.0, 2.0, k)
        x, y = dualad.Dual(a, ta), dualad.Dual(b, tb)
        z = x * y
        run.check(f"scalar Dual multiply, {k} directions", z.tangent, ta * b + a * tb, False)
        seconds = measure(lambda: x * y, run.budget)
        run.record("scalar-mul", k, f"Dual, {k} direction{'s' if k > 1 else ''}", seconds, base)
        print(f"  scalar-mul k={k:<5d} {'Dual':16s} {_fmt(seconds):>10s}", file=sys.stderr)


# ----------------------------------------------------------------------------- targets
def _t(records, task, n, contestant):
    for r in records:
        if r["task"] == task and r["n"] == n and r["contestant"] == contestant:
            return r["seconds"]
    return None


def targets(records) -> list[tuple[str, str, str]]:
    """(target, measured figure, verdict) for each of issue 6's targets that this run can judge."""
    rows = []

    def add(name, figure, met):
        rows.append((name, figure, "n/a" if met is None else ("met" if met else "NOT met")))

    pairs = sorted({(r["task"], r["n"]) for r in records if r["task"] in {c.name for c in TASKS}},
                   key=lambda p: ([c.name for c in TASKS].index(p[0]), p[1]))
    for peer in ("jax.jacfwd", "torch jacfwd"):
        for task, n in pairs:
            d, p = _t(records, task, n, "dualad"), _t(records, task, n, peer)
            if d is None or p is None:
                continue
            need = 10.0 if n <= 100 else 1.0
            add(f"dualad faster than {peer} ({'>= 10x' if n <= 100 else '> 1x'}): {task} n={n}",
                f"{p / d:.1f}x faster", p / d >= need if need > 1 else p / d > 1)
    for task, n, limit in (("chain", 100, 3.0), ("dense", 500, 1.5), ("lorenz96", 40, 3.0)) + tuple(
            (t, 10, 4.0) for t, nn in pairs if nn == 10):
        d, j = _t(records, task, n, "dualad"), _t(records, task, n, "jax.jit(jacfwd)")
        if d is not None and j is not None:
            add(f"within {limit:g}x of jax.jit(jacfwd): {task} n={n}", f"{d / j:.2f}x its time", d / j <= limit)
    for peer in ("ad", "torch jacfwd"):
        d, p = _t(records, "lorenz96", 40, "dualad"), _t(records, "lorenz96", 40, peer)
        if d is not None and p is not None:
            add(f">= 20x faster than {peer}: lorenz96 n=40", f"{p / d:.1f}x faster", p / d >= 20)
    mlp = [r for r in records if r["task"] == "mlp"]
    if mlp:
        n = mlp[0]["n"]
        g, f, a = (_t(records, "mlp", n, c) for c in ("dualad tape.grad", "numpy f", "autograd"))
        if g is not None and f is not None:
            add("MLP tape.grad <= 5x one loss evaluation", f"{g / f:.2f}x", g / f <= 5)
        if g is not None and a is not None:
            add("MLP tape.grad faster than autograd", f"{a / g:.2f}x faster", a / g > 1)
    rows += prepared_targets(records, pairs)
    base = _t(records, "scalar-mul", 1, "numpy float64")
    for k, limit in ((1, 5.0), (10, 15.0)):
        d = _t(records, "scalar-mul", k, f"Dual, {k} direction{'s' if k > 1 else ''}")
        if base and d:
            add(f"scalar Dual multiply, {k} direction(s) <= {limit:g}x numpy float64", f"{d / base:.1f}x",
                d / base <= limit)
    return rows


def prepared_targets(records, pairs) -> list[tuple[str, str, str]]:
    """Issue 17's targets for dualad.prepare (ratios within this run)."""
    rows = []

    def add(name, figure, met):
        rows.append((name, figure, "met" if met else "NOT met"))

    def get(task, n, who):
        return _t(records, task, n, who)
    p, j = get("lorenz96", 40, "dualad prepare"), get("lorenz96", 40, "jax.jit(jacfwd)")
    if p and j:
        add("prepared Jacobian >= 2x faster than jax.jit(jacfwd): lorenz96 n=40", f"{j / p:.2f}x faster", j / p >= 2)
    for task, n in (("chain", 10), ("chain", 100), ("dense", 10), ("dense", 100), ("robertson", 3), ("hires", 8)):
        p, j = get(task, n, "dualad prepare"), get(task, n, "jax.jit(jacfwd)")
        if p and j:
            add(f"prepared Jacobian at least as fast as jax.jit(jacfwd): {task} n={n}", f"{p / j:.2f}x its time",
                p <= j)
    for task, n in (("robertson", 3), ("hires", 8)):
        p, fd = get(task, n, "dualad prepare"), get(task, n, "scipy FD")
        if p and fd:
            add(f"prepared Jacobian faster than scipy FD: {task} n={n}", f"{fd / p:.2f}x faster", p < fd)
    for task, n in pairs:
        p, r = get(task, n, "dualad prepare"), get(task, n, "tape re-record")
        if p and r:
            figure = f"{r / p:.1f}x"
            pb, rb = (next((x.get("batches") for x in records if (x["task"], x["n"], x["contestant"]) == (task, n, c)),
                           None) for c in ("dualad prepare", "tape re-record"))
            if pb and rb and len(pb) == len(rb):  # interleaved: the spread of the round-by-round ratios
                ratios = sorted(b / a for a, b in zip(pb, rb))
                figure += f" (medians of {len(pb)} interleaved batches; per round {ratios[0]:.1f}-{ratios[-1]:.1f}x)"
            add(f"replay >= 10x faster than re-recording: {task} n={n}", figure, r / p >= 10)
    mlp = [r for r in records if r["task"] == "mlp"]
    if mlp:
        n = mlp[0]["n"]
        g, f = get("mlp", n, "dualad prepare value_and_grad"), get("mlp", n, "numpy f")
        if g and f:
            add("MLP prepared value_and_grad <= 2.5x one loss evaluation", f"{g / f:.2f}x", g / f <= 2.5)
    m, d = get("guard", 40, "prepare, new branch (guard fails, plain answer)"), get("guard", 40, "dualad")
    if m and d:
        add("a guard mismatch costs <= one plain dualad.jacobian (lorenz96 n=40, new branch)", f"{m / d:.2f}x",
            m <= d)
    return rows


# ----------------------------------------------------------------------------- report
def machine() -> dict:
    info = {"python": platform.python_version(), "numpy": np.__version__, "dualad": dualad.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    for name, mod in (("jax", jax), ("torch", torch), ("autograd", autograd), ("ad", ad), ("scipy", scipy)):
        if mod is not None:
            info[name] = getattr(mod, "__version__", None) or _dist_version(name)
    return info


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


def markdown(records, mach) -> str:
    lines = [f"Machine: {mach['cpu']}, {mach['cpus']} CPUs; Python {mach['python']}, numpy {mach['numpy']}"
             + "".join(f", {k} {mach[k]}" for k in ("jax", "torch", "autograd", "ad", "scipy") if k in mach)
             + f"; load average {mach['load_average_1min_at_end']} at the end (other work on the machine "
             "skews timings, BLAS-heavy ones most).", "", "Time per Jacobian (median), and in brackets its ratio to one plain numpy "
             "evaluation of f.", ""]
    cols = ["numpy f"] + [c for c, _ in CONTESTANTS]
    lines.append("| task | n | " + " | ".join(cols) + " |")
    lines.append("|---|---:|" + "---:|" * len(cols))
    seen = []
    for r in records:
        key = (r["task"], r["n"])
        if r["task"] in {c.name for c in TASKS} and key not in seen:
            seen.append(key)
    for task, n in seen:
        cells = []
        for c in cols:
            r = next((r for r in records if (r["task"], r["n"], r["contestant"]) == (task, n, c)), None)
            cells.append(_cell(r, c == "numpy f"))
        lines.append(f"| {task} | {n} | " + " | ".join(cells) + " |")
    mlp = [r for r in records if r["task"] == "mlp"]
    if mlp:
        lines += ["", f"Gradient of a two-layer MLP loss ({mlp[0]['n']} parameters, batch {MLP_BATCH}):", "",
                  "| contestant | time | ratio to one loss evaluation |", "|---|---:|---:|"]
        for r in mlp:
            lines.append(f"| {r['contestant']} | {_fmt(r['seconds']) if r['seconds'] else r['note']} | "
                         + ("" if r["ratio_to_f"] is None else f"{r['ratio_to_f']:.2f}") + " |")
    guard = [r for r in records if r["task"] == "guard"]
    if guard:
        lines += ["", "Guard mismatches (prepared Lorenz-96 n=40 with a branch on x[0]):", "",
                  "| contestant | time | ratio to one plain dualad.jacobian |", "|---|---:|---:|"]
        for r in guard:
            lines.append(f"| {r['contestant']} | {_fmt(r['seconds'])} | {r['ratio_to_f']:.2f} |")
    sc = [r for r in records if r["task"] == "scalar-mul"]
    if sc:
        lines += ["", "One scalar multiply:", "", "| operands | time | ratio to numpy float64 |", "|---|---:|---:|"]
        for r in sc:
            lines.append(f"| {r['contestant']} | {_fmt(r['seconds'])} | {r['ratio_to_f']:.1f} |")
    rows = targets(records)
    if rows:
        lines += ["", "Targets (issues 6 and 17):", "", "| target | measured | |", "|---|---:|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    skipped: dict = {}
    for r in records:
        if r["note"] and r["seconds"] is None:
            skipped.setdefault((r["contestant"], r["note"]), []).append(f"{r['task']} n={r['n']}")
    notes = NOTES + [f"{who}: {why} ({', '.join(where)})" for (who, why), where in skipped.items()]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def _cell(r, is_base):
    if r is None:
        return "-"
    if r["seconds"] is None:
        return "skip"
    text = _fmt(r["seconds"])
    if not is_base and r["ratio_to_f"] is not None:
        text += f" ({r['ratio_to_f']:.3g})"
    if r["note"] == "MISMATCH":
        text += " **MISMATCH**"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a subset with fewer repeats (under a minute)")
    parser.add_argument("--json", metavar="FILE", help="write the measurements and machine description as JSON")
    parser.add_argument("--tasks", help="comma-separated subset of: " + ", ".join(
        [c.name for c in TASKS] + ["mlp", "scalar", "guard"]))
    parser.add_argument("--contestants", help="comma-separated subset of the Jacobian contestants (dualad always runs)")
    args = parser.parse_args(argv)
    wanted = set(args.tasks.split(",")) if args.tasks else None
    only = set(args.contestants.split(",")) if args.contestants else None
    run = Run(Budget(args.quick))
    start = time.perf_counter()
    for cls in TASKS:
        if wanted and cls.name not in wanted:
            continue
        for n in (cls.quick_sizes if args.quick else cls.sizes):
            run.jacobian_task(cls, n, only)
    if not wanted or "mlp" in wanted:
        mlp_task(run, args.quick)
    if not wanted or "scalar" in wanted:
        scalar_task(run)
    if not wanted or "guard" in wanted:
        guard_task(run)
    mach = machine()
    print(markdown(run.records, mach))
    print(f"\n(total {time.perf_counter() - start:.0f} s{', --quick' if args.quick else ''})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": mach, "quick": args.quick, "records": run.records,
                       "targets": [dict(zip(("target", "measured", "verdict"), t)) for t in targets(run.records)],
                       "notes": NOTES, "mismatches": run.mismatches}, fh, indent=1)
    if run.mismatches:
        print("\n".join(["", "JACOBIAN MISMATCHES:"] + run.mismatches), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
