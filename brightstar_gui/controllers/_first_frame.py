"""Work that waits for an exposure's first panes (a mixin of :class:`~._viewer.ViewerController`).

Opening puts the exposure's pixels on screen first.  What a user does not
see yet follows the first frame instead of racing it:

* the context job (reference files: resolving and checking them reads and
  hashes ~100 MB and decompresses lz4 blocks, 0.7-1.4 s of CPU on several
  threads), which the mask and ratio panes need -- they say "loading
  reference files..." meanwhile, as they did while it ran;
* the "shown" hooks (the compare dock's list of darks, the console's
  namespace): views the first panes do not depend on.

On the 2-core machine these took the CPU and the GIL from the render job
and the UI thread's first paint.  Whatever is deferred still runs: after
the first frame of the dataset is applied and painted, or when that render
fails (never lost); queued work of a dataset no longer open is dropped.
"""

from __future__ import annotations

from typing import Callable


class FirstFrameMixin:
    _first_frame_of: int | None = None  # id of the dataset whose first frame is on screen
    _after_first: list[tuple[int, Callable[[], None]]]

    def _init_first_frame(self) -> None:
        self._after_first = []

    def after_first_frame(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once the open dataset's first frame is on screen (now if it already is)."""
        ds = self.dataset
        if ds is None:
            return
        if self._first_frame_of == ds.id:
            fn()
        else:
            self._after_first.append((ds.id, fn))

    def first_frame_pending(self) -> bool:
        """True from an exposure's opening to its first frame on screen."""
        return self.dataset is not None and self._first_frame_of != self.dataset.id

    def hold_panes(self, hold: bool) -> None:
        """Hold the panes' repaints until the first frame (a view without ``hold_paint``: nothing to do)."""
        hold_paint = getattr(self.views.panes, "hold_paint", None)
        if hold_paint is not None:
            hold_paint(hold)

    def _first_frame_done(self) -> None:
        ds = self.dataset
        if ds is None or self._first_frame_of == ds.id:
            return
        self._first_frame_of = ds.id
        self.hold_panes(False)
        queued, self._after_first = self._after_first, []
        work = [fn for ds_id, fn in queued if ds_id == ds.id]  # work queued for an exposure since closed is dropped

        def run() -> None:
            if self.dataset is ds:
                for fn in work:
                    fn()

        # The window runs it once the panes are painted (not before the paint, from inside
        # the render's callback); a view without ``after_paint`` (tests' fakes) at once.
        after_paint = getattr(self.views.status, "after_paint", None)
        if after_paint is None:
            run()
        else:
            after_paint(run)

    def _apply_render(self, result) -> None:
        super()._apply_render(result)
        if self.dataset is not None and result.request.dataset is self.dataset:
            self._first_frame_done()

    def _render_dropped(self) -> None:
        super()._render_dropped()
        # A failed first render must not hold the references back.  A cancelled one is
        # followed by a newer render (still busy), or by another exposure (whose open
        # dropped this one's queued work first: ViewerController._retire).
        if not self.runner.busy("render"):
            self._first_frame_done()

    def _drop_first_frame_work(self) -> None:
        """Forget the work waiting for the open exposure's first frame (it is being closed)."""
        self._after_first = []
