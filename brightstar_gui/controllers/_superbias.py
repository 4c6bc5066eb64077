"""The superbias: kept for every exposure of the detector it was made for, until cleared.

A mixin of :class:`~brightstar_gui.controllers.ViewerController`.  The state
is two plain fields on the controller (what a session save needs):

``superbias``
    (H, W) float32, read-only, DN, or None.
``superbias_detector``
    ``meta.instrument.detector`` of the darks' exposure it was made while
    viewing (e.g. ``"WFI11"``), or None when that exposure did not say.

Opening another exposure keeps it when the detector and the frame shape are
the same (a bias belongs to a detector, not to one file); otherwise it is
dropped with a message saying why.  :meth:`clear_superbias` drops it.
"""

from __future__ import annotations

import numpy as np

from ..jobs import opening


def detector_of(ds) -> str | None:
    """``meta.instrument.detector`` of a dataset, or None."""
    if ds is None:
        return None
    det = ds.primary.get_meta("instrument.detector")
    return str(det) if det else None


class SuperbiasMixin:
    superbias: np.ndarray | None = None
    superbias_detector: str | None = None

    def set_superbias(self, superbias: np.ndarray) -> bool:
        """Use ``superbias`` (H, W, DN) for this exposure and every later one of its detector."""
        if self.dataset is None:
            return False
        if superbias.shape != tuple(self.model.frame_shape):
            self._error("Superbias", f"superbias shape {superbias.shape} does not match frames {self.model.frame_shape}")
            return False
        self.superbias = opening.readonly(np.asarray(superbias, np.float32))
        self.superbias_detector = detector_of(self.dataset)
        self.model.superbias_available = True
        return True

    def superbias_applies(self) -> bool:
        """The superbias is subtracted from what the panes show: ticked, made, and the values shown are raw.

        A bias is subtracted from raw DN only: a calibrated ramp is already
        bias-corrected (the panes showed "calibrated DN, superbias-subtracted",
        about 11000 DN too low, while the pixel table did not subtract).
        """
        m, ds = self.model, self.dataset
        return bool(m.subtract_superbias and self.superbias is not None and ds is not None
                    and m.data_kind == "raw" and ds.raw is not None)

    def clear_superbias(self) -> None:
        """Drop the superbias (Analysis > Clear superbias)."""
        had = self.superbias is not None
        self.superbias = None
        self.superbias_detector = None
        self.model.superbias_available = False
        if had:
            self.views.status.flash("superbias cleared", 5000)

    def _keep_superbias_for(self, ds) -> None:
        """After opening ``ds``: keep the superbias if it belongs to the same detector and shape, else drop it."""
        sb = self.superbias
        if sb is None:
            return
        det = detector_of(ds)
        same_shape = tuple(sb.shape) == tuple(ds.shape[1:])
        if same_shape and det == self.superbias_detector:
            self.model.superbias_available = True
            self.views.status.flash(f"superbias of {det or 'this detector'} kept (Analysis > Clear superbias drops it)",
                                    8000)
            return
        why = "frame shape" if not same_shape else f"detector {det or 'unknown'}, not {self.superbias_detector or 'unknown'}"
        self.superbias = None
        self.superbias_detector = None
        self.model.superbias_available = False
        self.views.status.flash(f"superbias dropped: this exposure has another {why}", 8000)
