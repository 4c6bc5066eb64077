"""The viewer's state, Qt-free and evented (psygnal): what the user sees, not how.

See :mod:`brightstar_gui.models.view_model`.
"""

from .view_model import DATA_KINDS, Cutout, PaneDisplay, ViewModel, default_displays

__all__ = ["DATA_KINDS", "Cutout", "PaneDisplay", "ViewModel", "default_displays"]
