"""A computational graph, forward and backward, node by node: the lecture's first example.

    f(x, y, z) = (x + y) z   at   x = -2, y = 5, z = -4

``dualad.tape.record`` runs f once and keeps every intermediate value (the
Wengert list); ``backward()`` then walks the list from the output to the
inputs, multiplying each gate's local gradient into the adjoint that reached
it (the chain rule) and adding contributions where a value fans out. The
script prints the forward values, then each backward step as it would appear
on a slide, then the graph as Graphviz DOT text (``dot -Tpng graph.dot``).

A second graph, the lecture's sigmoid neuron, shows a longer chain.

Run:  python examples/computational_graph.py [graph.dot]
"""
import sys

import numpy as np

import dualad
from dualad import tape
from dualad.tape.display import local_gradients


def f(x, y, z):
    q = tape.label(x + y, "q")     # label names the node in the listing; a no-op on plain numbers
    return tape.label(q * z, "f")


def show_backward(t):
    """Print the backward sweep gate by gate: upstream adjoint times each local gradient."""
    out = t.output_node.label
    print(f"  seed: d{out}/d{out} = 1")
    for node in reversed(t.nodes):
        if not node.inputs:
            continue
        parents = [p for _, _, p in node.inputs]
        upstream = float(t.adjoint(node))
        print(f"  gate {node.label} = {node.op}({', '.join(p.label for p in parents)}), "
              f"upstream d{out}/d{node.label} = {upstream:g}")
        for parent, local in zip(parents, local_gradients(node)):
            print(f"    d{out}/d{parent.label} += {upstream:g} x local d{node.label}/d{parent.label} "
                  f"({float(local):g}) = {upstream * float(local):g}")


def main():
    x, y, z = -2.0, 5.0, -4.0
    print("f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4")

    t = tape.record(f, x, y, z)
    print("\n1) forward pass: evaluate and keep every value")
    for node in t.nodes:
        args = f"({', '.join(p.label for _, _, p in node.inputs)})" if node.inputs else ""
        print(f"  {node.label} = {node.op}{args} = {float(node.value):g}")
    assert float(t.value) == (x + y) * z == -12.0

    print("\n2) backward pass: from the output to the inputs")
    gx, gy, gz = t.backward()
    show_backward(t)
    print(f"\n  gradient: df/dx = {float(gx):g}, df/dy = {float(gy):g}, df/dz = {float(gz):g}")
    # by hand: df/dx = df/dy = z, df/dz = x + y
    assert (float(gx), float(gy), float(gz)) == (z, z, x + y) == (-4.0, -4.0, 3.0)
    # and by forward mode, one tangent direction per input, as a cross-check
    g_fwd = dualad.gradient(lambda v: f(v[0], v[1], v[2]), np.array([x, y, z]))
    assert np.array_equal(g_fwd, [gx, gy, gz])

    print("\nThe gate view (each node's value, local gradients and adjoint):")
    print(t.listing())

    print("\nGraphviz DOT text (render with: dot -Tpng graph.dot -o graph.png):")
    dot = t.to_dot()
    print(dot)
    assert dot.startswith("digraph") and dot.count("->") == 4  # x->q, y->q, q->f, z->f
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as fh:
            fh.write(dot)
        print(f"written to {sys.argv[1]}")

    # ---- another example from the lecture: a sigmoid neuron, f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))
    w, xs = np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0])

    def neuron(w, x):
        return 1.0 / (1.0 + np.exp(-(w[0] * x[0] + w[1] * x[1] + w[2])))

    t2 = tape.record(neuron, w, xs)
    gw, gx2 = t2.backward()
    s = float(t2.value)
    print(f"\nSigmoid neuron at w = {w}, x = {xs}: output {s:.4f}, {len(t2.nodes)} tape nodes")
    print(f"  df/dw = {np.round(gw, 4)}, df/dx = {np.round(gx2, 4)}")
    # by hand: sigma' = sigma (1 - sigma), so df/dw = s(1-s) [x0, x1, 1] and df/dx = s(1-s) [w0, w1]
    local = s * (1 - s)
    assert np.allclose(gw, local * np.array([xs[0], xs[1], 1.0]), rtol=1e-12)
    assert np.allclose(gx2, local * w[:2], rtol=1e-12)
    print(f"  matches the hand formula sigma(1 - sigma) = {local:.4f} times the inputs")


if __name__ == "__main__":
    main()
