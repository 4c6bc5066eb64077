"""The superbias of dark exposures (the tutorial's optional section), as a job."""

from __future__ import annotations


def superbias_job(paths: list[str], method: str):
    """Open the darks and combine their bias intercepts (a progress generator)."""
    from processing.diagnostics import superbias_job as _superbias_job
    from processing.io import open_exposure

    exps = [open_exposure(p) for p in paths]
    try:
        return (yield from _superbias_job(exps, method))
    finally:
        for e in exps:
            e.close()
