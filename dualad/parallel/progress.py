"""A progress bar on stderr for parallel work that runs longer than about a second.

tqdm draws it when installed (``pip install dualad[progress]``); otherwise one
line is rewritten in place. Quick calls print nothing.
"""
from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["Progress", "DELAY"]

#: Seconds of work before a bar appears (``progress=None``).
DELAY = 1.0


class Progress:
    """Counts finished blocks; draws on stderr once ``delay`` seconds have passed.

    ``enabled``: ``True`` always draws, ``False`` never, ``None`` after ``delay``.

    >>> bar = Progress(4, "jacobian", enabled=False)
    >>> bar.update(1); bar.close()
    """

    def __init__(self, total: int, label: str, enabled: bool | None = None, delay: float | None = None,
                 stream: Any = None):
        self.total, self.label, self.enabled = total, label, enabled
        # DELAY is read per call, so setting dualad.parallel.progress.DELAY takes effect at once
        self.delay = 0.0 if enabled else (DELAY if delay is None else delay)
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._bar: Any = None
        self._shown = False
        self._done = -1

    def update(self, done: int) -> None:
        changed = done != self._done
        self._done = done
        if self.enabled is False:
            return
        if self._shown and not changed and self._bar is not None:
            return  # tqdm refreshes its own clock; a redraw per poll would only spam logs
        elapsed = time.perf_counter() - self.start
        if elapsed < self.delay and not self._shown:
            return
        if not self._shown:
            self._shown = True
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.total, desc=self.label, file=self.stream, leave=False,
                                 unit="block", initial=done)
                return
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            return
        width = 24
        filled = int(width * done / max(self.total, 1))
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"blocks {elapsed:.1f} s ")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._shown:
            self.stream.write("\n")
            self.stream.flush()
