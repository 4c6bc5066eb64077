"""Realistic synthetic TVAC bright-star exposures and reference files.

The real data (``s3://stpubdata/roman/nexus/tvac/``) and the Roman CRDS server
are not reachable everywhere, so the project makes its own: real
``roman_datamodels`` files that romancal's exposure steps accept, with the
features the tutorial's figures show.

The detector model (all quantities in DN; times in seconds)
------------------------------------------------------------
* 4096 x 4096 pixels with a 4-pixel reference border, read through 32
  channels of 128 columns, plus the amp33 reference channel (N, 4096, 128).
* Bias 10-12 kDN: a per-channel level, a gentle gradient and per-pixel
  structure.  Read noise about 5 DN per read.
* Correlated noise per read: a per-channel offset and a row-wise common-mode
  (readout-time) signal shared by all channels and amp33, so it shows in the
  border reference pixels and in amp33 and refpix has something real to take
  out.  The REFPIX reference low-passes amp33 (:func:`refpix_alpha`), so the
  correction removes the common mode without adding amp33's own read noise.
* Illuminated pixels integrate charge with shot noise; the measured signal is
  non-linear (``M = S - a2 S**2``) and clips at a per-pixel full well.  The
  saturation reference's threshold sits just below the clip, in raw DN
  (bias included), a few thresholds are NaN (``NO_SAT_CHECK``).
* A bright point source (about magnitude 4 through F146): a Moffat core
  (r**-4 wings) that saturates in the first reads, the projector's
  out-of-focus ghost -- a disc of ~450 DN/s and ~185 px radius with a steep
  rim, whose pixels saturate read after read out to ~170 px -- three broad,
  faint concentric rings outside the tutorial's cutout, and a diffuse
  background of 0.15 DN/s.
* Hot, warm, dead and low-QE pixels flagged in the mask (with the reference
  border), NaN thresholds, and a sprinkle of pixels whose bias lies below
  the A/D converter's floor (they read 0 DN).

The parameters are tuned so that the full-size set, calibrated by the
streaming engine, prints the tutorial's numbers for the real exposure within
25 % (``bench/bench_synth_realism.py``): frame-difference percentiles over
the detector and the 512 x 512 cutout, flagged, saturated (~92 000) and
A/D-floor (~870) pixel counts.

Exposures are written read by read into their place in the final file
(:mod:`.synth_files`), so the full set (four 55-read exposures and the
references, 8.0 GB) needs well under 4 GiB of memory: writing the first look
peaks at 1.4 GB RSS (``bench/bench_first_look.py``).

The code is split by what it holds: :mod:`.synth_config` (layout, names,
:class:`SynthConfig`), :mod:`.synth_detector` (the per-pixel maps and the
scene), :mod:`.synth_reads` (the reads), :mod:`.synth_files` (one exposure
file), :mod:`.synth_references` (the reference files) and this module (the
data set: its files, manifest and the first-look / darks jobs).  Every name
is importable from ``processing.synth``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from .progress import Job, Progress, scaled
from .synth_config import (AMP33_WIDTH, BORDER, DARK_ACTIVITY, DARK_STAMPS, DETECTOR, FILTER, FRAME_TIME,  # noqa: F401
                           FULL_SIZE, GENERATOR_VERSION, ILLUM_ACTIVITY, ILLUM_STAMP, N_CHANNELS, PROGRAM_DIR,
                           REFERENCE_TYPES, SynthConfig, exposure_filename)
from .synth_detector import Detector  # noqa: F401
from .synth_files import (ExposurePlan, _build_model, _compression_arg, _save_atomically,  # noqa: F401
                          prewarm_datamodels, write_checksums, write_exposure, write_exposure_job)
from .synth_reads import generate_frames  # noqa: F401
from .synth_references import refpix_alpha, write_reference_files_job  # noqa: F401


def dataset_paths(outdir: Path) -> dict[str, object]:
    """Where :func:`write_dataset_job` puts each file, without writing anything."""
    base = Path(outdir) / PROGRAM_DIR
    return {
        "illuminated": base / ILLUM_ACTIVITY / exposure_filename(ILLUM_STAMP),
        "darks": [base / DARK_ACTIVITY / exposure_filename(s) for s in DARK_STAMPS],
        "references": Path(outdir) / "references",
        "manifest": Path(outdir) / "manifest.json",
    }


def _write_manifest(outdir: Path, cfg: SynthConfig, refs: dict[str, Path], complete: bool) -> dict:
    where = dataset_paths(outdir)
    manifest = {
        "generator": "brightstar-gui processing.synth",
        "generator_version": GENERATOR_VERSION,
        "complete": complete,
        "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
        "star_center": list(cfg.center()),
        "illuminated": str(Path(where["illuminated"]).relative_to(outdir)),
        "darks": [str(Path(p).relative_to(outdir)) for p in where["darks"]],
        "references": {k: str(Path(v).relative_to(outdir)) for k, v in refs.items()},
        "detector": DETECTOR,
        "optical_element": FILTER,
    }
    manifest_path = Path(where["manifest"])
    tmp = manifest_path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, manifest_path)
    return manifest


#: Share of the first look's progress that the illuminated exposure takes (the references the rest).
EXPOSURE_SHARE = 0.85


@dataclass(frozen=True, eq=False)
class FirstLookExposure:
    """The first look's illuminated exposure, written; its reference files are still to come.

    Attributes
    ----------
    path : Path
        The exposure (complete, openable).
    detector : Detector
        The detector model it was made with, for the reference files.
    """

    path: Path
    detector: Detector


def write_illuminated_job(outdir, cfg: SynthConfig, det: Detector | None = None) -> Job[FirstLookExposure]:
    """Write the first look's illuminated exposure (step 1 of :func:`write_first_look_job`).

    Removes the set's manifest first: nothing in ``outdir`` is usable until
    :func:`write_first_look_references_job` writes it again.
    """
    outdir = Path(outdir)
    where = dataset_paths(outdir)
    manifest_path = Path(where["manifest"])
    if manifest_path.exists():
        manifest_path.unlink()
    prewarm_datamodels()
    if det is None:
        yield Progress(0.0, "building the detector model")  # seconds at 4096 x 4096: say so first
        det = Detector(cfg)
    yield Progress(0.02, "detector model")
    plan = ExposurePlan(Path(where["illuminated"]), ILLUM_STAMP, True, seed_offset=0)
    yield from scaled(write_exposure_job(plan, cfg, det), 0.02, 1.0)
    return FirstLookExposure(plan.path, det)


def write_first_look_references_job(outdir, cfg: SynthConfig, exposure: FirstLookExposure) -> Job[dict]:
    """Write the reference files and the manifest (step 2 of :func:`write_first_look_job`).

    The manifest says ``"complete": false`` (the darks are still to come).

    Returns
    -------
    dict
        The (incomplete) manifest.
    """
    outdir = Path(outdir)
    refs_dir = Path(dataset_paths(outdir)["references"])
    refs = yield from scaled(write_reference_files_job(refs_dir, cfg, exposure.detector), 0.0, 1.0, "references: ")
    return _write_manifest(outdir, cfg, refs, complete=False)


def write_first_look_job(outdir, cfg: SynthConfig, det: Detector | None = None) -> Job[dict]:
    """Write the illuminated exposure and the reference files: enough to look.

    Writes a manifest with ``"complete": false`` (the darks are still to
    come), so a viewer can open the exposure with its references while
    :func:`write_darks_job` writes the rest.  The viewer's demo runs the two
    steps as two jobs (:func:`write_illuminated_job`, then
    :func:`write_first_look_references_job`) and opens the exposure between.

    Returns
    -------
    dict
        The (incomplete) manifest.
    """
    exposure = yield from scaled(write_illuminated_job(outdir, cfg, det), 0.0, EXPOSURE_SHARE)
    return (yield from scaled(write_first_look_references_job(outdir, cfg, exposure), EXPOSURE_SHARE, 1.0))


def manifest_is_current(manifest: dict | None, frames: int, size: int) -> bool:
    """Whether ``manifest`` describes a set of ``frames`` x ``size`` written by this generator version.

    A set written by an older generator (:data:`GENERATOR_VERSION`), or with
    another shape, is to be written again.
    """
    if not manifest:
        return False
    config = manifest.get("config", {})
    return (manifest.get("generator_version") == GENERATOR_VERSION and config.get("frames") == frames
            and config.get("size") == size)


def write_darks_job(outdir, cfg: SynthConfig, det: Detector | None = None) -> Job[dict]:
    """Write the three darks after :func:`write_first_look_job`; completes the manifest.

    Returns
    -------
    dict
        The complete manifest.
    """
    outdir = Path(outdir)
    first = read_manifest(outdir)
    if first is None:
        raise ValueError(f"{outdir}: no manifest; write the first look (illuminated exposure, references) first")
    refs = {k: outdir / v for k, v in first["references"].items()}
    if det is None:
        yield Progress(0.0, "building the detector model")
        det = Detector(cfg)
    yield Progress(0.02, "detector model")
    where = dataset_paths(outdir)
    plans = [ExposurePlan(p, s, False, seed_offset=i + 1) for i, (p, s) in enumerate(zip(where["darks"], DARK_STAMPS))]
    span = 0.98 / len(plans)
    for i, plan in enumerate(plans):
        yield from scaled(write_exposure_job(plan, cfg, det), 0.02 + i * span, 0.02 + (i + 1) * span)
    return _write_manifest(outdir, cfg, refs, complete=True)


def write_dataset_job(outdir, cfg: SynthConfig) -> Job[dict]:
    """Write the tutorial's set: the illuminated exposure, references, three darks.

    A ``manifest.json`` lists the files and the parameters; ``"complete":
    true`` in it marks a complete set.

    Returns
    -------
    dict
        The manifest.
    """
    det = Detector(cfg)
    yield from scaled(write_first_look_job(outdir, cfg, det), 0.0, 0.3)
    return (yield from scaled(write_darks_job(outdir, cfg, det), 0.3, 1.0))


def read_manifest(outdir) -> dict | None:
    """The manifest of a synthetic set in ``outdir`` (complete or not), or None.

    ``manifest["complete"]`` tells whether the darks are written too.
    """
    path = Path(outdir) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    manifest.setdefault("complete", True)
    return manifest


def remove_dataset(outdir) -> None:
    """Delete a synthetic set written by :func:`write_dataset_job`."""
    outdir = Path(outdir)
    for name in (PROGRAM_DIR, "references", "manifest.json"):
        target = outdir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
