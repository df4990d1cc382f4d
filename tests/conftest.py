"""Every test exercises the checkout it lives in, also in subprocesses (examples, notebook kernels).

Without this, a test run from a second git worktree, or beside an older installed copy, would import
whichever dualad happens to be installed and report on the wrong code.
"""
import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if sys.path[:1] != [ROOT]:
    sys.path.insert(0, ROOT)
_previous = os.environ.get("PYTHONPATH")
os.environ["PYTHONPATH"] = ROOT if not _previous else ROOT + os.pathsep + _previous
