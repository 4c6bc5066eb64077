"""What the saturation diagnostics show (Qt-free, evented like :class:`~.view_model.ViewModel`).

Kept apart from the view model: these choices say which analysis the
docks show, not what the panes' data are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psygnal import evented

#: Panes that can show the onset map instead of their own content (the raw
#: pane keeps its frame: the onset contours are drawn over it).
ONSET_PANES = ("difference", "ratio", "mask")
GROWTH_SCOPES = ("cutout", "full")


@evented
@dataclass
class DiagnosticsModel:
    """Attributes
    ----------
    onset_pane : str
        "" (none) or one of :data:`ONSET_PANES`: that pane shows the onset map.
    contour_reads : tuple of int
        Reads whose saturated area is outlined over the raw pane (sorted, unique, >= 0).
    growth_scope : {"cutout", "full", "region:<id>"}
        What the growth plot counts: the shown cutout, the whole frame, or a
        drawn region (by its id).
    profile_kind : str
        One of :data:`brightstar_gui.jobs.profile.PROFILE_KINDS`.
    """

    onset_pane: str = ""
    contour_reads: tuple[int, ...] = ()
    growth_scope: str = "cutout"
    profile_kind: str = "frame"

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "onset_pane" and value not in ("",) + ONSET_PANES:
            raise ValueError(f"onset_pane must be '' or one of {ONSET_PANES}, not {value!r}")
        if name == "growth_scope" and value not in GROWTH_SCOPES and not _is_region_scope(value):
            raise ValueError(f"growth_scope must be one of {GROWTH_SCOPES} or 'region:<id>', not {value!r}")
        if name == "profile_kind":
            from ..jobs.profile import PROFILE_KINDS

            if value not in PROFILE_KINDS:
                raise ValueError(f"profile_kind must be one of {tuple(PROFILE_KINDS)}, not {value!r}")
        if name == "contour_reads":
            value = tuple(sorted({int(k) for k in value if int(k) >= 0}))
        super().__setattr__(name, value)


def _is_region_scope(value) -> bool:
    head, _, rid = str(value).partition(":")
    return head == "region" and rid.isdigit()
