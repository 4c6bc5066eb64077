"""Exceptions raised by :mod:`processing` for bad input.

Every problem with a file a user hands us -- missing, not ASDF, the wrong data
model, truncated, wrong dimensions -- is reported as one exception type,
:class:`ExposureError`, whose message names the file and the problem, so that
the GUI and the CLI can show it as it is.
"""

from __future__ import annotations


class ExposureError(Exception):
    """A file or URI cannot be read as a Roman ramp exposure.

    Parameters
    ----------
    uri : str
        The path or URI the user asked for.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, uri: str, problem: str):
        self.uri = str(uri)
        self.problem = problem
        super().__init__(f"{self.uri}: {problem}")


class ReferenceFileError(Exception):
    """A calibration reference file is missing, unreadable, damaged or of the wrong shape.

    The message starts with the file (or folder) it is about.
    """


class OutputError(Exception):
    """A result cannot be written where asked: no space, read-only, not a folder, ...

    Parameters
    ----------
    path : str or Path
        Where the write was going.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UsageError(Exception):
    """A command-line argument that is malformed or does not fit the file (``brightstar: error: ...``, exit 2)."""


class ClusterError(UsageError):
    """A dask scheduler named by the user (``--scheduler tcp://HOST:PORT``) cannot be reached, or stopped answering mid-run.

    The message starts with the address.
    """
