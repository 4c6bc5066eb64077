"""The Campaign dock's controller: load or run a campaign, open an exposure at its star.

Qt-free like the viewer's controller; the view (the dock) implements
``show_campaign(table)`` and ``show_progress(fraction, message)``.  Jobs run
on the viewer's runner, on their own channel ("campaign"), so opening an
exposure from the table does not cancel a campaign run.
"""

from __future__ import annotations

import math

from ..jobs import campaign as campaign_jobs
from ._viewer import TASK_TITLES, StartOptions

TASK_TITLES.setdefault("campaign", "Campaign")


class CampaignController:
    """Load results, run a campaign, open a row's exposure.

    Parameters
    ----------
    viewer : ViewerController
        Opens exposures and runs jobs.
    view : object
        ``show_campaign(table)`` and ``show_progress(fraction, message)``.
    """

    CHANNEL = "campaign"
    #: Seconds to wait for an external scheduler before saying it cannot be reached.
    connect_timeout = 20.0

    def __init__(self, viewer, view):
        self.viewer = viewer
        self.view = view
        self.table = None

    def load(self, folder: str) -> None:
        """Tabulate a results folder of ``brightstar campaign run``."""
        req = campaign_jobs.LoadRequest(str(folder))
        self.viewer.submit(self.CHANNEL, lambda token: campaign_jobs.load_job(req), self._on_table, task=True,
                           on_progress=self.view.show_progress)

    def index_and_run(self, prefix: str, out: str, workers: int | None = None, calibrate: bool = False,
                      scheduler: str | None = None) -> None:
        """Index ``prefix``, analyse it into ``out``, then show the table.

        On the dask scheduler at ``scheduler`` (``tcp://HOST:PORT``; its
        workers must see ``prefix`` and ``out``) or, when it is empty, on an
        embedded LocalCluster of ``workers`` processes.
        """
        req = campaign_jobs.RunRequest(str(prefix), str(out), workers, calibrate, endpoint_url=self.viewer.endpoint_url,
                                       scheduler=(scheduler or "").strip() or None,
                                       connect_timeout=self.connect_timeout)
        self.viewer.submit(self.CHANNEL, lambda token: campaign_jobs.run_job(req), self._on_table, task=True,
                           on_progress=self.view.show_progress)

    def _on_table(self, table) -> None:
        self.table = table
        self.view.show_campaign(table)

    def open_row(self, row: int) -> None:
        """Open row ``row``'s exposure: at its last read, the cutout centred on its star (if it has one)."""
        t = self.table
        if t is None or not 0 <= row < len(t.uris):
            return
        star = t.stars[row]
        cutout = None
        if star is not None and all(math.isfinite(v) for v in star):
            cutout = (int(round(star[0])), int(round(star[1])), self.viewer.cutout_half)
        frame = t.reads[row] - 1 if t.reads[row] > 0 else None
        refs = t.references[row]
        if refs:
            # The campaign's references of this detector (a synthetic campaign
            # keeps one set per detector, which the viewer would not find).
            from processing import figures

            self.viewer.references_override = figures.references_in_folder(refs)
        self.viewer.open(t.uris[row], StartOptions(frame=frame, cutout=cutout))
