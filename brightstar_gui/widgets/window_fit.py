"""The main window fits a 1280 x 800 screen, whatever docks the features add.

A dock's minimum width is its contents' (a table with its columns, a row of
buttons), and docks placed side by side add up: the Regions dock alone asks
778 px, and before it is tabbed with the ramp (after the first show) the
bottom row of docks made the window 1553 px wide on a 1280-px screen, with
the right-hand panes, the Display dock and the status bar off screen.  Every
dock is allowed to become :data:`DOCK_MIN_WIDTH` narrow (its contents are
clipped, or scroll where they are in a scroll area) so the window's minimum
is the panes' and the side docks'.
"""

from __future__ import annotations

from PyQt6 import QtWidgets

#: Narrowest a dock may be made (px): the Display dock's controls still fit.
DOCK_MIN_WIDTH = 360


def fit_docks(window: QtWidgets.QMainWindow, width: int = DOCK_MIN_WIDTH) -> None:
    """Cap every dock's minimum width at ``width`` (docks already narrower keep theirs)."""
    for dock in window.findChildren(QtWidgets.QDockWidget):
        if dock.minimumSizeHint().width() > width and dock.minimumWidth() <= width:
            dock.setMinimumWidth(width)
            dock.widget().setMinimumWidth(min(width, dock.widget().minimumSizeHint().width()))
