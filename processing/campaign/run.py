"""The campaign on dask.distributed: one task per exposure, each result written atomically.

Each task opens its exposure itself (local path or ``s3://``), so no pixels
pass through the client or the scheduler: a task's argument is its index
row, its return value a few numbers.  The worker writes the result to
``RESULTS/<name>.json`` through a temporary file and a rename, so a result
file is either complete or absent; a rerun skips exposures whose result says
``"status": "ok"`` and retries those that failed.  A task that raises inside
the analysis records ``"status": "error"`` with the message (one bad exposure
never stops the others); a task whose worker dies is rerun by dask
(``retries``).  ``RESULTS`` must be a folder every worker can write (local
for the embedded cluster; shared storage for a remote one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .analysis import analyse

#: Times dask reruns a task whose worker was lost.
RETRIES = 2
#: Seconds to wait for an external scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 20.0


def result_path(out: str | Path, row: dict) -> Path:
    """Where the result of an index row goes: ``out/<file name without .asdf>.json``."""
    name = row["name"][:-5] if row["name"].endswith(".asdf") else row["name"]
    return Path(out) / f"{name}.json"


def _clean(value):
    """JSON cannot say NaN/inf portably: they become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_result(path: Path, result: dict) -> Path:
    """Write one result atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_text(json.dumps(_clean(result), indent=1))
    os.replace(tmp, path)
    return path


def read_result(path: Path) -> dict | None:
    """A result file, or None when missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def is_done(out: str | Path, row: dict, calibrate: bool = False) -> bool:
    """Whether ``out`` holds a finished (``ok``) result of ``row``, of the same kind (raw or calibrated)."""
    result = read_result(result_path(out, row))
    return bool(result) and result.get("status") == "ok" and bool(result.get("calibrate_requested", False)) == calibrate


def run_one(row: dict, index_rows: list[dict], out: str, references: str, endpoint_url: str | None = None,
            calibrate: bool = False) -> dict:
    """Analyse one exposure (calibrated first if asked) and write its result; return ``{"name", "status", "error"}``.

    Never raises for a bad exposure: the error is the result.
    """
    try:
        result = analyse(row, index_rows, references, endpoint_url, calibrate)
        result["status"], result["error"] = "ok", ""
    except Exception as err:  # one bad exposure must not stop the campaign
        result = {k: row.get(k) for k in ("uri", "name", "detector", "exposure_type", "start_s")}
        result.update(status="error", error=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc(limit=5))
    write_result(result_path(out, row), result)
    return {"name": row["name"], "status": result["status"], "error": result["error"]}


@dataclass(frozen=True)
class RunSummary:
    """What a campaign run did.

    Attributes
    ----------
    computed : tuple of str
        Exposures analysed in this run.
    skipped : tuple of str
        Exposures whose result was already there (``"ok"``).
    failed : dict
        name -> error, of this run's failures.
    """

    computed: tuple
    skipped: tuple
    failed: dict


def _todo(index_rows, out, calibrate: bool = False):
    # A result of the other kind (raw vs calibrated) is not this run's: redo it.
    todo = [r for r in index_rows if not is_done(out, r, calibrate)]
    skipped = tuple(r["name"] for r in index_rows if r not in todo)
    return todo, skipped


def run_serial(index_rows: list[dict], out, references, endpoint_url: str | None = None,
               calibrate: bool = False) -> RunSummary:
    """The same tasks one after the other in this process (reference for tests, small campaigns)."""
    todo, skipped = _todo(index_rows, out, calibrate)
    done = [run_one(r, index_rows, str(out), str(references), endpoint_url, calibrate) for r in todo]
    return RunSummary(tuple(d["name"] for d in done), skipped,
                      {d["name"]: d["error"] for d in done if d["status"] != "ok"})


def local_cluster(n_workers: int | None = None):
    """An embedded LocalCluster on 127.0.0.1: worker processes, one thread each, no dashboard.

    ``n_workers`` defaults to the machine's cores.  The workers are spawned
    without dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: an explicit trim
    threshold switches off glibc's adaptive mmap threshold, so every
    full-frame temporary is a fresh, zero-filled mapping, and the tasks ran
    1.7x slower than the same loop in one process (measured in
    bench/bench_campaign.py).
    """
    import dask
    from distributed import LocalCluster

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        return LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None, scheduler_kwargs={"dashboard": False},
                            worker_dashboard_address=None)


def connect(scheduler: str, timeout: float = CONNECT_TIMEOUT_S):
    """A dask Client on an existing scheduler, or a clear error naming the address within ``timeout`` seconds.

    Raises
    ------
    ClusterError
        If nothing answers at ``scheduler`` in time (refused, unroutable or a
        server that is not a dask scheduler).
    """
    from distributed import Client

    from ..errors import ClusterError

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"{scheduler}: no dask scheduler answered within {timeout:g} s ({err}); "
                           "is `dask scheduler` running there and reachable from here?") from None
    except ValueError as err:  # a malformed address
        raise ClusterError(f"{scheduler}: not a dask scheduler address ({err}); expected tcp://HOST:PORT") from None


def _scheduler_lost(client, out, err: BaseException):
    """The ClusterError for a run whose scheduler went away (dask cancels every pending future)."""
    from ..errors import ClusterError

    address = client.scheduler.address  # the address connected to, as the user gave it
    done = sum(1 for p in Path(out).glob("*.json") if (read_result(p) or {}).get("status") == "ok")
    return ClusterError(f"{address}: the dask scheduler stopped answering mid-run ({getattr(err, 'reason', err)}); "
                        f"{done} finished results in {out} are kept, rerun to do the rest")


class _QuietReconnect(logging.Filter):
    """Drops distributed.client's traceback of a reconnect given up: the run reports the lost scheduler itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


@contextmanager
def _lost_scheduler_is_an_error(client, out):
    """Turn dask's "cancelled for reason: scheduler-connection-lost" into one ClusterError naming the scheduler."""
    from distributed.client import FutureCancelledError, FuturesCancelledError

    try:
        yield
    except (FutureCancelledError, FuturesCancelledError) as err:
        reasons = {getattr(err, "reason", "")} | {g.reason for g in getattr(err, "error_groups", ())}
        if "scheduler-connection-lost" not in reasons and client.status == "running":
            raise  # cancelled for another reason (a GUI cancel): not a lost scheduler
        raise _scheduler_lost(client, out, err) from None


@contextmanager
def _quiet_reconnect():
    """While a client lives: no traceback of its given-up reconnect (logged when the client closes)."""
    quiet = _QuietReconnect()
    log = logging.getLogger("distributed.client")
    log.addFilter(quiet)
    try:
        yield
    finally:
        log.removeFilter(quiet)


def _the_index(index_rows: list[dict]) -> list[dict]:
    return index_rows


def index_on_cluster(client, index_rows: list[dict]):
    """The index as a cluster-side value every task depends on: sent once, not once per task.

    A task, not ``client.scatter``: scattered data lives only on the workers
    holding it, and a worker killed while holding the only copy loses it for
    good -- dask then cancels every task needing it ("lost scattered data").
    A task's result that is lost is recomputed from its spec, which the
    scheduler keeps, so a lost worker costs nothing here.
    """
    return client.submit(_the_index, index_rows, pure=False, key=f"campaign-index-{os.getpid()}-{time.time_ns()}")


def _for_workers(out, references) -> tuple[Path, Path]:
    # Workers of an external cluster run in their own working folder: relative paths would land there.
    return Path(os.path.abspath(out)), Path(os.path.abspath(references))


def run_on_client(client, index_rows: list[dict], out, references, endpoint_url: str | None = None,
                  progress: bool = False, calibrate: bool = False) -> RunSummary:
    """Submit one task per unfinished exposure to a dask client and wait for them (see :func:`run_job` for progress)."""
    from distributed import progress as progress_bar

    out, references = _for_workers(out, references)
    todo, skipped = _todo(index_rows, out, calibrate)
    index_future = index_on_cluster(client, index_rows)
    futures = [client.submit(run_one, r, index_future, str(out), str(references), endpoint_url, calibrate,
                             key=f"campaign-{r['name']}-{os.getpid()}", pure=False, retries=RETRIES)
               for r in todo]
    with _lost_scheduler_is_an_error(client, out):
        if progress and futures:
            progress_bar(futures)
        done = client.gather(futures)
    return RunSummary(tuple(d["name"] for d in done), skipped,
                      {d["name"]: d["error"] for d in done if d["status"] != "ok"})


def run_campaign(index_rows: list[dict], out, references, *, scheduler: str | None = None,
                 workers: int | None = None, endpoint_url: str | None = None, progress: bool = False,
                 calibrate: bool = False, connect_timeout: float = CONNECT_TIMEOUT_S) -> RunSummary:
    """Run the campaign on an existing scheduler (``tcp://host:port``) or an embedded LocalCluster.

    Raises
    ------
    ClusterError
        If ``scheduler`` does not answer within ``connect_timeout`` seconds.
    """
    from distributed import Client

    kwargs = {"progress": progress, "calibrate": calibrate}
    if scheduler:
        with _quiet_reconnect(), connect(scheduler, connect_timeout) as client:
            return run_on_client(client, index_rows, out, references, endpoint_url, **kwargs)
    with local_cluster(workers) as cluster, Client(cluster) as client:
        return run_on_client(client, index_rows, out, references, endpoint_url, **kwargs)


def default_references(index_rows: list[dict]) -> Path | None:
    """The ``references`` folder of a local synthetic campaign holding the index's files, if any."""
    for row in index_rows:
        if row["uri"].startswith("s3://"):
            continue
        for parent in Path(row["uri"]).parents:
            if (parent / "references").is_dir():
                return parent / "references"
    return None


def load_results(out) -> list[dict]:
    """Every result in a results folder, in time order."""
    results = [r for r in (read_result(p) for p in sorted(Path(out).glob("*.json"))) if r]
    return sorted(results, key=lambda r: (r.get("start_s") if r.get("start_s") is not None else math.inf,
                                          r.get("detector") or ""))


def run_job(index_rows: list[dict], out, references, *, scheduler: str | None = None, workers: int | None = None,
            endpoint_url: str | None = None, calibrate: bool = False, connect_timeout: float = CONNECT_TIMEOUT_S):
    """:func:`run_campaign` as a job: yields a :class:`~processing.progress.Progress` as tasks finish.

    Closing the generator (a GUI cancel) cancels the tasks not yet finished
    and shuts the embedded cluster down; finished results stay (each was
    written atomically), so the next run does only the rest.

    Returns
    -------
    RunSummary
    """
    from contextlib import ExitStack

    from distributed import Client

    from ..progress import Progress

    out, references = _for_workers(out, references)
    todo, skipped = _todo(index_rows, out, calibrate)
    yield Progress(0.0, f"{len(todo)} exposures to analyse, {len(skipped)} already done")
    if not todo:
        return RunSummary((), skipped, {})
    with ExitStack() as stack:
        yield Progress(0.0, "starting the dask cluster" if not scheduler else f"connecting to {scheduler}")
        if scheduler:
            stack.enter_context(_quiet_reconnect())
            client = stack.enter_context(connect(scheduler, connect_timeout))
        else:
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(Client(cluster))
        index_future = index_on_cluster(client, index_rows)
        pending = {client.submit(run_one, r, index_future, str(out), str(references), endpoint_url, calibrate,
                                 key=f"campaign-{r['name']}-{os.getpid()}", pure=False, retries=RETRIES) for r in todo}
        futures = list(pending)
        done: list[dict] = []
        try:
            with _lost_scheduler_is_an_error(client, out):
                while pending:
                    finished = {f for f in pending if f.done()}
                    if not finished:
                        time.sleep(0.2)  # and yield, so that a cancel is seen within a fraction of a second
                    pending -= finished
                    done.extend(f.result() for f in finished)
                    yield Progress(len(done) / len(futures), f"analysed {len(done)}/{len(futures)}")
        except BaseException:
            client.cancel(list(pending))
            raise
    return RunSummary(tuple(d["name"] for d in done), skipped, {d["name"]: d["error"] for d in done if d["status"] != "ok"})
