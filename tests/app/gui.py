"""Real user input for the GUI tests: press the widget a user would press.

A test of a user action presses the real widget (a button, a point on a map
or plot, keys into a field) with QTest events at widget coordinates; it never
calls the slot or emits the signal itself.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QCheckBox, QRadioButton, QScrollArea, QWidget

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


def scroll_into_view(widget: QWidget) -> None:
    """Scroll every QScrollArea holding ``widget`` so that it is on screen, as a user would."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea) and parent.widget() is not None:
            # QScrollArea.ensureWidgetVisible(w, 0, 0) left a nested spin box 8 px short of the viewport's bottom
            top = widget.mapTo(parent.widget(), QPoint(0, 0)).y()
            bar, height = parent.verticalScrollBar(), parent.viewport().height()
            if top < bar.value():
                bar.setValue(top)
            elif top + widget.height() > bar.value() + height:
                bar.setValue(min(top, top + widget.height() - height))
        parent = parent.parentWidget()


def press(qtbot, button: QAbstractButton, modifier=NO_MOD) -> None:
    """Click ``button`` in its middle with the left mouse button; it must be visible and enabled."""
    scroll_into_view(button)
    assert button.isVisible(), f"{button.text()!r} is not visible"
    assert button.isEnabled(), f"{button.text()!r} is disabled"
    pos = button.rect().center()
    if isinstance(button, (QCheckBox, QRadioButton)):  # only the box and its text take a click
        pos.setX(min(pos.x(), 8))
    qtbot.mouseClick(button, LEFT, modifier, pos)


def type_into(qtbot, field: QWidget, text: str) -> None:
    """Select all in ``field`` (a line edit or spin box) and type ``text`` with the keyboard."""
    scroll_into_view(field)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def view_point(plot, x: float, y: float, view=None) -> QPoint:
    """Widget (viewport) coordinates of data point (x, y) of a pyqtgraph GraphicsView ``plot``.

    ``view`` is the ViewBox holding the data (the plot's own by default)."""
    view = view if view is not None else plot.getPlotItem().getViewBox()
    scene = view.mapViewToScene(QPointF(x, y))
    return plot.mapFromScene(scene)


def click_plot(qtbot, plot, x: float, y: float, modifier=NO_MOD, view=None) -> None:
    """Move to, then left-click data point (x, y) of ``plot`` at widget coordinates."""
    QTest.mouseMove(plot.viewport(), view_point(plot, x, y, view))
    qtbot.wait(5)  # the move may lay the view out again: map the point afresh
    QTest.mouseClick(plot.viewport(), LEFT, modifier, view_point(plot, x, y, view))
    qtbot.wait(5)


def move_plot(qtbot, plot, x: float, y: float, view=None) -> None:
    """Move the mouse over data point (x, y) of ``plot``, then wait 20 ms (pyqtgraph's scene drops a
    move that comes sooner than 1/60 s after the last one)."""
    QTest.mouseMove(plot.viewport(), view_point(plot, x, y, view))
    qtbot.wait(20)


def drag(qtbot, widget: QWidget, points, modifier=NO_MOD) -> None:
    """Press the left button at ``points[0]`` of ``widget``, move through the rest, release at the last."""
    points = [QPoint(*map(int, p)) if not isinstance(p, QPoint) else p for p in points]
    QTest.mouseMove(widget, points[0])
    QTest.mousePress(widget, LEFT, modifier, points[0])
    for p in points[1:]:
        QTest.mouseMove(widget, p)
        qtbot.wait(20)  # pyqtgraph drops moves closer than 1/60 s
    QTest.mouseRelease(widget, LEFT, modifier, points[-1])
    qtbot.wait(5)


def choose(qtbot, combo, text: str) -> None:
    """Open a QComboBox's list and click ``text`` in it, as a user does (emits ``activated`` once)."""
    scroll_into_view(combo)
    items = [combo.itemText(i) for i in range(combo.count())]
    assert text in items, f"{text!r} is not among {items}"
    assert combo.isVisible() and combo.isEnabled(), f"the list holding {text!r} cannot be opened"
    qtbot.mouseClick(combo, LEFT, NO_MOD, combo.rect().center())
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    qtbot.wait(QApplication.doubleClickInterval() + 20)  # the list ignores a release this soon after it opens
    index = combo.model().index(items.index(text), 0)
    view.scrollTo(index)
    rect = view.visualRect(index)
    click_in_popup(qtbot, view.viewport(), rect.center(), view)
    assert combo.currentText() == text


def wheel(widget: QWidget, pos: QPoint, notches: int) -> None:
    """Turn the mouse wheel over ``pos`` of ``widget`` by ``notches`` (positive: away from the user)."""
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(QPointF(pos), QPointF(widget.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, NO_MOD, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def right_click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.RightButton, NO_MOD, widget.rect().center())


def open_tab(qtbot, window, key: str):
    """Show ``window`` at the default 1200 x 800 and click the tab bar on tab ``key``; returns the tab."""
    if not window.isVisible():
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
    tab = window.tab_by_key[key]
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, LEFT, NO_MOD, bar.tabRect(window.tabs.indexOf(tab)).center())
    assert window.tabs.currentWidget() is tab
    return tab


def select_row(qtbot, view, row: int, modifier=NO_MOD) -> None:
    """Click row ``row`` of a QListWidget."""
    scroll_into_view(view)
    view.scrollToItem(view.item(row))
    rect = view.visualItemRect(view.item(row))
    qtbot.mouseClick(view.viewport(), LEFT, modifier, rect.center())


def button(parent: QWidget, text: str) -> QAbstractButton:
    """The one button labelled ``text`` under ``parent`` (for buttons a panel keeps no name for)."""
    found = [b for b in parent.findChildren(QAbstractButton) if b.text() == text]
    assert len(found) == 1, f"{len(found)} buttons read {text!r}"
    return found[0]


def menu(qtbot, window, title: str, item: str) -> None:
    """Click menu ``title`` in the window's menu bar, then ``item`` in it (``&`` accelerators ignored)."""
    bar = window.menuBar()
    top = next(a for a in bar.actions() if a.text().replace("&", "") == title)
    qtbot.mouseClick(bar, LEFT, NO_MOD, bar.actionGeometry(top).center())
    popup = top.menu()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    action = next(a for a in popup.actions() if a.text().replace("&", "") == item)
    assert action.isEnabled(), f"{title} › {item} is disabled"
    qtbot.wait(QApplication.doubleClickInterval() + 20)
    click_in_popup(qtbot, popup, popup.actionGeometry(action).center(), popup)


def click_in_popup(qtbot, widget: QWidget, pos: QPoint, popup: QWidget) -> None:
    """Click ``pos`` of ``widget`` in an open ``popup`` (a combo's list, a menu) until the popup closes: on a
    loaded machine a popup that is still opening ignores the release."""
    for dx in range(8, -1, -1):  # a menu takes a release only after the mouse moved (more than 6 motions)
        QTest.mouseMove(widget, pos + QPoint(dx, 0))
    for _ in range(4):
        qtbot.mouseClick(widget, LEFT, NO_MOD, pos)
        try:
            qtbot.waitUntil(lambda: not popup.isVisible(), timeout=1500)
            return
        except qtbot.TimeoutError:
            continue
    raise AssertionError("the popup did not close on the click")


def open_checkpoint_from_menu(qtbot, window, monkeypatch, path) -> None:
    """File › Open checkpoint… in the menu bar, the file dialog answering ``path``."""
    monkeypatch.setattr("app.main_window.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    if not window.isVisible():
        window.show()
        qtbot.waitExposed(window)
    menu(qtbot, window, "File", "Open checkpoint…")


def train_to_end(qtbot, tab, timeout: int = 120000):
    """Press the Training monitor's Start, wait until its run has ended and Start is enabled again; the job, which
    must have finished cleanly (the tab's status names why otherwise)."""
    from app.worker import JobState

    press(qtbot, tab.panel.buttons["Start"])
    job = tab.job
    assert job is not None, tab.status.text()
    qtbot.waitUntil(lambda: job.state.finished and tab.panel.buttons["Start"].isEnabled(), timeout=timeout)
    assert job.state is JobState.DONE, tab.status.text()
    return job
