"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate.
When that is an engine worker and the garbage holds Qt wrappers (a closed
window's widgets, say), their C++ destructors run on the worker: it takes a
Qt mutex, then waits for the GIL, while the GUI thread, holding the GIL, waits
for that mutex. Seen as a hang (py-spy: the worker in ``gc_collect_main`` ->
``QObject::~QObject`` -> ``GilState::acquire``; the GUI thread in
``QBasicMutex::lockInternal``). The cure, as in pyqtgraph's
``util.garbage_collector``: turn automatic collection off and collect from a
GUI-thread timer, generation by generation, when the usual thresholds are
passed. Reference counting still frees everything that is not in a cycle.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """While started: automatic collection off, a timer collects on this (the GUI) thread.

    Each tick collects the young generation if anything was allocated (about 0.1 ms; a tick sees only the
    net count, not the peaks automatic gc reacts to) and the middle one when its threshold is passed. A
    full collection (about 180 ms with the app's ~300k objects) follows CPython's own rule: only once the
    objects promoted to the old generation since the last one exceed a quarter of what that one left.
    """

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.long_lived = 0  # old-generation objects after the last full collection
        self.pending = 0  # objects promoted into the old generation since
        self._was_enabled = gc.isenabled()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect_due)

    def start(self) -> "GuiThreadCollector":
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.long_lived, self.pending = len(gc.get_objects(2)), 0
        self.timer.start()
        return self

    def stop(self) -> None:
        """Timer off; automatic collection back as it was."""
        self.timer.stop()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> None:
        """One tick: the generations that are due, youngest first."""
        young, middle, old = gc.get_count()
        if young > 0:
            gc.collect(0)
        if middle > self.thresholds[1]:
            young_objects = len(gc.get_objects(0)) + len(gc.get_objects(1))
            self.pending += max(0, young_objects - gc.collect(1))
        if old > self.thresholds[2] and self.pending > self.long_lived // 4:
            gc.collect(2)
            self.long_lived, self.pending = len(gc.get_objects(2)), 0


def collect_on_gui_thread(app: QObject, interval_ms: int = 500) -> GuiThreadCollector:
    """Install (and start) the collector for the life of ``app``, the QApplication, once; call from the GUI thread."""
    existing = app.findChild(GuiThreadCollector)
    return existing if existing is not None else GuiThreadCollector(interval_ms, parent=app).start()
