"""Producing ahead on a background thread: the loader's parsing and the restore's decoding both
overlap the database work of the item before."""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any


class Prefetch:
    """Runs an iterator in a thread, up to `depth` items ahead, so producing the next item (parsing a
    CSV chunk, decoding Avro) overlaps the consumer's database work. Errors are re-raised in the
    consumer; `close()` (or leaving the `with` block) stops the producer early and discards items
    produced but never consumed (calling their `discard()`, if they have one)."""

    def __init__(self, source: Iterator, depth: int = 2, name: str = "prefetch"):
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True, name=name)
        self.thread.start()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, source: Iterator) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    _discard(item)
                    return
            self._put(("done", None))
        except BaseException as exc:  # handed to the consumer
            self._put(("error", exc))
        finally:
            close = getattr(source, "close", None)
            if close:
                close()

    def __iter__(self):
        try:
            while True:
                kind, value = self.queue.get()
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            self.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        while True:  # items produced but never consumed (the restore failed): free what they hold
            try:
                kind, value = self.queue.get_nowait()
            except queue.Empty:
                return
            if kind == "item":
                _discard(value)


def _discard(item: Any) -> None:
    discard = getattr(item, "discard", None)
    if discard:
        discard()


_tuning_lock = threading.Lock()
_tuning_users = 0
_SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005


@contextlib.contextmanager
def tuned_interpreter() -> Iterator[None]:
    """While a file load or a restore runs, collect garbage less often and hand the GIL over sooner
    (process-wide settings, restored when the last of the concurrent users ends).

    - A chunk is tens of thousands of small container objects that live until its transaction ends and
      hold no reference cycles. The cyclic collector's youngest generation is collected every 700 net
      allocations by default; it walks the live chunks over and over, a third of the loader's CPU time
      (still a quarter at 100,000). At 1,000,000, more than the three chunks a load holds at once, it
      rarely runs. Reference counting still frees every chunk as soon as it is done.
    - The transaction's thread mostly waits on the database socket, and after every wait it needs the
      GIL back from the producing thread (parsing CSV, decoding Avro), which CPython hands over only
      after its switch interval. At the default 5 ms, the LOAD DATA stream (16 KB packets, a read and a
      send each) and every query stall behind the producer: a million-row load spent about 30% longer
      in the database's statements.
    """
    global _tuning_users
    with _tuning_lock:
        if _tuning_users == 0:
            tuned_interpreter.saved = (gc.get_threshold(), sys.getswitchinterval())  # type: ignore[attr-defined]
            gc.set_threshold(1_000_000, 50, 100)
            sys.setswitchinterval(min(_SWITCH_INTERVAL, sys.getswitchinterval()))
        _tuning_users += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0:
                thresholds, interval = tuned_interpreter.saved  # type: ignore[attr-defined]
                gc.set_threshold(*thresholds)
                sys.setswitchinterval(interval)
