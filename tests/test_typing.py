"""The package is typed (PEP 561): ``mypy --strict`` passes on a user script that calls every public function."""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dualad
from dualad import tape

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "typing" / "user_script.py"


def test_py_typed_is_shipped():
    assert (ROOT / "dualad" / "py.typed").is_file()
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "py.typed" in config["options.package_data"]["dualad"]


def test_the_script_calls_every_public_name():
    text = SCRIPT.read_text()
    missing = [name for name in dualad.__all__ if name != "tape" and not re.search(rf"dualad\.{name}\b", text)]
    missing += [f"tape.{name}" for name in tape.__all__ if not re.search(rf"tape\.{name}\b", text)]
    assert not missing, f"add calls of {missing} to {SCRIPT.name}"


def test_the_script_runs():
    pytest.importorskip("scipy")
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_mypy_strict_passes_on_the_user_script(tmp_path):
    pytest.importorskip("mypy")
    # --follow-imports=silent: dualad's own modules are analysed (their annotations are what the
    # script is checked against) but reported on as an installed typed package would be: not at all
    env = dict(os.environ, MYPYPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--cache-dir", str(tmp_path / "cache"), str(SCRIPT)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
