"""The background producer behind the loader's parsing and the restore's decoding, and the interpreter
settings both run under."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from chalicelib.runtime.prefetch import Prefetch, tuned_interpreter


class Item:
    def __init__(self, n: int):
        self.n, self.discarded = n, False

    def discard(self) -> None:
        self.discarded = True


def test_items_arrive_in_order_and_a_producer_error_reaches_the_consumer():
    assert [i.n for i in Prefetch(iter([Item(1), Item(2), Item(3)]), depth=1)] == [1, 2, 3]

    def failing():
        yield Item(1)
        raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        list(Prefetch(failing(), depth=2))


def test_closing_early_discards_what_was_produced_and_not_consumed():
    made: list[Item] = []
    produced = threading.Event()

    def source():
        for n in range(10):
            made.append(Item(n))
            if n == 2:
                produced.set()
            yield made[-1]

    with Prefetch(source(), depth=2) as feed:
        first = next(iter(feed))
        assert produced.wait(5)
    assert first.n == 0 and not first.discarded  # consumed: the consumer's to free
    assert made[1:] and all(item.discarded for item in made[1:])


def test_the_interpreter_settings_hold_while_any_user_runs_and_come_back_after():
    before = (gc.get_threshold(), sys.getswitchinterval())
    with tuned_interpreter():
        tuned = (gc.get_threshold()[0], sys.getswitchinterval())
        assert tuned[0] >= 1_000_000 and tuned[1] <= 0.001
        with tuned_interpreter():  # a second, concurrent load
            pass
        assert (gc.get_threshold()[0], sys.getswitchinterval()) == tuned  # still the first one's
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
    with pytest.raises(RuntimeError), tuned_interpreter():
        raise RuntimeError("a failed load")
    assert (gc.get_threshold(), sys.getswitchinterval()) == before
