"""Which scipy function turned a differentiable value into an array, and its dualad.scipy version.

Used only on the error path of a refused conversion (``np.asarray(dual)`` inside scipy): the
message then names the scipy function the user called and, where one exists, the differentiable
function of the same name in :mod:`dualad.scipy`.
"""
from __future__ import annotations

import importlib
import sys
from types import FrameType

__all__ = ["scipy_caller_hint"]

_MIRRORED = ("special", "linalg", "stats", "signal", "ndimage", "integrate", "optimize", "fft")


def _module_name(frame: FrameType) -> str:
    return frame.f_globals.get("__name__", "") or ""


def _is_library(name: str) -> bool:
    return name == "numpy" or name.startswith(("numpy.", "scipy.", "dualad.", "functools", "contextlib"))


def _wrapped(frame: FrameType):
    """The scipy function a decorator's wrapper frame (in scipy._lib) is calling, or None."""
    for value in frame.f_locals.values():
        module = getattr(value, "__module__", None) or ""
        if callable(value) and module.startswith("scipy.") and not module.startswith("scipy._lib"):
            return value
    return None


def _public_name(frame: FrameType) -> tuple[str, str, str]:
    """``(display name, submodule, attribute path)`` of the scipy function running in ``frame``."""
    module, name = _module_name(frame), frame.f_code.co_name
    method = frame.f_locals.get("method") if name == "__ua_function__" else None
    if module.startswith("scipy.fft") and callable(method):
        # scipy.fft's public functions are uarray multimethods (no Python frame of their own):
        # the backend's __ua_function__ frame holds the one the user called.
        module, name = "scipy.fft", getattr(method, "__name__", name)
    if module.startswith("scipy._lib"):
        inner = _wrapped(frame)
        if inner is not None:
            module, name = inner.__module__, inner.__name__
    parts = module.split(".")
    sub = parts[1] if len(parts) > 1 else ""
    owner = frame.f_locals.get("self")
    dist = getattr(getattr(owner, "dist", owner), "name", None)  # a frozen distribution holds .dist
    if sub == "stats" and isinstance(dist, str):  # a distribution method: scipy.stats.norm.pdf
        return f"scipy.stats.{dist}.{name}", sub, f"{dist}.{name}"
    public = sys.modules.get(f"scipy.{sub}")
    if public is not None and hasattr(public, name):
        return f"scipy.{sub}.{name}", sub, name
    return f"{module}.{name}", sub, name


def _mirror(sub: str, path: str) -> str | None:
    if sub not in _MIRRORED:
        return None
    try:
        obj = importlib.import_module(f"dualad.scipy.{sub}")
        for part in path.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return f"dualad.scipy.{sub}.{path}"


def scipy_caller_hint() -> str:
    """A sentence naming the outermost scipy function on the stack (and its dualad.scipy version),
    or "" when the conversion did not happen inside scipy."""
    frame = sys._getframe(1)
    found = None
    while frame is not None:
        name = _module_name(frame)
        if name.startswith("scipy.") and (not name.startswith("scipy._lib") or _wrapped(frame) is not None):
            found = frame  # keep walking: the outermost scipy frame is the function the user called
        elif found is not None and not _is_library(name):
            break
        frame = frame.f_back
    if found is None:
        return ""
    display, sub, path = _public_name(found)
    mirror = _mirror(sub, path)
    if mirror is not None:
        return f" This happened inside {display}, which converts its input with np.asarray; use {mirror} instead."
    return (f" This happened inside {display}, which converts its input with np.asarray and has no "
            "differentiable version in dualad.scipy; rewrite it with numpy functions.")
