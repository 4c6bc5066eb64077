"""The four panes' view boxes show exactly the same data rectangle.

pyqtgraph's X/Y links map a linked range through the two boxes' screen
geometry (boxes stacked in one column share x by *pixels*, not by data), so
boxes of different sizes -- a wider column, a longer title, aspect locks
adjusting each box on its own -- show different fields of view.  Here one
box (the first pane's) is aspect-locked and owns the range; the others are
not locked and are given its range exactly, after every change of it (zoom,
pan, resize).  A zoom or pan in another pane is applied to the first one,
whose result is then pushed to all.  The pane grid gives the boxes equal
sizes (:mod:`.panes`), so the followers' pixels stay square.
"""

from __future__ import annotations

import pyqtgraph as pg


class RangeSync:
    """Keeps ``followers`` at ``master``'s view range (x and y, exactly)."""

    def __init__(self, master: pg.ViewBox, followers: list[pg.ViewBox]):
        self.master = master
        self.followers = list(followers)
        self._busy = False
        master.setAspectLocked(True)
        master.sigRangeChanged.connect(self._from_master)
        for vb in self.followers:
            vb.setAspectLocked(False)
            vb.enableAutoRange(x=False, y=False)
            vb.sigRangeChanged.connect(lambda box, *_, vb=vb: self._from_follower(vb))
        self.push()

    def push(self) -> None:
        """Give every follower the master's range."""
        if self._busy:
            return
        self._busy = True
        try:
            (x0, x1), (y0, y1) = self.master.viewRange()
            for vb in self.followers:
                if vb.viewRange() != [[x0, x1], [y0, y1]]:
                    vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        finally:
            self._busy = False

    def _from_master(self, *_) -> None:
        self.push()

    def _from_follower(self, vb: pg.ViewBox) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            (x0, x1), (y0, y1) = vb.viewRange()
            self.master.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)
        finally:
            self._busy = False
        self.push()
