"""The lecture's two-layer MLP on Iris, trained with gradients from dualad's reverse-mode tape.

Model (as in the lecture notes): D = 2 features + 1 bias input, M = 16 logistic
hidden units, C = 3 softmax outputs, mean cross-entropy loss,

    z = sigmoid(x V)          V: D x M
    y_hat = softmax(z W)      W: M x C
    L = -(1/N) sum_n y_n . log y_hat_n

The loss is plain numpy; ``dualad.tape.value_and_grad`` gives its gradient in
one backward sweep. Before training, the tape gradient is checked three ways:
``dualad.check_grad`` (forward mode vs reverse mode vs central finite
differences) and the lecture's hand-derived backpropagation formulas.
Then mini-batch gradient descent trains to >= 90 % training accuracy.

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
    """(x: N x D with a bias column, one-hot y: N x C, labels, class names)."""
    with open(DATA, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = sorted({r["species"] for r in rows})
    feats = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    feats = (feats - feats.mean(axis=0)) / feats.std(axis=0)  # standardise, so one step size fits both
    x = np.hstack([feats, np.ones((len(rows), 1))])
    labels = np.array([names.index(r["species"]) for r in rows])
    return x, np.eye(C)[labels], labels, names


def unpack(theta):
    """The parameter vector as the lecture's V (D x M) and W (M x C)."""
    return theta[:D * M].reshape(D, M), theta[D * M:].reshape(M, C)


def logistic(a):
    return 1.0 / (1.0 + np.exp(-a))


def loss(theta, x, y):
    """Mean softmax cross-entropy of the MLP; plain numpy, differentiable by both modes."""
    V, W = unpack(theta)
    z = logistic(x @ V)
    u = z @ W
    u = u - tape.stop_gradient(np.max(u, axis=1, keepdims=True))  # shift for a stable exp; a constant
    log_y_hat = u - np.log(np.sum(np.exp(u), axis=1, keepdims=True))
    return -np.sum(y * log_y_hat) / x.shape[0]


def predict(theta, x):
    V, W = unpack(theta)
    return np.argmax(logistic(x @ V) @ W, axis=1)


def lecture_gradient(theta, x, y):
    """The lecture's hand-derived backpropagation (dW = z^T (y_hat - y) / N, dV = ...), as a check."""
    V, W = unpack(theta)
    z = logistic(x @ V)
    u = z @ W
    y_hat = np.exp(u - u.max(axis=1, keepdims=True))
    y_hat /= y_hat.sum(axis=1, keepdims=True)
    dy = y_hat - y
    dW = z.T @ dy / x.shape[0]
    dV = x.T @ ((dy @ W.T) * z * (1 - z)) / x.shape[0]
    return np.concatenate([dV.ravel(), dW.ravel()])


def main(steps=600, batch=30, lr=1.0, seed=0):
    x, y, labels, names = load_iris()
    counts = np.bincount(labels)
    print(f"Iris: {x.shape[0]} flowers, {dict(zip(names, counts.tolist()))}, features {FEATURES} + bias")
    assert x.shape == (150, D) and counts.tolist() == [50, 50, 50]

    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.5, D * M + M * C)  # small random weights break the hidden units' symmetry
    print(f"MLP: D={D} inputs, M={M} logistic hidden units, C={C} softmax outputs, {theta.size} parameters")

    # ---- step 0: check the tape's gradient before trusting it
    full_loss = lambda t: loss(t, x, y)  # noqa: E731
    report = dualad.check_grad(full_loss, theta)
    print("\ncheck_grad at step 0 (forward mode vs reverse mode vs central differences):")
    print(report)
    assert report.passed
    g_tape = tape.grad(full_loss, theta)
    g_hand = lecture_gradient(theta, x, y)
    err = np.max(np.abs(g_tape - g_hand))
    print(f"max |tape gradient - lecture's hand-derived backprop| = {err:.1e}")
    assert err < 1e-12

    # ---- mini-batch gradient descent
    print(f"\nmini-batch gradient descent: batch {batch}, learning rate {lr}, {steps} steps")
    curve = [(0, float(full_loss(theta)), float(np.mean(predict(theta, x) == labels)))]
    t0 = time.perf_counter()
    step = 0
    while step < steps:
        order = rng.permutation(x.shape[0])
        for start in range(0, x.shape[0], batch):
            idx = order[start:start + batch]
            value, g = tape.value_and_grad(lambda t: loss(t, x[idx], y[idx]), theta)
            theta = theta - lr * g
            step += 1
            if step % 50 == 0:
                curve.append((step, float(full_loss(theta)), float(np.mean(predict(theta, x) == labels))))
            if step == steps:
                break
    elapsed = time.perf_counter() - t0

    print("\nloss curve (full training set):")
    top = max(c[1] for c in curve)
    for s, L, acc in curve:
        bar = "#" * max(1, int(40 * L / top))
        print(f"  step {s:4d}  loss {L:.4f}  accuracy {acc:6.1%}  {bar}")
    accuracy = np.mean(predict(theta, x) == labels)
    print(f"\ntraining accuracy after {steps} steps: {accuracy:.1%} ({elapsed:.1f} s, "
          f"{elapsed / steps * 1e3:.2f} ms per gradient)")
    assert curve[-1][1] < 0.5 * curve[0][1]
    assert accuracy >= 0.90


if __name__ == "__main__":
    main()
