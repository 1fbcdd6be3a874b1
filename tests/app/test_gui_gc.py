"""Cyclic garbage is collected on the GUI thread, never on a worker (app/gui_gc.py)."""

import gc
import threading

from app.gui_gc import GuiThreadCollector


class Cycle:
    """An object in a reference cycle that records the thread that finally freed it."""

    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.current_thread().name)


def make_garbage_on_a_worker(cycles: int = 50, allocations: int = 20000) -> None:
    """A worker thread drops cycles, then allocates far past gen-0's threshold (automatic gc would run here)."""

    def work() -> None:
        for _ in range(cycles):
            Cycle()
        keep = [[i] for i in range(allocations)]
        del keep

    thread = threading.Thread(target=work, name="engine-worker")
    thread.start()
    thread.join()


def test_started_collector_turns_automatic_gc_off_and_stop_restores_it(qapp):
    # the autouse fixture already runs one collector; a second nested one restores what it found
    collector = GuiThreadCollector()
    before = gc.isenabled()
    collector.start()
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled() == before


def test_garbage_made_on_a_worker_is_freed_on_the_gui_thread(qtbot):
    Cycle.freed_on.clear()
    make_garbage_on_a_worker()
    assert Cycle.freed_on == [], "a cycle was collected on the worker thread"
    qtbot.waitUntil(lambda: len(Cycle.freed_on) == 50, timeout=5000)
    assert set(Cycle.freed_on) == {threading.main_thread().name}


def test_without_the_collector_a_worker_would_collect(qapp):
    """The hazard the collector removes (so the test above can fail): automatic gc runs on the allocating thread."""
    collector_on = not gc.isenabled()
    gc.enable()
    try:
        gc.collect()
        Cycle.freed_on.clear()
        make_garbage_on_a_worker()
        assert "engine-worker" in Cycle.freed_on
    finally:
        gc.collect()
        if collector_on:
            gc.disable()


def full_collections() -> int:
    return gc.get_stats()[2]["collections"]


def test_full_collections_wait_until_a_quarter_of_the_old_generation_is_new(qapp):
    collector = GuiThreadCollector()
    collector.start()
    try:
        before = full_collections()
        for _ in range(150):  # a little garbage per tick; > 10 middle collections, so old is considered
            Cycle()
            collector.collect_due()
        assert gc.get_count()[2] > gc.get_threshold()[2] and full_collections() == before
        survivors = [[i] for i in range(collector.long_lived // 2)]  # promoted by the ticks below
        for _ in range(150):  # > 10 middle collections, so the old generation is considered
            Cycle()
            collector.collect_due()
        assert full_collections() > before
        assert collector.pending < len(survivors) // 2  # counted again from the new old generation
    finally:
        collector.stop()


def test_installing_twice_keeps_one_collector(qapp):
    from app.gui_gc import collect_on_gui_thread

    first = collect_on_gui_thread(qapp)
    try:
        assert collect_on_gui_thread(qapp) is first and not gc.isenabled()
    finally:
        first.stop()
        first.setParent(None)
        first.deleteLater()
