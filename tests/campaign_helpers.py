"""The synthetic campaigns shared by the campaign tests.

``tests/conftest.py`` imports these fixtures, so each campaign is written once
per test session (a test module importing them itself would get its own
copy: pytest caches a fixture per module that defines it).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def campaign(tmp_path_factory) -> dict:
    """The default campaign (256 px, 8 reads, six stars, five darks per detector).

    Returns the manifest plus ``root`` (Path).
    """
    from processing.campaign.synth import write_campaign_job
    from processing.progress import run

    root = tmp_path_factory.mktemp("campaign")
    manifest = run(write_campaign_job(root))
    manifest["root"] = root
    return manifest


@pytest.fixture(scope="session")
def wide_campaign(tmp_path_factory) -> dict:
    """A four-read campaign of full-width (4096 px) exposures: one star on WFI11, one dark per detector.

    Calibration (refpix) needs the full 4096-column detector, so ``--calibrate``
    tests use this one.  Returns the manifest plus ``root`` (Path).
    """
    from processing.campaign.synth import CampaignConfig, write_campaign_job
    from processing.progress import run

    root = tmp_path_factory.mktemp("wide-campaign")
    manifest = run(write_campaign_job(root, CampaignConfig(size=4096, frames=4, stars=((4.0, "WFI11", (0.25, 0.25)),),
                                                           n_darks=1)))
    manifest["root"] = root
    return manifest


@pytest.fixture(scope="session")
def wide_calibrated(wide_campaign, tmp_path_factory) -> dict:
    """A serial ``--calibrate`` run of :func:`wide_campaign` in this process, with its own cache.

    Returns ``rows`` (the index), ``summary`` (RunSummary), ``out`` (results
    folder) and ``cache`` (the BRIGHTSTAR_CACHE_DIR it calibrated into).
    """
    import os

    from processing.campaign.index import build_index_job
    from processing.campaign.run import run_serial
    from processing.progress import run

    rows = run(build_index_job(str(wide_campaign["root"])))
    tmp = tmp_path_factory.mktemp("wide-calibrated")
    old = os.environ.get("BRIGHTSTAR_CACHE_DIR")
    os.environ["BRIGHTSTAR_CACHE_DIR"] = str(tmp / "cache")
    try:
        summary = run_serial(rows, tmp / "cal", wide_campaign["root"] / "references", calibrate=True)
    finally:
        if old is None:
            os.environ.pop("BRIGHTSTAR_CACHE_DIR", None)
        else:
            os.environ["BRIGHTSTAR_CACHE_DIR"] = old
    return {"rows": rows, "summary": summary, "out": tmp / "cal", "cache": tmp / "cache"}
