"""The whole bright-star campaign: a synthetic campaign, its index, a run over dask, a report.

* :mod:`.synth` -- illuminated exposures at magnitudes 4 to 18 on WFI04 and
  WFI11, then darks carrying persistence, with a manifest of the truth.
* :mod:`.index` -- one row per exposure from the ASDF trees and one small read.
* :mod:`.analysis` -- what one task computes for one exposure (no dask here).
* :mod:`.run` -- the tasks on dask.distributed, results written atomically.
* :mod:`.report` -- the campaign's plots in a PDF.
"""
