"""ADBench's four objectives (GMM, BA, LSTM, Hand) in plain numpy, their data, and the benchmark.

``python benchmarks/adbench/run.py`` times dualad's derivatives beside JAX, autograd and PyTorch;
``tests/test_adbench.py`` checks them against ADBench's reference outputs.
"""
