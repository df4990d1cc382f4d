"""The lecture's two-layer MLP on Iris, trained with ``dualad.grad`` on a dict of parameters.

Model, in the lecture notes' notation: D = 2 features + 1 bias input
(x_0 = 1), M = 16 logistic hidden units, C = 3 softmax outputs,

    q_m = sum_d V[m, d] x_d        V: M x D
    z_m = sigma(q_m)
    u_c = sum_m W[c, m] z_m        W: C x M
    y_hat = softmax(u)
    J(W, V) = (1/N) sum_n L(y_n, y_hat_n),   L(y, y_hat) = -sum_c y_c log y_hat_c

The parameters are a dict ``{"V": V, "W": W}``; ``dualad.grad(loss)`` is a
function of the same arguments as ``loss`` that returns a dict of the same
shape (one reverse sweep), so nothing is packed or unpacked by hand. Before
training, the gradient is checked three ways: reverse mode
(``dualad.grad``) against forward mode (``dualad.gradient``), against the
lecture's hand-derived backpropagation, and against central differences on a
few entries. Then mini-batch gradient descent trains to >= 90 % training
accuracy.

Run:  python examples/mlp_iris.py
"""
import csv
import time
from pathlib import Path

import numpy as np

import dualad
from dualad import tape

DATA = Path(__file__).resolve().parent / "data" / "iris.csv"
FEATURES = ("petal_length", "petal_width")  # the two that separate the classes best
D, M, C = len(FEATURES) + 1, 16, 3


def load_iris():
    """(x: N x D with the bias input x_0 = 1, one-hot y: N x C, labels, class names)."""
    with open(DATA, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["species"] for r in rows})
    feats = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    feats = (feats - feats.mean(axis=0)) / feats.std(axis=0)  # standardise, so one step size fits both
    x = np.hstack([np.ones((len(rows), 1)), feats])
    labels = np.array([names.index(r["species"]) for r in rows])
    return x, np.eye(C)[labels], labels, names


def sigma(q):
    """The logistic sigmoid."""
    return 1.0 / (1.0 + np.exp(-q))


def loss(params, x, y):
    """J / N: the mean softmax cross-entropy of the MLP, plain numpy (rows of x and y are instances n)."""
    V, W = params["V"], params["W"]
    z = sigma(x @ V.T)                 # z[n, m] = sigma(sum_d V[m, d] x[n, d])
    u = z @ W.T                        # u[n, c] = sum_m W[c, m] z[n, m]
    u = u - tape.stop_gradient(np.max(u, axis=1, keepdims=True))  # shift for a stable exp; a constant
    log_y_hat = u - np.log(np.sum(np.exp(u), axis=1, keepdims=True))
    return -np.sum(y * log_y_hat) / x.shape[0]


def predict(params, x):
    return np.argmax(sigma(x @ params["V"].T) @ params["W"].T, axis=1)


def lecture_gradient(params, x, y):
    """The lecture's backpropagation: dL/dW[c,m] = (y_hat_c - y_c) z_m and
    dL/dV[m,d] = sum_c (y_hat_c - y_c) W[c,m] z_m (1 - z_m) x_d, averaged over n."""
    V, W = params["V"], params["W"]
    z = sigma(x @ V.T)
    u = z @ W.T
    y_hat = np.exp(u - u.max(axis=1, keepdims=True))
    y_hat /= y_hat.sum(axis=1, keepdims=True)
    error = y_hat - y                                   # dL/du, one row per instance
    dW = error.T @ z / x.shape[0]
    dV = ((error @ W) * z * (1 - z)).T @ x / x.shape[0]
    return {"V": dV, "W": dW}


def main(steps=600, batch=30, lr=1.0, seed=0):
    x, y, labels, names = load_iris()
    counts = np.bincount(labels)
    print(f"Iris: {x.shape[0]} flowers, {dict(zip(names, counts.tolist()))}, bias + features {FEATURES}")
    assert x.shape == (150, D) and counts.tolist() == [50, 50, 50]

    rng = np.random.default_rng(seed)
    # small random weights break the hidden units' symmetry
    params = {"V": rng.normal(0.0, 0.5, (M, D)), "W": rng.normal(0.0, 0.5, (C, M))}
    size = sum(p.size for p in params.values())
    print(f"MLP: D={D} inputs, M={M} logistic hidden units, C={C} softmax outputs, {size} parameters")

    grad = dualad.grad(loss)                    # reverse mode: a function of (params, x, y)
    value_and_grad = dualad.value_and_grad(loss)

    # ---- step 0: check the gradient before trusting it
    g_reverse = grad(params, x, y)
    g_forward = dualad.gradient(loss, params, x, y)     # forward mode, the value form
    g_lecture = lecture_gradient(params, x, y)
    for name in ("V", "W"):
        assert g_reverse[name].shape == params[name].shape
        fwd = np.max(np.abs(g_reverse[name] - g_forward[name]))
        hand = np.max(np.abs(g_reverse[name] - g_lecture[name]))
        print(f"dJ/d{name} {g_reverse[name].shape}: max |reverse - forward| = {fwd:.1e}, "
              f"max |reverse - lecture's backprop| = {hand:.1e}")
        assert fwd < 1e-12 and hand < 1e-12
    h = 1e-6
    for name, index in (("V", (3, 1)), ("W", (2, 7))):  # a few entries by central differences
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[name][index] += h
        minus[name][index] -= h
        fd = (loss(plus, x, y) - loss(minus, x, y)) / (2 * h)
        print(f"dJ/d{name}{list(index)}: reverse {g_reverse[name][index]:+.10f}, central difference {fd:+.10f}")
        assert abs(fd - g_reverse[name][index]) < 1e-7

    # ---- mini-batch gradient descent on the dict of parameters
    print(f"\nmini-batch gradient descent: batch {batch}, learning rate {lr}, {steps} steps")
    curve = [(0, float(loss(params, x, y)), float(np.mean(predict(params, x) == labels)))]
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        order = rng.permutation(x.shape[0])
        for start in range(0, x.shape[0], batch):
            idx = order[start:start + batch]
            value, g = value_and_grad(params, x[idx], y[idx])
            params = {name: params[name] - lr * g[name] for name in params}
            step += 1
            if step % 50 == 0:
                curve.append((step, float(loss(params, x, y)), float(np.mean(predict(params, x) == labels))))
            if step == steps:
                break
    elapsed = time.perf_counter() - t0

    print("\nloss curve (full training set):")
    top = max(c[1] for c in curve)
    for s, L, acc in curve:
        bar = "#" * max(1, int(40 * L / top))
        print(f"  step {s:4d}  loss {L:.4f}  accuracy {acc:6.1%}  {bar}")
    accuracy = np.mean(predict(params, x) == labels)
    print(f"\ntraining accuracy after {steps} steps: {accuracy:.1%} ({elapsed:.1f} s, "
          f"{elapsed / steps * 1e3:.2f} ms per gradient)")
    assert curve[-1][1] < 0.5 * curve[0][1]
    assert accuracy >= 0.90


if __name__ == "__main__":
    main()
