"""The Campaign dock's jobs (Qt-free): load a results folder; index a folder and run the campaign.

Requests are frozen; both jobs return a
:class:`processing.campaign.table.CampaignTable`.
"""

from __future__ import annotations

from dataclasses import dataclass

from processing.progress import Job, Progress, scaled


@dataclass(frozen=True)
class LoadRequest:
    """Tabulate the results in ``folder``."""

    folder: str


@dataclass(frozen=True)
class RunRequest:
    """Index the exposures under ``prefix``, analyse them into ``out`` on a dask cluster, tabulate.

    Attributes
    ----------
    prefix : str
        Local folder or ``s3://`` prefix.
    out : str
        Results folder (finished results in it are kept and not redone).
    workers : int or None
        Worker processes (None: the machine's cores).
    calibrate : bool
        Calibrate each exposure first (through the calibration cache).
    references : str or None
        Reference folder (None: the synthetic campaign's, next to the exposures).
    endpoint_url : str or None
    scheduler : str or None
        ``tcp://HOST:PORT`` of an existing dask scheduler whose workers open
        the files themselves (None: an embedded LocalCluster of ``workers``).
    connect_timeout : float
        Seconds to wait for ``scheduler`` before a clear error naming it.
    """

    prefix: str
    out: str
    workers: int | None = None
    calibrate: bool = False
    references: str | None = None
    endpoint_url: str | None = None
    scheduler: str | None = None
    connect_timeout: float = 20.0


def load_job(req: LoadRequest) -> Job:
    from processing.campaign.table import campaign_table

    yield Progress(0.0, f"reading {req.folder}")
    table = campaign_table(req.folder)
    yield Progress(1.0, f"{len(table.rows)} results")
    return table


def run_job(req: RunRequest) -> Job:
    from processing.campaign.index import build_index_job
    from processing.campaign.run import default_references, run_job as campaign_run_job
    from processing.campaign.table import campaign_table
    from processing.errors import ReferenceFileError

    rows = yield from scaled(build_index_job(req.prefix, endpoint_url=req.endpoint_url), 0.0, 0.1, "index: ")
    refs = req.references or default_references(rows)
    if refs is None:
        raise ReferenceFileError(f"{req.prefix}: no reference folder found next to the exposures; choose one")
    yield from scaled(campaign_run_job(rows, req.out, refs, scheduler=req.scheduler, workers=req.workers,
                                       endpoint_url=req.endpoint_url, calibrate=req.calibrate,
                                       connect_timeout=req.connect_timeout), 0.1, 0.98, "")
    yield Progress(0.99, "tabulating")
    return campaign_table(req.out)
