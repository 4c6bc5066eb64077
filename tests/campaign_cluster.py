"""An external dask cluster for the campaign tests: the ``dask`` command line's scheduler and workers.

Nothing of the cluster runs in the test process: ``dask scheduler`` and each
``dask worker`` (a nanny process and its worker process) are programs
started with :mod:`subprocess` on 127.0.0.1, all at once (the workers wait
for the scheduler file).  :meth:`ExternalCluster.stop` ends them and checks
that no process of the cluster is left, the nannies' worker processes
included.  :class:`HoldFirstTask` is a worker plugin (the workers import
this module from the tests folder) that makes the first task of the whole
cluster wait inside ``analyse``, so a test can kill its worker or the
scheduler while it runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from distributed import Client, WorkerPlugin

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


def subprocess_env(**extra: str) -> dict:
    """This checkout's code (and the tests folder: the probe, this module) for a subprocess."""
    path = os.pathsep.join(p for p in (str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


class ExternalCluster:
    """``dask scheduler`` + ``workers`` x ``dask worker --nworkers 1 --nthreads 1``, started together.

    Parameters
    ----------
    folder : Path
        Working folder of the processes (scheduler file, log).
    workers : int
        Worker programs to start.
    preload : str or None
        A module the scheduler preloads (``campaign_scheduler_probe``).
    env : dict
        Extra environment of every process (e.g. the workers' ``BRIGHTSTAR_CACHE_DIR``).

    Attributes
    ----------
    address : str
        ``tcp://127.0.0.1:PORT`` of the scheduler.
    client : distributed.Client
        The test's own client (to read the probe, register plugins, ask pids).
    """

    def __init__(self, folder: Path, workers: int = 2, preload: str | None = None, env: dict | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.log_path = folder, folder / "cluster.log"
        sched_file = folder / "scheduler.json"
        env = subprocess_env(**(env or {}))
        self._log = open(self.log_path, "wb")
        scheduler = dask_cli() + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(sched_file)] + (["--preload", preload] if preload else [])
        worker = dask_cli() + ["worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--nworkers", "1",
                               "--no-dashboard", "--host", "127.0.0.1"]
        run = dict(env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=folder)
        # All at once: a worker waits for the scheduler file (interpreter start-up is most of the cost).
        self.scheduler = subprocess.Popen(scheduler, **run)
        self.workers = [subprocess.Popen(worker + ["--name", f"{folder.name}-{i}"], **run) for i in range(workers)]
        self._seen: set[psutil.Process] = set()
        self.client = None
        try:
            deadline = time.monotonic() + 90
            while not sched_file.exists():
                assert self.scheduler.poll() is None and time.monotonic() < deadline, self.log()
                time.sleep(0.1)
            self.client = Client(scheduler_file=str(sched_file), timeout=60)
            self.client.wait_for_workers(workers, timeout=120)
        except BaseException:
            self.stop(check=False)
            raise
        self.address = self.client.scheduler.address
        self.port = int(self.address.rsplit(":", 1)[1])
        self._remember()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        """Pids of the worker processes (the nannies' children) the scheduler knows now."""
        return set(self.client.run(os.getpid).values())

    def _remember(self) -> None:
        for p in [self.scheduler, *self.workers]:
            try:
                proc = psutil.Process(p.pid)
                self._seen |= {proc, *proc.children(recursive=True)}
            except psutil.NoSuchProcess:
                pass

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler (no goodbye to its clients and workers)."""
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait(10)

    def stop(self, check: bool = True) -> None:
        """End every process of the cluster; with ``check``, assert none is left (worker processes included)."""
        if self.client is not None:
            self._remember()  # a nanny's restarted worker too
            self.client.close(timeout=10)
            self.client = None
        programs = [*self.workers, self.scheduler]
        for p in programs:
            if p.poll() is None:
                p.terminate()
        for p in programs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        # A nanny ends its worker process on SIGTERM; give the orphans a moment, then make sure.
        left = [p for p in self._seen if _alive(p)]
        deadline = time.monotonic() + 20
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [p for p in left if _alive(p)]
        for p in left:
            p.kill()
        self._log.close()
        if check:
            assert not left, f"cluster processes still running after stop: {left}\n{self.log()[-3000:]}"


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class HoldFirstTask(WorkerPlugin):
    """In each worker: the first task of the whole cluster holds ``seconds`` inside analyse().

    Before holding it writes ``holding-<pid>`` (its worker process's pid;
    the exposure's name inside) in ``folder``; every task start leaves
    ``started-<pid>-<name>``, so a test sees a task rerun elsewhere.
    """

    name = "hold-first-task"

    def __init__(self, folder: str, seconds: float):
        self.folder, self.seconds = folder, seconds

    def setup(self, worker):
        import processing.campaign.run as campaign_run

        original = campaign_run.analyse
        folder, seconds = Path(self.folder), self.seconds

        def analyse(row, *args, **kwargs):
            (folder / f"started-{os.getpid()}-{row['name']}").touch()
            try:  # only one task in the whole cluster gets the flag
                os.close(os.open(folder / "held", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                (folder / f"holding-{os.getpid()}").write_text(row["name"])
                time.sleep(seconds)
            except FileExistsError:
                pass
            return original(row, *args, **kwargs)

        campaign_run.analyse = analyse


def serial_reference(campaign, tmp_path_factory):
    """The index rows and a serial run's results of ``campaign`` (what every cluster run is compared with)."""
    from processing.campaign.index import build_index_job
    from processing.campaign.run import load_results, run_serial
    from processing.progress import run

    rows = run(build_index_job(str(campaign["root"])))
    out = tmp_path_factory.mktemp("serial")
    assert not run_serial(rows, out, campaign["root"] / "references").failed
    return rows, load_results(out)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    """Poll ``predicate`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(poll)
