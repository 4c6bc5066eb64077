"""brightstar-gui: an interactive viewer for Roman WFI TVAC bright-star ramps.

The Qt application around :mod:`processing`: four linked panes (raw frame,
difference, slope ratio, saturation mask), a frame slider, cutouts, pixel
ramps, background calibration and diagnostics, and figure export.

Modules
-------
app
    ``brightstar-gui`` (``main()``).
main_window
    The window: wires the state, widgets and worker channels.
state
    The evented view state (Qt-free).
session
    What is open and the jobs the panes need (Qt-free).
workers
    Generator jobs on QThreads with cancel and generation numbers.
export, settings, widgets
"""

__version__ = "0.1.0"
