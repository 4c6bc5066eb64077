"""The small synthetic campaign shared by the campaign tests (written once per session).

Test modules import the fixture explicitly::

    from campaign_helpers import campaign  # noqa: F401  (pytest fixture)
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
