"""A progress line for long loads on a terminal: records and bytes per second, nothing when piped."""

from __future__ import annotations

import shutil
import time
from typing import TextIO


def _si(value: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(value) < 1000:
            return f"{value:.0f}{unit}" if not unit or value >= 100 else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}T"


def _bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


class ProgressBar:
    """One self-rewriting line: ``label [#####.....] 45% 450k rows 98k rows/s 5.9 MB/s``.

    Call it as the loader's progress callback, ``bar(records, bytes)``; `done()` ends the line.
    Redraws at most every `interval` seconds, so it costs nothing measurable however often it is called.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        total_bytes: int | None = None,
        total_records: int | None = None,
        interval: float = 0.2,
    ):
        self.stream, self.label = stream, label
        self.total_bytes, self.total_records = total_bytes, total_records
        self.interval = interval
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._records = self._bytes = 0
        self._width = 0

    def __call__(self, records: int, bytes_read: int) -> None:
        self._records, self._bytes = records, bytes_read
        now = time.monotonic()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The progress line as it would be drawn now."""
        elapsed = max((now or time.monotonic()) - self.started, 1e-6)
        if self.total_records:
            fraction = min(self._records / self.total_records, 1.0)
        elif self.total_bytes:
            fraction = min(self._bytes / self.total_bytes, 1.0)
        else:
            fraction = None
        parts = [self.label]
        if fraction is not None:
            width = 20
            filled = int(fraction * width)
            parts.append("[" + "#" * filled + "." * (width - filled) + f"] {fraction * 100:3.0f}%")
        parts.append(f"{_si(self._records)} rows")
        parts.append(f"{_si(self._records / elapsed)} rows/s")
        parts.append(f"{_bytes(self._bytes / elapsed)}/s")
        if fraction and 0 < fraction < 1:
            parts.append(f"ETA {elapsed * (1 - fraction) / fraction:.0f}s")
        return "  ".join(parts)

    def _draw(self, now: float) -> None:
        columns = shutil.get_terminal_size((100, 20)).columns
        text = self.line(now)[: columns - 1]
        self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
        self._width = len(text)
        self.stream.flush()

    def done(self) -> None:
        """Draw the final figures and end the line."""
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def for_stream(stream: TextIO, label: str, **totals) -> ProgressBar | None:
    """A progress bar when `stream` is a terminal, else None (no progress output when piped)."""
    isatty = getattr(stream, "isatty", None)
    return ProgressBar(stream, label, **totals) if isatty is not None and isatty() else None
