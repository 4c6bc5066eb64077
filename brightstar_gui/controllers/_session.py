"""Save and restore a session (a mixin of :class:`ViewerController`).

:meth:`session_state` gathers what is shown into a
:class:`~processing.session_file.Session`; :meth:`restore_session` checks a
session whole first -- its exposures exist, its display settings are valid --
and changes nothing if any of it is unusable (the message names the file and
what is wrong).  It then opens the exposure with the session's frame and
cutout (:class:`StartOptions`, as the command line does) and applies the rest
once it is open: displays, baseline, selected pixel, regions, pinned pixels,
the superbias (recomputed from the
same darks) and the compare view's settings.  The zoom is the window's: it
reads :attr:`pending_view` after the first frame.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from processing.figures import PANES
from processing.session_file import Session, SessionFileError, read_session, write_session

from ..models import PaneDisplay, default_displays


class SessionMixin:
    def _init_session(self) -> None:
        self.superbias_source: dict | None = None  # {"darks": [...], "method": ...} of the superbias in use
        self.pending_view: tuple[float, float, float, float] | None = None
        self._pending_session: Session | None = None
        self.add_hook("opened", self._apply_pending_session)

    # -- saving ----------------------------------------------------------------------------
    def session_state(self, view: tuple[float, float, float, float] | None = None) -> Session:
        """The session of what is shown now (``view``: the visible area, from the panes)."""
        m = self.model
        ds = self.dataset
        exposures = [] if ds is None else [ds.uri]
        compare = self.compare_state()
        if compare and compare.get("uri") and compare["uri"] not in exposures:
            exposures.append(compare["uri"])
        if view is None:
            vis = self.views.panes.visible()
            view = None if vis is None else tuple(float(v) for v in vis[0])
        superbias = None
        if self.superbias_source is not None:
            superbias = {**self.superbias_source, "subtract": bool(m.subtract_superbias)}
        c = m.cutout
        return Session(
            exposures=tuple(exposures), frame=m.frame, baseline=m.baseline, data_kind=m.data_kind,
            cutout={"row": c.row, "col": c.col, "half": c.half, "enabled": c.enabled}, view=view,
            displays={k: asdict(v) for k, v in m.displays.items()},
            flag_color=None if m.flag_color is None else tuple(m.flag_color),
            selected_pixel=m.selected_pixel, pins=self.pins,
            regions=tuple(self.regions.values()), superbias=superbias, compare=compare,
        )

    def save_session(self, path: str, view=None) -> bool:
        if self.dataset is None:
            self._error("Save session", "open an exposure first: a session without one restores nothing")
            return False
        try:
            write_session(path, self.session_state(view))
        except (OSError, ValueError) as err:
            self._error("Save session", f"{path}: {getattr(err, 'strerror', None) or err}")
            return False
        self.views.status.flash(f"session saved to {path}", 5000)
        return True

    # -- restoring -------------------------------------------------------------------------
    def open_session(self, path: str) -> bool:
        """Read and restore a session file; a bad or stale one is a message and changes nothing."""
        try:
            session = read_session(path)
        except SessionFileError as err:
            self._error("Open session", err)
            return False
        return self.restore_session(session, source=str(path))

    def restore_session(self, session: Session, source: str = "the session") -> bool:
        try:
            displays = self._session_displays(session, source)
            if not session.exposures:
                raise SessionFileError(f"{source}: the session names no exposure")
            missing = session.missing_exposures()
            if missing:
                raise SessionFileError(f"{source}: the exposure(s) {', '.join(missing)} no longer exist(s); "
                                       "nothing was changed")
        except SessionFileError as err:
            self._error("Open session", err)
            return False
        from ._viewer import StartOptions

        cut = session.cutout
        cutout = (int(cut["row"]), int(cut["col"]), int(cut.get("half", self.cutout_half))) if "row" in cut else None
        options = StartOptions(frame=session.frame, cutout=cutout, full_frame=not cut.get("enabled", True),
                               calibrated=session.data_kind == "calibrated")
        self._pending_session = replace(session, displays=displays)
        self.pending_view = session.view
        self.open(session.exposures[0], options)
        return True

    @staticmethod
    def _session_displays(session: Session, source: str) -> dict:
        displays = default_displays()
        for kind, values in session.displays.items():
            if kind not in PANES:
                continue  # a pane this version does not have
            try:
                displays[kind] = PaneDisplay(**values).validated()
            except (TypeError, ValueError) as err:
                raise SessionFileError(f"{source}: display settings of the {kind} pane: {err}") from None
        return displays

    def _apply_pending_session(self, ds) -> None:
        s, self._pending_session = self._pending_session, None
        if self.superbias is None:
            self.superbias_source = None  # it described the previous exposure's superbias
        if s is None or ds.uri != s.exposures[0]:
            return
        m = self.model
        with m.batch():
            m.displays = s.displays
            m.flag_color = s.flag_color
            m.baseline = s.baseline
            if s.selected_pixel is not None:
                m.selected_pixel = s.selected_pixel
        self.set_regions(s.regions)
        self.clear_pins()  # the session's pins, not those left from before
        for row, col in s.pins:
            self.pin_pixel(row, col)
        if s.superbias and s.superbias.get("darks"):
            self._restore_superbias(s.superbias)
        if s.compare:
            self.restore_compare(s.compare)

    def _restore_superbias(self, spec: dict) -> None:
        from ..jobs.superbias import superbias_job

        darks = [d for d in spec["darks"] if "://" in d or Path(d).exists()]
        if len(darks) != len(spec["darks"]):
            gone = sorted(set(spec["darks"]) - set(darks))
            self._error("Superbias", f"the session's darks {', '.join(gone)} no longer exist; no superbias subtracted")
            return
        method = spec.get("method", "median")
        ds_id = self.dataset.id

        def done(superbias):
            if self.dataset is None or self.dataset.id != ds_id:
                return
            if self.set_superbias(superbias):
                self.superbias_source = {"darks": darks, "method": method}
                self.model.subtract_superbias = bool(spec.get("subtract", False))

        self.submit("superbias", lambda token: superbias_job(darks, method), done, tag=ds_id, task=True)
