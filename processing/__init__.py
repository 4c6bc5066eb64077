"""Qt-free computation and I/O for brightstar-gui.

``processing`` is a library and a command-line tool (``brightstar``).  It never
imports Qt: the GUI in :mod:`brightstar_gui` is a thin client of it.

Modules
-------
io
    :func:`open_exposure` -- lazy, frame-by-frame access to Roman ASDF ramps.
asdf_blocks
    The ASDF binary-block layer (headers, block index, lz4 chunk index) that
    lets one frame be read without the rest of the cube.
sources
    Byte sources (local files; S3 in its own module) that the block layer reads.
synth
    Realistic synthetic TVAC exposures and reference files.
progress
    Progress reporting and cooperative cancellation for long work.
errors
    The exception types raised for bad input.
paths
    Per-user cache and configuration directories.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
