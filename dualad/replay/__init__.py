"""Prepared derivatives: record ``f`` once, replay it at new points as compiled numpy code, with guards.

A fourth interpreter over the tape's records (beside forward dispatch, the tape's own sweep and the
sparsity tracer): :mod:`.recording` runs f once on a tape and keeps every value-dependent decision
with the call that made it; :mod:`.analysis` finds what varies; :mod:`.forward_code` and
:mod:`.reverse_code` write the replay programs (:mod:`.codegen`: names, guards, ``compile``);
:mod:`.trace` holds one branch; :mod:`.prepared` picks the trace whose guards hold, or records again.
"""
from .prepared import Prepared, ReplayRefused, prepare

__all__ = ["prepare", "Prepared", "ReplayRefused"]
