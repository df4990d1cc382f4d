"""ADBench objective 3: the loss of a small LSTM over a text, in plain numpy.

l layers of b cells (b = bits per character); each layer has a weight row and a bias row of 4 b
entries (forget, input, output gates and the change), the model has an input weight, an output
weight and an output bias of b entries. At step t the network reads character t and predicts
character t + 1; the loss is minus the mean of ``sequence[t + 1] * normalised prediction``.
ADBench's normalisation is ``ypred - log(sum(exp(ypred)) + 2)`` (its reference code adds 2 inside
the log), kept here so that the values match its reference outputs.

>>> from benchmarks.adbench.dataio import read_lstm, data_path
>>> s = read_lstm(data_path("lstm", "lstm_l2_c1024.txt"))
>>> round(float(lstm_objective(s.main_params, s.extra_params, s.state, s.sequence[:3])), 6)
0.484149
"""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_cell(weight, bias, hidden, cell, inputs):
    """One layer's step: the new (hidden, cell) from the layer's last ones and its input."""
    hsize = hidden.shape[0]
    gates = np.concatenate([inputs, hidden, inputs, hidden]) * weight + bias
    forget = sigmoid(gates[:hsize])
    ingate = sigmoid(gates[hsize:2 * hsize])
    outgate = sigmoid(gates[2 * hsize:3 * hsize])
    change = np.tanh(gates[3 * hsize:])
    cell = cell * forget + ingate * change
    hidden = outgate * np.tanh(cell)
    return hidden, cell


def lstm_predict(main_params, extra_params, state, inputs):
    """The prediction for the next character and the new state (a list: hidden, cell per layer)."""
    x = inputs * extra_params[0]
    new_state = []
    for layer in range(len(state) // 2):
        hidden, cell = lstm_cell(main_params[2 * layer], main_params[2 * layer + 1],
                                 state[2 * layer], state[2 * layer + 1], x)
        new_state += [hidden, cell]
        x = hidden
    return x * extra_params[1] + extra_params[2], new_state


def lstm_objective(main_params, extra_params, state, sequence):
    """ADBench's LSTM loss of main_params (2 l, 4 b), extra_params (3, b), state (2 l, b) over
    sequence (c, b)."""
    total = 0.0
    count = 0
    state = list(state)
    for t in range(len(sequence) - 1):
        ypred, state = lstm_predict(main_params, extra_params, state, sequence[t])
        ynorm = ypred - np.log(np.sum(np.exp(ypred)) + 2.0)
        total = total + np.sum(sequence[t + 1] * ynorm)
        count += ypred.shape[0]
    return -total / count


def pack(main_params, extra_params):
    """One flat parameter vector in ADBench's gradient order: main params, then extra params."""
    return np.concatenate([main_params.ravel(), extra_params.ravel()])


def objective_of_params(params, state, sequence):
    """The loss as a function of the flat parameter vector (what the gradient is taken of)."""
    layers, bits = state.shape[0] // 2, state.shape[1]
    main_params = params[:8 * layers * bits].reshape(2 * layers, 4 * bits)
    extra_params = params[8 * layers * bits:].reshape(3, bits)
    return lstm_objective(main_params, extra_params, state, sequence)
