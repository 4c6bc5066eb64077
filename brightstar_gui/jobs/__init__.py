"""The viewer's background jobs: pure functions of a frozen request (Qt-free).

Every job takes a frozen request holding everything it needs (exposures are
read-only handles; arrays are marked read-only) and returns a frozen result;
it never reads or writes the controller's state, so a job still running for
a frame the user has left cannot disturb what is on screen (napari's slicer
rule).  The controller applies results on the UI thread and drops stale ones.

Modules
-------
opening
    :func:`open_job`, :func:`context_job`, :func:`attach_job`: an exposure
    and what is derived from it (:class:`Dataset`, :class:`Context`).
render
    :func:`render_job`: the four pane images of one frame, coloured.
pixel
    :func:`pixel_job`: the ramps of a pixel and its 3 x 3 neighbours.
summary
    :func:`summary_job`: mean slope and saturation onset of a region.
export
    :func:`export_job`: figures, ramp CSV, cutout ASDF.
"""
