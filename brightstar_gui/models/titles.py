"""Pane titles on screen: what the pane is, then what its values are (Qt-free).

One word per thing: the data are "raw" or "calibrated", and the image pane
says "superbias-subtracted" only when it is -- never "Raw frame
(calibrated)".  The first line is the pane's name, the one the display
controls' pane selector uses (:data:`processing.figures.PANE_TITLES`).
"""

from __future__ import annotations

from processing.figures import PANE_TITLES


def pane_title(kind: str, data_kind: str, baseline: int, superbias: bool = False) -> str:
    """Two lines ("\\n"): the pane's name, and the values it shows.

    Parameters
    ----------
    kind : {"raw", "difference", "ratio", "mask"}
    data_kind : {"raw", "calibrated"}
    baseline : int
        Frame subtracted in the difference pane.
    superbias : bool
        The superbias is subtracted from the image pane.
    """
    name = PANE_TITLES[kind]
    if kind == "raw":
        what = f"{data_kind} DN" + (", superbias-subtracted" if superbias else "")
    elif kind == "difference":
        what = f"frame \N{MINUS SIGN} frame {baseline}, {data_kind} DN"
    elif kind == "ratio":
        what = f"from {data_kind} DN"
    else:
        # The saturation test runs on the raw reads whatever is shown.
        what = "raw DN, saturation test"
    return f"{name}\n{what}"
