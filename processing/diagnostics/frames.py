"""Frame sources: a ramp read one frame at a time, from a file or an array.

A *frame source* is any object with ``.shape -> (N, H, W)`` and
``.frame(k) -> (H, W) ndarray`` -- :class:`processing.io.Exposure` is one.
Every reduction in :mod:`processing.diagnostics` reads its input through this
interface, so the same code serves a 512 x 512 cutout held in memory and a
55 x 4096 x 4096 exposure that must never be loaded whole.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class FrameSource(Protocol):
    """What the diagnostics need from a ramp: its shape and one frame at a time."""

    @property
    def shape(self) -> tuple[int, ...]:
        """``(N, H, W)``: frames, rows, columns."""
        ...

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` as an ``(H, W)`` array (uint16 DN raw, float32 calibrated)."""
        ...


class ArrayFrames:
    """Frame-source view of an in-memory ``(N, H, W)`` array.

    ``frame(k)`` returns a view, not a copy; the diagnostics never write to it.

    Parameters
    ----------
    cube : (N, H, W) array_like
        The frames.
    name : str
        What the caller calls this argument, for error messages.
    """

    def __init__(self, cube: Any, name: str = "frames"):
        self.array = np.asarray(cube)
        if self.array.ndim != 3:
            raise ValueError(f"{name} must be a (N, H, W) cube; got shape {self.array.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.array.shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def frame(self, k: int) -> np.ndarray:
        return self.array[k]


def as_frame_source(frames: Any, name: str = "frames") -> FrameSource:
    """Return ``frames`` as a frame source.

    Parameters
    ----------
    frames : frame source or (N, H, W) array_like
        Anything with ``.frame(k)`` and a 3-tuple ``.shape`` is used as it is;
        anything else is taken as an array (``np.asarray``).
    name : str
        What the caller calls this argument, for error messages.

    Raises
    ------
    ValueError
        If the shape is not ``(N, H, W)``.
    """
    if isinstance(frames, np.ndarray) or not hasattr(frames, "frame"):
        return ArrayFrames(frames, name)
    shape = tuple(frames.shape)
    if len(shape) != 3:
        raise ValueError(f"{name} must be a (N, H, W) frame source; got shape {shape}")
    return frames


def read_frame(source: FrameSource, k: int, name: str = "frames") -> np.ndarray:
    """Read frame ``k`` and check that it has the shape the source announced.

    A source whose frames disagree with its ``.shape`` would otherwise fail
    deep inside a ufunc with a broadcasting message that names neither.
    """
    frame = np.asarray(source.frame(k))
    expected = tuple(source.shape[1:])
    if frame.shape != expected:
        raise ValueError(
            f"{name}.frame({k}) has shape {frame.shape}; expected {expected} from {name}.shape {tuple(source.shape)}"
        )
    return frame


def check_same_shape(name_a: str, shape_a: tuple, name_b: str, shape_b: tuple) -> None:
    """Raise ``ValueError`` naming both shapes unless they are equal."""
    if tuple(shape_a) != tuple(shape_b):
        raise ValueError(f"{name_a} shape {tuple(shape_a)} does not match {name_b} shape {tuple(shape_b)}")


def difference_dtype(*dtypes: np.dtype) -> np.dtype:
    """The type in which frame-to-frame differences of these dtypes are taken.

    Differences of unsigned data must not wrap (a uint16 ``-10`` is ``65526``),
    so integers go to a float: float32 holds every 8- and 16-bit integer
    exactly, wider integers need float64.  Floats keep their precision (at
    least float32), which is what ``np.diff`` does on the tutorial's float32
    calibrated cube.
    """
    dt = np.result_type(*dtypes)
    if dt.kind == "f":
        return np.result_type(dt, np.float32)
    if dt.kind in "iub" and dt.itemsize <= 2:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


#: A region's reads are fetched in one ``cutout`` call when they take at most
#: this many bytes; bigger regions are sliced out of one full frame at a time,
#: so memory stays bounded whatever the region.
BOX_CUTOUT_BUDGET = 256 * 1024 * 1024


def check_box(box: Any, shape: tuple, name: str = "region") -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` as ints, checked to be a non-empty box inside frames of ``shape``.

    Parameters
    ----------
    box : sequence of 4 ints
        Rows ``y0:y1`` and columns ``x0:x1`` (half-open, 0-based).
    shape : (N, H, W) or (H, W)

    Raises
    ------
    ValueError
        Naming the box and the frame size, if it is not 4 integers, empty or
        not inside the frame.
    """
    h, w = tuple(shape)[-2:]
    try:
        y0, y1, x0, x1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be four integers Y0,Y1,X0,X1; got {box!r}") from None
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise ValueError(f"{name} rows {y0}:{y1}, columns {x0}:{x1} is empty or not inside the {h} x {w} frame "
                         f"(need 0 <= Y0 < Y1 <= {h} and 0 <= X0 < X1 <= {w})")
    return y0, y1, x0, x1


class BoxFrames:
    """The rows ``y0:y1``, columns ``x0:x1`` of every frame of a source.

    Reads only the box where the source can: when it has
    ``cutout(y0, y1, x0, x1)``, as :class:`processing.io.Exposure` does, and
    the box's reads fit in :data:`BOX_CUTOUT_BUDGET`, all reads of the box are
    fetched at the first ``frame`` call (one batch of range requests over S3);
    a bigger box is read one read at a time with ``frame_region(k, y0, y1,
    x0, x1)`` where the source has it.  Otherwise each frame is read whole and
    sliced.

    Parameters
    ----------
    source : frame source or (N, H, W) array
    box : (y0, y1, x0, x1)
        Checked with :func:`check_box`.
    """

    def __init__(self, source: Any, box: Any):
        self.source = as_frame_source(source, "frames")
        n, h, w = self.source.shape
        self.box = check_box(box, (h, w))
        y0, y1, x0, x1 = self.box
        self.shape = (n, y1 - y0, x1 - x0)
        self._cube: np.ndarray | None = None
        itemsize = np.dtype(getattr(self.source, "dtype", np.float64)).itemsize
        self._use_cutout = hasattr(self.source, "cutout") and n * (y1 - y0) * (x1 - x0) * itemsize <= BOX_CUTOUT_BUDGET

    @property
    def dtype(self) -> np.dtype | None:
        return getattr(self.source, "dtype", None)

    def frame(self, k: int) -> np.ndarray:
        y0, y1, x0, x1 = self.box
        if isinstance(self.source, ArrayFrames):
            return self.source.array[k, y0:y1, x0:x1]
        if self._use_cutout:
            if self._cube is None:
                self._cube = np.asarray(self.source.cutout(y0, y1, x0, x1))
            return self._cube[k]
        if hasattr(self.source, "frame_region"):  # reads only the box's rows of this read
            return np.asarray(self.source.frame_region(k, y0, y1, x0, x1))
        return read_frame(self.source, k, "frames")[y0:y1, x0:x1]


#: Streaming passes drop the pages they have mapped every this many frames.
RELEASE_EVERY = 4


def release_pages_now(source: Any, k: int) -> None:
    """Let a memory-mapped exposure drop its mapped pages every :data:`RELEASE_EVERY` frames.

    A pass over a 1.85 GB exposure would otherwise count every page it
    touched in the process's resident set (they stay in the OS page cache
    either way).  Sources without ``release_pages`` are left alone.
    """
    if isinstance(source, BoxFrames):
        source = source.source
    release = getattr(source, "release_pages", None)
    if release is not None and (k + 1) % RELEASE_EVERY == 0:
        release()
