"""The romancal engine: the tutorial's ``ExposurePipeline.call`` on the whole cube.

For machines with the memory for it (about 0.6 GiB per read) and as the
reference the streaming engine is tested against.  The pipeline runs in a
child process (``python -m processing.calibrate.whole_cube``):

* a cancel ends it at once (a call into stpipe cannot be interrupted);
* nothing it does -- ``sys.exit`` from CRDS, tens of GiB of arrays -- can end
  or bloat the caller, the GUI;
* its peak memory is its own, measurable apart from the caller's.

The child reports progress as JSON lines on stdout, from stpipe's "Step X
running/done" log records; the parent turns them into :class:`Progress`
reports and sends a heartbeat report at least every half second so that a
cancel is noticed promptly.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..errors import ExposureError, ReferenceFileError
from ..progress import Job, Progress
from .references import ReferenceSet
from .steps import SKIPPED_STEPS

log = logging.getLogger(__name__)

#: Share of the pipeline's wall time at the *end* of each step (measured at 6-12 reads).
_STEP_END = {"load": 0.08, "dq_init": 0.14, "saturation": 0.3, "refpix": 0.72, "linearity": 0.9}
_HEARTBEAT_S = 0.5


class CalibrationFailed(RuntimeError):
    """The romancal pipeline failed; the message says why."""


def pipeline_kwargs(refs: ReferenceSet) -> dict:
    """The tutorial's ``pipe_kwargs`` with our reference files and the extra skips."""
    step_kwargs = refs.step_overrides()
    for name in SKIPPED_STEPS:
        step_kwargs.setdefault(name, {})["skip"] = True
    return {"save_results": False, "steps": step_kwargs}


def romancal_job(uri: str, refs: ReferenceSet, out_path: Path, *, anon: bool = True,
                 endpoint_url: str | None = None) -> Job[dict]:
    """Run the whole-cube pipeline in a child process and save its RampModel to ``out_path``.

    Returns
    -------
    dict
        ``cal_step`` and ``ref_file`` of the result.
    """
    request = {"uri": str(uri), "refs": refs.as_strings(), "out": str(out_path), "anon": anon, "endpoint_url": endpoint_url}
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "processing.calibrate.whole_cube", json.dumps(request)],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True, env=dict(os.environ),
    )
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, name="romancal-output", daemon=True)
    reader.start()
    fraction, message = 0.0, "starting romancal"
    result: dict | None = None
    error: dict | None = None
    try:
        while True:
            try:
                line = lines.get(timeout=_HEARTBEAT_S)
            except queue.Empty:
                yield Progress(fraction, message)  # heartbeat: lets the consumer cancel
                continue
            if line is None:
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "progress" in record:
                fraction, message = float(record["progress"]), str(record.get("message", ""))
                yield Progress(fraction, message)
            elif "result" in record:
                result = record["result"]
            elif "error" in record:
                error = record
        code = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        log.seek(0)
        tail = log.read()[-2000:]
        log.close()
    if error is not None:
        kind = {"ReferenceFileError": ReferenceFileError}.get(error.get("kind"))
        if kind is not None:
            raise kind(error["error"])
        if error.get("kind") == "ExposureError":
            raise ExposureError(str(uri), error["error"])
        raise CalibrationFailed(f"romancal failed: {error['error']}")
    if code != 0 or result is None:
        raise CalibrationFailed(f"romancal's process ended with status {code}: {tail.strip()[-800:] or 'no output'}")
    yield Progress(1.0, "romancal done")
    return result


# -- the child process ----------------------------------------------------------------------------


def _emit(**record) -> None:
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


class _StepProgress(logging.Handler):
    """Turns stpipe's "Step X running/done" records into progress lines."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.last = _STEP_END["load"]

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not text.startswith("Step "):
            return
        name = text.split()[1]
        if name in _STEP_END and text.endswith(" done"):
            self.last = max(self.last, _STEP_END[name])
            _emit(progress=self.last, message=f"{name} done")
        elif name in _STEP_END and " running " in text:
            _emit(progress=self.last, message=name)


def _open_model(uri: str, anon: bool, endpoint_url: str | None):
    from roman_datamodels import datamodels as rdm

    if uri.startswith("s3://"):
        import asdf
        import s3fs

        kwargs = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else {}
        fs = s3fs.S3FileSystem(anon=anon, **kwargs)
        with fs.open(uri, "rb") as fh, asdf.open(fh) as af:
            return rdm.open(af).copy()  # the tutorial's way
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return rdm.open(path)


def _child(request: dict) -> int:
    from .. import crds_env

    crds_env.configure()
    logging.getLogger("stpipe").addHandler(_StepProgress())
    try:
        from roman_datamodels import datamodels as rdm
        from romancal.pipeline import ExposurePipeline

        _emit(progress=0.01, message="loading the exposure")
        model = _open_model(request["uri"], request["anon"], request["endpoint_url"])
        _emit(progress=_STEP_END["load"], message="exposure loaded")
        refs = ReferenceSet({k: Path(v) for k, v in request["refs"].items()}, "given")
        with crds_env.guard_exit("romancal's ExposurePipeline"):
            result = ExposurePipeline.call(model, **pipeline_kwargs(refs))
        result = result[0] if isinstance(result, tuple) else result
        if not isinstance(result, rdm.RampModel):
            raise ExposureError(request["uri"], f"romancal returned a {type(result).__name__}, not a ramp (every pixel saturated?)")
        _emit(progress=0.92, message="saving")
        # refpix leaves data (and the border arrays) as views of a wider
        # array; saved as they are, they are strided blocks that a lazy
        # frame reader cannot use.
        import numpy as np

        for name in list(result.keys()):
            value = getattr(result, name, None)
            if isinstance(value, np.ndarray) and not value.flags.c_contiguous:
                setattr(result, name, np.ascontiguousarray(value))
        out = Path(request["out"])
        result.save(out, all_array_compression=None)
        cal_step = {k: str(v) for k, v in result.meta.cal_step.items()}
        ref_file = {k: (dict(v) if hasattr(v, "items") else str(v)) for k, v in result.meta.ref_file.items()}
        _emit(result={"cal_step": cal_step, "ref_file": ref_file})
        return 0
    except (ExposureError, ReferenceFileError, crds_env.PipelineExit) as err:
        _emit(error=str(err.problem if isinstance(err, ExposureError) else err), kind=type(err).__name__)
        return 1
    except Exception as err:
        _emit(error=f"{type(err).__name__}: {err}", kind=type(err).__name__)
        return 1


if __name__ == "__main__":  # pragma: no cover - run as the child process
    sys.exit(_child(json.loads(sys.argv[1])))
