"""Forward mode and reverse mode on the lecture's two-output example.

    y1 = sin(w1 x + w0),   y2 = cos(w1 x + w0)

Evaluation trace (Wengert list): a1 = w0, a2 = w1, a3 = x, a4 = a2 a3,
a5 = a4 + a1, a6 = sin(a5) = y1, a7 = cos(a5) = y2.

* Forward mode seeds one input direction (here w1: a2' = 1, a1' = a3' = 0) and
  carries a tangent next to every value, so ONE forward pass gives the
  derivative of EVERY output with respect to w1: dy1/dw1 and dy2/dw1.
* Reverse mode seeds one output (here y2: a7_bar = 1, a6_bar = 0) and sweeps
  the recorded trace backward, so ONE backward pass gives the derivative of y2
  with respect to EVERY input: dy2/dw0 and dy2/dw1.

Each result is checked against the hand formula.

Run:  python examples/forward_vs_reverse_modes.py
"""
import numpy as np

import dualad
from dualad import tape

W0, W1, X = 0.5, -1.5, 2.0


def outputs(w):
    """[y1, y2] as a function of the weights w = (w0, w1); x is a constant."""
    a5 = w[1] * X + w[0]
    return np.stack([np.sin(a5), np.cos(a5)])


def hand():
    """The partial derivatives written out by hand."""
    s, c = np.sin(W1 * X + W0), np.cos(W1 * X + W0)
    return {"dy1/dw1": X * c, "dy2/dw1": -X * s, "dy1/dw0": c, "dy2/dw0": -s}


def forward_trace():
    """The lecture's forward-mode table, computed with Dual numbers (value, tangent = d/dw1)."""
    a1 = dualad.Dual(W0, 0.0)   # w0: not the direction we seeded
    a2 = dualad.Dual(W1, 1.0)   # w1: the seeded direction
    a3 = dualad.Dual(X, 0.0)    # x: a constant
    a4 = a2 * a3
    a5 = a4 + a1
    a6 = np.sin(a5)
    a7 = np.cos(a5)
    rows = [("a1 = w0", a1), ("a2 = w1", a2), ("a3 = x", a3), ("a4 = a2 * a3", a4), ("a5 = a4 + a1", a5),
            ("a6 = sin(a5) = y1", a6), ("a7 = cos(a5) = y2", a7)]
    return rows


def main():
    h = hand()
    print(f"y1 = sin(w1 x + w0), y2 = cos(w1 x + w0) at w0 = {W0}, w1 = {W1}, x = {X}")

    # ---- forward mode: one pass, seeded on w1
    print("\nForward mode, one pass with the tangent seeded on w1 (a' = da/dw1):")
    rows = forward_trace()
    for name, a in rows:
        print(f"  {name:18s}  value {float(a.value):+.6f}   tangent {float(a.tangent):+.6f}")
    a6, a7 = rows[-2][1], rows[-1][1]
    print(f"  -> dy1/dw1 = {float(a6.tangent):+.6f} (hand: x cos(w1 x + w0) = {h['dy1/dw1']:+.6f})")
    print(f"  -> dy2/dw1 = {float(a7.tangent):+.6f} (hand: -x sin(w1 x + w0) = {h['dy2/dw1']:+.6f})")
    assert np.isclose(a6.tangent, h["dy1/dw1"], rtol=1e-14) and np.isclose(a7.tangent, h["dy2/dw1"], rtol=1e-14)

    # the same through the API: jvp along e_w1 is one call of the function
    calls = [0]

    def counted(w):
        calls[0] += 1
        return outputs(w)

    y, dy_dw1 = dualad.jvp(counted, np.array([W0, W1]), np.array([0.0, 1.0]))
    print(f"  dualad.jvp(f, w, e_w1) -> {dy_dw1} in {calls[0]} call of f")
    assert calls[0] == 1 and np.allclose(dy_dw1, [h["dy1/dw1"], h["dy2/dw1"]], rtol=1e-14)

    # ---- reverse mode: record once, one backward sweep seeded on y2
    print("\nReverse mode, one forward recording and one backward pass seeded on y2 (a_bar = dy2/da):")

    def traced(w0, w1):
        a4 = tape.label(w1 * X, "a4")
        a5 = tape.label(a4 + w0, "a5")
        a6 = tape.label(np.sin(a5), "a6")
        a7 = tape.label(np.cos(a5), "a7")
        return np.stack([a6, a7])

    t = tape.record(traced, W0, W1, names=["a1 (w0)", "a2 (w1)"])
    g_w0, g_w1 = t.backward(seed=np.array([0.0, 1.0]))   # a7_bar = 1, a6_bar = 0
    for node in t.nodes:
        if not node.label.startswith("a"):
            continue  # skip the nodes np.stack adds to join a6 and a7 into one output
        print(f"  {node.label:8s} {node.op:9s} value {float(node.value):+.6f}   adjoint {float(t.adjoint(node)):+.6f}")
    print("  (a3 = x is a constant: the tape records no node for it)")
    print(f"  -> dy2/dw0 = {float(g_w0):+.6f} (hand: -sin(w1 x + w0) = {h['dy2/dw0']:+.6f})")
    print(f"  -> dy2/dw1 = {float(g_w1):+.6f} (hand: -x sin(w1 x + w0) = {h['dy2/dw1']:+.6f})")
    assert np.isclose(g_w0, h["dy2/dw0"], rtol=1e-14) and np.isclose(g_w1, h["dy2/dw1"], rtol=1e-14)

    # the same through the API: a vector-Jacobian product with u = e_y2
    _, row = tape.vjp(outputs, np.array([W0, W1]), np.array([0.0, 1.0]))
    print(f"  dualad.tape.vjp(f, w, e_y2) -> {row}")
    assert np.allclose(row, [h["dy2/dw0"], h["dy2/dw1"]], rtol=1e-14)

    # ---- the full 2 x 2 Jacobian both ways
    J_fwd = dualad.jacobian(outputs, np.array([W0, W1]))
    J_rev = tape.jacobian(outputs, np.array([W0, W1]))
    print(f"\nFull Jacobian [[dy1/dw0, dy1/dw1], [dy2/dw0, dy2/dw1]]:\n{J_fwd}")
    print("forward mode needs one pass per input column, reverse mode one sweep per output row;")
    print("here n = m = 2, so neither has the advantage. Forward wins when outputs outnumber inputs,")
    print("reverse when inputs outnumber outputs (a scalar loss of many weights: backpropagation).")
    assert np.allclose(J_fwd, J_rev, rtol=1e-14, atol=0)
    assert np.allclose(J_fwd, [[h["dy1/dw0"], h["dy1/dw1"]], [h["dy2/dw0"], h["dy2/dw1"]]], rtol=1e-14)


if __name__ == "__main__":
    main()
