"""brightstar-gui: an interactive viewer for Roman WFI TVAC bright-star ramps.

The Qt application around :mod:`processing`: four linked panes (raw frame,
difference, slope ratio, saturation mask), a frame slider, cutouts, pixel
ramps, background calibration and diagnostics, and figure export.

Where things are
----------------
models/
    The view state (:class:`~brightstar_gui.models.ViewModel`): Qt-free,
    typed, evented (psygnal), with batched events.
controllers/
    :class:`~brightstar_gui.controllers.ViewerController` owns the model,
    the open exposure and the jobs; talks to views through the protocols
    of ``controllers/_protocols.py``; the request cycle is explained at the
    top of ``controllers/_viewer.py``.  Testable without a window
    (:class:`~brightstar_gui.controllers.SyncRunner`).
jobs/
    Background jobs, pure functions of frozen requests (Qt-free).
widgets/
    The thin Qt views: the main window, panes, slider, controls, ramp plot,
    browsers, dialogs (ndv's ``views/``; the project keeps the name
    ``widgets/``).
workers
    The one worker pool (QThreads, channels, cancel, generations).
app, trace, settings
    ``brightstar-gui``'s command line, ``--trace`` JSON lines, saved settings.
"""

__version__ = "0.1.0"
