"""ADBench (Srajer, Kukelova, Fitzgibbon 2018): derivative time / objective time, dualad beside its peers.

    /work/notes/prio env OPENBLAS_NUM_THREADS=1 python benchmarks/adbench/run.py   # a few minutes
    python benchmarks/adbench/run.py --objectives gmm,lstm --quick                 # a subset
    python benchmarks/adbench/run.py --json out.json                               # also every measurement
    python benchmarks/adbench/run.py --objectives gmm --gmm-sizes 10,25,1000       # chosen GMM sizes
    python benchmarks/adbench/run.py --objectives gmm --only "prepare,by hand"      # some contestants

The four objectives are the plain-numpy modules beside this script (gmm, ba, lstm, hand); JAX and
autograd run the same source with ``np`` bound to their numpy (``namespaces.with_numpy``), except the
LSTM, which JAX also gets as ``lax.scan`` (jit would otherwise compile 1023 unrolled steps).
PyTorch runs the same formulas written natively in torch (``torch_objectives``, float64, one thread):
``torch.autograd.grad`` for GMM and LSTM, ``torch.func.jacfwd`` for Hand, ``torch.func.vmap(jacfwd)``
over observation blocks for BA; skipped with a note when torch is not installed.

Contestants of one problem run interleaved: every round times each of them once (a ``timeit``
batch, gc off as timeit does; ``--gc`` keeps it on), so load changes hit all alike. Each GMM size
runs in a fresh Python process of its own (``--same-process``: all in this one): a size's arrays
(up to 100 MB each) leave the C heap in a state that decides how many pages the next size's
arrays fault in afresh, so a size's ratio would otherwise depend on which sizes ran before it
(d = 10 after d = 2, K = 200: numpy f 3.1 ms instead of 7.2 ms, the prepared gradient 8.0 instead
of 10.2 ms: 2.6x instead of 1.4x f). In a process of its own every size starts from the same
state, and f and its derivatives share it. The table gives
the median time per call over the rounds and its ratio to one plain numpy evaluation of the objective
in the same run (the paper's "time(derivative) / time(objective)"); JAX's and PyTorch's derivatives also
get their ratio to their own objective's time ("÷ own f"). Each contestant's derivative is
checked against dualad's forward mode or ADBench's layout before it is timed; a mismatch exits 1.
"""
from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from typing import Callable

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
sys.path.insert(0, os.path.abspath(ROOT))
import dualad  # noqa: E402
from benchmarks.adbench import ba, dataio, gmm, hand, lstm  # noqa: E402
from benchmarks.adbench.dataio import data_path  # noqa: E402
from benchmarks.adbench.namespaces import with_numpy  # noqa: E402

NOTES: list[str] = []
FAILURES: list[str] = []
ONLY: list[str] = []   # --only: contestants whose name contains one of these (plus the numpy objective)


def optional(name: str):
    try:
        return __import__(name)
    except Exception as err:  # ImportError or a broken install
        NOTES.append(f"{name} is not available ({type(err).__name__}); its contestants are skipped")
        return None


jax = optional("jax")
if jax is not None:
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
autograd = optional("autograd")
if autograd is not None:
    import autograd.numpy as anp
torch = optional("torch")
if torch is not None:
    torch.set_num_threads(1)   # its OpenMP pool otherwise keeps spinning and slows the next contestant
    from benchmarks.adbench import torch_objectives  # noqa: E402
HAS_PREPARE = hasattr(dualad, "prepare")
if not HAS_PREPARE:
    NOTES.append("dualad.prepare is not in this checkout; the prepared contestants are skipped")


# ----------------------------------------------------------------------------- timing
def batch_size(fn: Callable, target: float) -> int:
    """Calls per timed batch so that one batch takes about ``target`` seconds."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, int(target / max(once, 1e-7)))


def interleaved(contestants: dict[str, Callable], rounds: int, target: float, keep_gc: bool) -> dict[str, list[float]]:
    """Time every contestant once per round, round after round; seconds per call for each round."""
    if ONLY:
        contestants = {name: fn for name, fn in contestants.items()
                       if name == "numpy f" or any(word in name for word in ONLY)}
    numbers = {name: batch_size(fn, target) for name, fn in contestants.items()}
    times: dict[str, list[float]] = {name: [] for name in contestants}
    setup = "gc.enable()" if keep_gc else "pass"
    for _ in range(rounds):
        for name, fn in contestants.items():
            timer = timeit.Timer(fn, setup=setup, globals={"gc": gc})
            times[name].append(timer.timeit(numbers[name]) / numbers[name])
    return times


def check(name: str, got, expected, rtol: float = 1e-8, atol: float = 1e-10) -> None:
    if hasattr(expected, "tocsr"):   # sparse: the largest entry error against the largest entry
        difference = (got - expected).tocsr() if got.shape == expected.shape else None
        error = abs(difference).max() if difference is not None and difference.nnz else 0.0
        same = difference is not None and error <= atol + rtol * abs(expected).max()
    else:
        got, expected = np.asarray(got), np.asarray(expected)
        same = got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol)
        error = np.max(np.abs(got - expected)) if got.shape == expected.shape else f"shape {got.shape}"
    if not same:
        FAILURES.append(f"{name}: derivative differs from the reference (max error {error})")
        print(f"!!! MISMATCH {name}: {error}", flush=True)


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


FRAMEWORKS_WITH_OWN_OBJECTIVE = ("jax.jit", "torch")


def own_objective(name: str, times: dict) -> str | None:
    """The objective contestant of ``name``'s framework ("jax.jit f", "jax.jit f (scan)", "torch f")."""
    for prefix in FRAMEWORKS_WITH_OWN_OBJECTIVE:
        if name.startswith(prefix):
            return next((other for other in times if other == prefix + " f" or other.startswith(prefix + " f (")), None)
    return None


class Table:
    def __init__(self, title: str):
        self.title, self.rows, self.records = title, [], []

    def add(self, problem: str, times: dict[str, list[float]], objective: str = "numpy f") -> None:
        """One row per contestant; a derivative whose framework has its own objective contestant
        (``own_objective``) also gets its ratio to that objective's median time."""
        base = statistics.median(times[objective])
        for name, values in times.items():
            median = statistics.median(values)
            ratio = median / base
            spread = f"{min(values) / base:.2f}-{max(values) / base:.2f}"
            own = own_objective(name, times)
            own_ratio = median / statistics.median(times[own]) if own is not None and own != name else None
            self.rows.append(f"| {problem} | {name} | {fmt(median)} | {ratio:.2f} | {spread} | "
                             f"{'' if own_ratio is None else f'{own_ratio:.2f}'} |")
            self.records.append({"problem": problem, "contestant": name, "median_s": median,
                                 "all_s": values, "ratio_to_numpy_f": ratio, "ratio_to_own_f": own_ratio})
        print("\n".join(self.rows[-len(times):]), flush=True)

    def markdown(self) -> str:
        head = (f"\n### {self.title}\n\n| problem | contestant | time per call | ÷ numpy f (median) "
                f"| ÷ numpy f (range over rounds) | ÷ own f (median) |\n|---|---|---:|---:|---:|---:|")
        return "\n".join([head] + self.rows)


# ----------------------------------------------------------------------------- PyTorch
def torch_gradient(problem: str, objective: Callable, params: np.ndarray, reference) -> dict[str, Callable]:
    """PyTorch's contestants for a gradient: its own objective and ``torch.autograd.grad`` of it,
    the gradient checked against ``reference`` first. The leaf tensor is made once (outside the
    timing, as JAX gets its numpy array)."""
    plain = torch.from_numpy(params.copy())
    leaf = torch.from_numpy(params.copy()).requires_grad_()
    gradient = lambda: torch.autograd.grad(objective(leaf), leaf)[0]  # noqa: E731
    check(f"torch.autograd.grad ({problem})", gradient().numpy(), reference)

    def value():
        with torch.no_grad():
            return objective(plain)

    return {"torch f": value, "torch.autograd.grad": gradient}


# ----------------------------------------------------------------------------- GMM
def run_gmm(sizes, rounds, target, keep_gc, table: Table) -> None:
    for d, k, n in sizes:
        inputs = dataio.generate_gmm(d, k, n, seed=1)
        params = gmm.pack(inputs.alphas, inputs.means, inputs.icf)
        args = (inputs.x, k, d, inputs.wishart_gamma, inputs.wishart_m)
        f = lambda p: gmm.objective_of_params(p, *args)  # noqa: E731
        reference = dualad.tape.grad(f, params)
        by_hand = lambda: gmm.gmm_gradient_by_hand(inputs.alphas, inputs.means, inputs.icf, *args[:1], *args[3:])  # noqa: E731
        check("numpy gradient by hand", by_hand(), reference)
        contestants = {"numpy f": lambda: f(params), "numpy gradient by hand (floor)": by_hand,
                       "dualad tape.grad": lambda: dualad.tape.grad(f, params)}
        if HAS_PREPARE:
            prepared = dualad.prepare(f, params)
            check("dualad prepare", prepared.gradient(params), reference)
            contestants["dualad prepare .gradient"] = lambda: prepared.gradient(params)
        if jax is not None:
            jgmm = with_numpy(gmm, jnp)
            jf = jax.jit(lambda p: jgmm.objective_of_params(p, *args))
            jg = jax.jit(jax.grad(lambda p: jgmm.objective_of_params(p, *args)))
            check("jax.jit(grad)", jg(params), reference)
            contestants["jax.jit f"] = lambda: jf(params).block_until_ready()
            contestants["jax.jit(grad)"] = lambda: jg(params).block_until_ready()
        if autograd is not None:
            agmm = with_numpy(gmm, anp)
            ag = autograd.grad(lambda p: agmm.objective_of_params(p, *args))
            check("autograd.grad", ag(params), reference)
            contestants["autograd.grad"] = lambda: ag(params)
        if torch is not None:
            x_tensor = torch.from_numpy(inputs.x)
            tf = lambda p: torch_objectives.gmm_objective_of_params(p, x_tensor, *args[1:])  # noqa: E731
            contestants.update(torch_gradient("GMM", tf, params, reference))
        table.add(f"d={d} K={k} n={n}", interleaved(contestants, rounds, target, keep_gc))


def run_gmm_in_fresh_processes(sizes, rounds, target, keep_gc, table: Table) -> None:
    """:func:`run_gmm`, each size in a new Python process of its own (see the module's docstring):
    the child prints its rows as they come and hands back its records, failures and notes."""
    for d, k, n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "size.json")
            command = [sys.executable, os.path.abspath(__file__), "--child-gmm", f"{d},{k},{n}", "--child-out", out,
                       "--rounds", str(rounds), "--batch", str(target)] + (["--gc"] if keep_gc else []) \
                + (["--only", ",".join(ONLY)] if ONLY else [])
            done = subprocess.run(command)
            if done.returncode not in (0, 1) or not os.path.exists(out):
                FAILURES.append(f"GMM d={d} K={k} n={n}: the child process failed (exit {done.returncode})")
                continue
            with open(out) as handle:
                result = json.load(handle)
        table.rows += result["rows"]
        table.records += result["records"]
        FAILURES.extend(result["failures"])
        NOTES.extend(note for note in result["notes"] if note not in NOTES)


# ----------------------------------------------------------------------------- BA
def detection_seconds(path: str, queue) -> None:
    """In a child process: the time of one jacobian_sparsity call (so that a slow one can be stopped)."""
    inputs = dataio.read_ba(path)
    n, m = len(inputs.cams), len(inputs.X)
    params = ba.pack(inputs.cams, inputs.X, inputs.w)
    f = lambda p: ba.residuals_of_params(p, n, m, inputs.obs, inputs.feats)  # noqa: E731
    f(params)
    start = time.perf_counter()
    pattern = dualad.jacobian_sparsity(f, params)
    queue.put((time.perf_counter() - start, int(pattern.nnz)))


def run_ba(files, rounds, target, keep_gc, detect_timeout, table: Table, detection: list) -> None:
    for name in files:
        inputs = dataio.read_ba(data_path("ba", name))
        n, m, p = len(inputs.cams), len(inputs.X), len(inputs.w)
        params = ba.pack(inputs.cams, inputs.X, inputs.w)
        f = lambda q: ba.residuals_of_params(q, n, m, inputs.obs, inputs.feats)  # noqa: E731
        pattern = ba.jacobian_pattern(n, m, inputs.obs)
        sparse = dualad.SparseJacobian(f, params, sparsity=pattern)
        reference = sparse(params)
        contestants = {"numpy f": lambda: f(params),
                       f"dualad SparseJacobian, pattern given ({sparse.ncolors} colours)": lambda: sparse(params)}
        # the replayed forward program, its pattern detected once when prepared (outside the timing)
        prepared = dualad.prepare(f, params, sparse=True)
        check("dualad prepare(sparse=True)", prepared.jacobian(params), reference)
        contestants["dualad prepare(sparse=True), pattern detected"] = lambda: prepared.jacobian(params)
        if jax is not None:
            jba = with_numpy(ba, jnp)
            block = jax.vmap(jax.jacfwd(jba.reprojection_error, argnums=(0, 1, 2)))
            cam_index, point_index = inputs.obs[:, 0], inputs.obs[:, 1]

            @jax.jit
            def jax_blocks(q):
                cams, X, w = jba.unpack(q, n, m)
                d_cam, d_point, d_weight = block(cams[cam_index], X[point_index], w, inputs.feats)
                return d_cam, d_point, d_weight, -2.0 * w

            check("jax vmap(jacfwd) blocks", assemble_ba(jax_blocks(params), n, m, inputs.obs), reference)
            jf = jax.jit(lambda q: jba.residuals_of_params(q, n, m, inputs.obs, inputs.feats))
            contestants["jax.jit f"] = lambda: jf(params).block_until_ready()
            contestants["jax.jit(vmap(jacfwd)) blocks"] = lambda: jax.block_until_ready(jax_blocks(params))
        if torch is not None:
            obs_tensor, feats_tensor = torch_objectives.as_tensors(inputs.obs, inputs.feats)
            params_tensor = torch.from_numpy(params.copy())
            blocks = lambda: torch_objectives.ba_jacobian_blocks(params_tensor, n, m, obs_tensor, feats_tensor)  # noqa: E731
            check("torch vmap(jacfwd) blocks", assemble_ba([b.numpy() for b in blocks()], n, m, inputs.obs), reference)

            def torch_value():
                with torch.no_grad():
                    return torch_objectives.ba_residuals_of_params(params_tensor, n, m, obs_tensor, feats_tensor)

            contestants["torch f"] = torch_value
            contestants["torch vmap(jacfwd) blocks"] = blocks
        table.add(f"{name.split('_')[0]} (n={n} m={m} p={p})", interleaved(contestants, rounds, target, keep_gc))
        f_time = statistics.median(timeit.repeat(lambda: f(params), number=1, repeat=5))
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=detection_seconds, args=(data_path("ba", name), queue))
        child.start()
        child.join(detect_timeout)
        if child.is_alive():
            child.terminate()
            child.join()
            line = f"{name}: jacobian_sparsity did not finish in {detect_timeout:.0f} s (> {detect_timeout / f_time:.0f}x f)"
            detection.append({"problem": name, "seconds": None, "timeout_s": detect_timeout, "f_s": f_time})
        else:
            seconds, nnz = queue.get()
            line = f"{name}: jacobian_sparsity {fmt(seconds)} = {seconds / f_time:.1f}x f ({fmt(f_time)}), nnz {nnz}"
            detection.append({"problem": name, "seconds": seconds, "f_s": f_time, "ratio": seconds / f_time})
        print(line, flush=True)
        NOTES.append("BA detection, " + line)


def assemble_ba(blocks, n: int, m: int, obs):
    """JAX's dense blocks placed into the (3p, 11n + 3m + p) Jacobian (outside the timing)."""
    import scipy.sparse
    d_cam, d_point, d_weight, d_weight_error = (np.asarray(b) for b in blocks)
    p = len(obs)
    rows, cols, vals = [], [], []
    reproj_rows = 2 * np.arange(p)[:, None] + np.arange(2)                          # (p, 2)
    for block, first_col, width in ((d_cam, 11 * obs[:, 0], 11), (d_point, 11 * n + 3 * obs[:, 1], 3)):
        r = np.broadcast_to(reproj_rows[:, :, None], block.shape)
        c = np.broadcast_to((first_col[:, None] + np.arange(width))[:, None, :], block.shape)
        rows.append(r.ravel()), cols.append(c.ravel()), vals.append(block.ravel())
    weight_col = 11 * n + 3 * m + np.arange(p)
    rows += [reproj_rows.ravel(), 2 * p + np.arange(p)]
    cols += [np.repeat(weight_col, 2), weight_col]
    vals += [d_weight.ravel(), d_weight_error]
    return scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                   shape=(3 * p, 11 * n + 3 * m + p))


# ----------------------------------------------------------------------------- LSTM
def jax_lstm_scan(main_params, extra_params, state, sequence):
    """The same LSTM loss with jax.lax.scan over the characters (JAX's idiom for a recurrence)."""
    layers = state.shape[0] // 2

    def step(carry, pair):
        current, following = pair
        x = current * extra_params[0]
        new = []
        for layer in range(layers):
            hidden, cell = jlstm.lstm_cell(main_params[2 * layer], main_params[2 * layer + 1],
                                           carry[2 * layer], carry[2 * layer + 1], x)
            new += [hidden, cell]
            x = hidden
        ypred = x * extra_params[1] + extra_params[2]
        ynorm = ypred - jnp.log(jnp.sum(jnp.exp(ypred)) + 2.0)
        return jnp.stack(new), jnp.sum(following * ynorm)

    _, totals = jax.lax.scan(step, state, (sequence[:-1], sequence[1:]))
    return -jnp.sum(totals) / ((sequence.shape[0] - 1) * sequence.shape[1])


def run_lstm(files, rounds, target, keep_gc, table: Table) -> None:
    global jlstm
    for name in files:
        inputs = dataio.read_lstm(data_path("lstm", name))
        params = lstm.pack(inputs.main_params, inputs.extra_params)
        f = lambda p: lstm.objective_of_params(p, inputs.state, inputs.sequence)  # noqa: E731
        reference = dualad.tape.grad(f, params)
        contestants = {"numpy f": lambda: f(params), "dualad tape.grad": lambda: dualad.tape.grad(f, params)}
        if HAS_PREPARE:
            prepared = dualad.prepare(f, params)
            check("dualad prepare", prepared.gradient(params), reference)
            contestants["dualad prepare .gradient"] = lambda: prepared.gradient(params)
        if jax is not None:
            jlstm = with_numpy(lstm, jnp)
            layers, bits = inputs.state.shape[0] // 2, inputs.state.shape[1]

            def scanned(p):
                main = p[:8 * layers * bits].reshape(2 * layers, 4 * bits)
                return jax_lstm_scan(main, p[8 * layers * bits:].reshape(3, bits), inputs.state, inputs.sequence)

            jf, jg = jax.jit(scanned), jax.jit(jax.grad(scanned))
            check("jax.jit(grad) scan", jg(params), reference)
            contestants["jax.jit f (scan)"] = lambda: jf(params).block_until_ready()
            contestants["jax.jit(grad) (scan)"] = lambda: jg(params).block_until_ready()
        if autograd is not None:
            alstm = with_numpy(lstm, anp)
            ag = autograd.grad(lambda p: alstm.objective_of_params(p, inputs.state, inputs.sequence))
            check("autograd.grad", ag(params), reference)
            contestants["autograd.grad"] = lambda: ag(params)
        if torch is not None:
            state, sequence = torch_objectives.as_tensors(inputs.state, inputs.sequence)
            tf = lambda p: torch_objectives.lstm_objective_of_params(p, state, sequence)  # noqa: E731
            contestants.update(torch_gradient("LSTM", tf, params, reference))
        table.add(name.replace(".txt", "").replace("lstm_", ""), interleaved(contestants, rounds, target, keep_gc))


# ----------------------------------------------------------------------------- Hand
def run_hand(files, rounds, target, keep_gc, table: Table) -> None:
    for name in files:
        inputs = dataio.read_hand(data_path("hand", "model"), data_path("hand", "simple_small", name))
        theta = inputs.theta
        f = lambda t: hand.hand_objective(t, inputs.model, inputs.correspondences, inputs.points)  # noqa: E731
        reference = dualad.jacobian(f, theta)
        contestants = {"numpy f": lambda: f(theta), "dualad.jacobian (forward)": lambda: dualad.jacobian(f, theta)}
        if HAS_PREPARE:
            prepared = dualad.prepare(f, theta)
            check("dualad prepare", prepared.jacobian(theta), reference)
            contestants["dualad prepare .jacobian"] = lambda: prepared.jacobian(theta)
        if jax is not None:
            jhand = with_numpy(hand, jnp)
            jf = jax.jit(lambda t: jhand.hand_objective(t, inputs.model, inputs.correspondences, inputs.points))
            jj = jax.jit(jax.jacfwd(lambda t: jhand.hand_objective(t, inputs.model, inputs.correspondences,
                                                                   inputs.points)))
            check("jax.jit(jacfwd)", jj(theta), reference)
            contestants["jax.jit f"] = lambda: jf(theta).block_until_ready()
            contestants["jax.jit(jacfwd)"] = lambda: jj(theta).block_until_ready()
        if autograd is not None:
            ahand = with_numpy(hand, anp)
            aj = autograd.jacobian(lambda t: ahand.hand_objective(t, inputs.model, inputs.correspondences,
                                                                 inputs.points))
            check("autograd.jacobian", aj(theta), reference)
            contestants["autograd.jacobian"] = lambda: aj(theta)
        if torch is not None:
            data = torch_objectives.HandTensors(inputs)
            theta_tensor = torch.from_numpy(theta.copy())
            tf = lambda t: torch_objectives.hand_objective(t, data)  # noqa: E731
            tj = torch.func.jacfwd(tf)
            check("torch.func.jacfwd (Hand)", tj(theta_tensor).numpy(), reference)

            def torch_value():
                with torch.no_grad():
                    return tf(theta_tensor)

            contestants["torch f"] = torch_value
            contestants["torch.func.jacfwd"] = lambda: tj(theta_tensor)
        table.add(name.replace(".txt", "").split("_", 1)[1], interleaved(contestants, rounds, target, keep_gc))


# ----------------------------------------------------------------------------- main
GMM_SIZES = [(2, 5, 1000), (2, 200, 1000), (10, 25, 1000), (20, 50, 1000), (32, 100, 1000), (64, 200, 1000)]
GMM_QUICK = [(2, 5, 1000), (10, 25, 1000), (32, 100, 1000)]
BA_FILES = ["ba1_n49_m7776_p31843.txt", "ba3_n161_m48126_p182072.txt"]
LSTM_FILES = ["lstm_l2_c1024.txt"]
HAND_FILES = ["hand1_t26_c100.txt", "hand4_t26_c400.txt"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objectives", default="gmm,ba,lstm,hand")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per contestant (default 7, quick 3)")
    parser.add_argument("--batch", type=float, default=0.05, help="seconds per timed batch (default 0.05)")
    parser.add_argument("--gc", action="store_true", help="keep the garbage collector on while timing")
    parser.add_argument("--detect-timeout", type=float, default=60.0, help="seconds allowed for BA detection")
    parser.add_argument("--json", help="write every measurement to this file")
    parser.add_argument("--gmm-sizes", help="GMM sizes d,K,n separated by spaces or ';' (default: ADBench's six)")
    parser.add_argument("--only", help="time only the contestants whose name contains one of these words "
                                       "(comma-separated; numpy f always), e.g. prepare,by hand")
    parser.add_argument("--same-process", action="store_true",
                        help="run every GMM size in this process (default: each in a fresh process)")
    parser.add_argument("--child-gmm", help=argparse.SUPPRESS)   # d,K,n: one size, for run_gmm_in_fresh_processes
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    options = parser.parse_args()
    rounds = options.rounds or (3 if options.quick else 7)
    chosen = options.objectives.split(",")
    if options.only:
        ONLY.extend(word.strip() for word in options.only.split(",") if word.strip())
    if options.child_gmm:
        table = Table("GMM")
        run_gmm([tuple(int(v) for v in options.child_gmm.split(","))], rounds, options.batch, options.gc, table)
        with open(options.child_out, "w") as handle:
            json.dump({"rows": table.rows, "records": table.records, "failures": FAILURES, "notes": NOTES}, handle)
        return 1 if FAILURES else 0
    gmm_sizes = GMM_QUICK if options.quick else GMM_SIZES
    if options.gmm_sizes:
        gmm_sizes = [tuple(int(v) for v in size.split(",")) for size in options.gmm_sizes.replace(";", " ").split()]
    tables, detection = [], []
    print(f"# ADBench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
          f"numpy {np.__version__}, jax {getattr(jax, '__version__', '-')}, torch {getattr(torch, '__version__', '-')}, autograd "
          f"{'yes' if autograd else '-'}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load {os.getloadavg()[0]:.1f}, rounds {rounds}, gc {'on' if options.gc else 'off'}", flush=True)
    if "gmm" in chosen:
        tables.append(Table("GMM: gradient of the objective (all alphas, means, icf)"))
        run = run_gmm if options.same_process else run_gmm_in_fresh_processes
        run(gmm_sizes, rounds, options.batch, options.gc, tables[-1])
    if "ba" in chosen:
        tables.append(Table("BA: sparse Jacobian of the residuals"))
        run_ba(BA_FILES[:1] if options.quick else BA_FILES, rounds, options.batch, options.gc,
               options.detect_timeout, tables[-1], detection)
    if "lstm" in chosen:
        tables.append(Table("LSTM: gradient of the loss"))
        run_lstm(LSTM_FILES, rounds, options.batch, options.gc, tables[-1])
    if "hand" in chosen:
        tables.append(Table("Hand (simple): Jacobian of the residuals"))
        run_hand(HAND_FILES[:1] if options.quick else HAND_FILES, rounds, options.batch, options.gc, tables[-1])
    for table in tables:
        print(table.markdown())
    for note in NOTES:
        print(f"- {note}")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump({"tables": {t.title: t.records for t in tables}, "ba_detection": detection, "notes": NOTES,
                       "failures": FAILURES, "load": os.getloadavg()}, handle, indent=1)
    for failure in FAILURES:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
