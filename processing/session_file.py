"""The viewer's session file: what was open and how it was shown (Qt-free, JSON).

A session is a small human-readable JSON document::

    {"format": "brightstar-gui session", "version": 1,
     "exposures": ["/data/illum_uncal.asdf"], "frame": 30, "baseline": 1,
     "data_kind": "raw", "cutout": {"row": 1900, "col": 1900, "half": 256, "enabled": true},
     "view": [1700.0, 2100.0, 1700.0, 2100.0], "displays": {"raw": {...}, ...},
     "pins": [[1900, 1900]], "regions": [{"kind": "circle", "x": 1899.0, "y": 1899.0, "radius": 20.0}],
     "superbias": {"darks": [...], "method": "median", "subtract": true}, ...}

``version`` is checked first: a file written by a newer program is refused
rather than half-understood.  Keys this version does not know are kept in
:attr:`Session.extra` and written back, so an older program that opens and
saves a newer session loses nothing it did not understand.  Every problem is
a :class:`SessionFileError` naming the file and the key.

Region coordinates are the ``regions`` package's pixel coordinates: ``x`` is
the column, ``y`` the row, 0-based, pixel centres at integers (DS9 files are
1-based; the ``regions`` package converts when it reads and writes them).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

#: The version this module writes, and the newest it reads.
SESSION_VERSION = 1
FORMAT_NAME = "brightstar-gui session"
REGION_KINDS = ("rectangle", "circle", "annulus")


class SessionFileError(ValueError):
    """A session file that cannot be used (the message names the file and what is wrong)."""


@dataclass(frozen=True)
class RegionShape:
    """A region drawn on the panes, in pixel coordinates (0-based, centres at integers).

    Attributes
    ----------
    kind : {"rectangle", "circle", "annulus"}
    x, y : float
        Centre: column and row, pixels.
    width, height : float
        Rectangle sides, pixels (unrotated).
    radius : float
        Circle radius, pixels.
    inner, outer : float
        Annulus radii, pixels, ``0 <= inner < outer``.
    """

    kind: str
    x: float
    y: float
    width: float = 0.0
    height: float = 0.0
    radius: float = 0.0
    inner: float = 0.0
    outer: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            raise ValueError(f"region kind must be one of {REGION_KINDS}, not {self.kind!r}")
        for name in ("x", "y", "width", "height", "radius", "inner", "outer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"region {name} must be a finite number, not {value!r}")
            object.__setattr__(self, name, float(value))
        if self.kind == "rectangle" and (self.width <= 0 or self.height <= 0):
            raise ValueError(f"a rectangle needs a positive width and height, not {self.width} x {self.height}")
        if self.kind == "circle" and self.radius <= 0:
            raise ValueError(f"a circle needs a positive radius, not {self.radius}")
        if self.kind == "annulus" and not 0 <= self.inner < self.outer:
            raise ValueError(f"an annulus needs 0 <= inner < outer radius, not {self.inner}, {self.outer}")

    @classmethod
    def rectangle(cls, y0: float, y1: float, x0: float, x1: float) -> RegionShape:
        """Rows ``y0:y1`` and columns ``x0:x1`` (pixel edges, as slices)."""
        return cls("rectangle", x=(x0 + x1 - 1) / 2, y=(y0 + y1 - 1) / 2, width=x1 - x0, height=y1 - y0)

    def to_region(self):
        """The ``regions`` pixel region (what the statistics and DS9 files use)."""
        from regions import CircleAnnulusPixelRegion, CirclePixelRegion, PixCoord, RectanglePixelRegion

        centre = PixCoord(x=self.x, y=self.y)
        if self.kind == "rectangle":
            return RectanglePixelRegion(centre, width=self.width, height=self.height)
        if self.kind == "circle":
            return CirclePixelRegion(centre, radius=self.radius)
        return CircleAnnulusPixelRegion(centre, inner_radius=self.inner, outer_radius=self.outer)

    @classmethod
    def from_region(cls, region) -> RegionShape:
        """A shape from a ``regions`` pixel region; other shapes or rotated boxes raise ValueError."""
        from regions import CircleAnnulusPixelRegion, CirclePixelRegion, RectanglePixelRegion

        c = getattr(region, "center", None)
        if isinstance(region, RectanglePixelRegion):
            angle = float(getattr(region.angle, "value", region.angle))
            if abs(angle) % 180 > 1e-6:
                raise ValueError(f"a rotated box ({angle} deg) is not supported; only unrotated rectangles")
            return cls("rectangle", x=float(c.x), y=float(c.y), width=float(region.width), height=float(region.height))
        if isinstance(region, CirclePixelRegion):
            return cls("circle", x=float(c.x), y=float(c.y), radius=float(region.radius))
        if isinstance(region, CircleAnnulusPixelRegion):
            return cls("annulus", x=float(c.x), y=float(c.y), inner=float(region.inner_radius),
                       outer=float(region.outer_radius))
        raise ValueError(f"{type(region).__name__} is not supported; only box, circle and annulus regions")

    def to_dict(self) -> dict[str, Any]:
        keys = {"rectangle": ("width", "height"), "circle": ("radius",), "annulus": ("inner", "outer")}[self.kind]
        return {"kind": self.kind, "x": self.x, "y": self.y, **{k: getattr(self, k) for k in keys}}

    @classmethod
    def from_dict(cls, d: dict) -> RegionShape:
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"a region must be an object with a 'kind', not {d!r}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown region key(s) {sorted(unknown)}")
        return cls(**d)

    def describe(self) -> str:
        """One line for lists and legends (row, col order as in the rest of the viewer)."""
        if self.kind == "rectangle":
            return f"box at row {self.y:.1f}, col {self.x:.1f}, {self.width:g} x {self.height:g} px"
        if self.kind == "circle":
            return f"circle at row {self.y:.1f}, col {self.x:.1f}, r {self.radius:.1f} px"
        return f"annulus at row {self.y:.1f}, col {self.x:.1f}, r {self.inner:.1f}-{self.outer:.1f} px"


@dataclass(frozen=True)
class Session:
    """What a session file holds (see the module docstring for the layout).

    Attributes
    ----------
    exposures : tuple of str
        The open exposure first; then any compared with it.
    frame, baseline : int
    data_kind : {"raw", "calibrated"}
    cutout : dict with row, col, half (int) and enabled (bool)
    view : (y0, y1, x0, x1) or None
        The visible area of the panes (the zoom), pixels.
    displays : dict pane -> dict of display settings
    flag_color : (r, g, b) or None
        None: the flag colour is chosen per colour map (the viewer's default).
    selected_pixel : (row, col) or None
    pins : tuple of (row, col)
    regions : tuple of RegionShape
    superbias : dict or None
        ``darks`` (list of paths), ``method``, ``subtract`` (bool).
    compare : dict or None
        The compare view's settings.
    extra : dict
        Keys this version does not know, written back unchanged.
    """

    exposures: tuple[str, ...] = ()
    frame: int = 0
    baseline: int = 1
    data_kind: str = "raw"
    cutout: dict = field(default_factory=dict)
    view: tuple[float, float, float, float] | None = None
    displays: dict = field(default_factory=dict)
    flag_color: tuple[int, int, int] | None = None
    selected_pixel: tuple[int, int] | None = None
    pins: tuple[tuple[int, int], ...] = ()
    regions: tuple[RegionShape, ...] = ()
    superbias: dict | None = None
    compare: dict | None = None
    extra: dict = field(default_factory=dict)
    version: int = SESSION_VERSION

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT_NAME, "version": SESSION_VERSION}
        out.update(self.extra)
        out.update({
            "exposures": list(self.exposures), "frame": self.frame, "baseline": self.baseline,
            "data_kind": self.data_kind, "cutout": dict(self.cutout),
            "view": None if self.view is None else [float(v) for v in self.view],
            "displays": self.displays, "flag_color": None if self.flag_color is None else list(self.flag_color),
            "selected_pixel": None if self.selected_pixel is None else list(self.selected_pixel),
            "pins": [list(p) for p in self.pins], "regions": [r.to_dict() for r in self.regions],
            "superbias": self.superbias, "compare": self.compare,
        })
        return out

    def missing_exposures(self) -> list[str]:
        """Local exposures of the session that no longer exist (``s3://`` ones are not checked)."""
        return [u for u in self.exposures if "://" not in u and not Path(u).exists()]


def _int(path, key, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SessionFileError(f"{path}: {key!r} must be an integer, not {value!r}")
    return value


def _pair(path, key, value) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SessionFileError(f"{path}: {key!r} must be a [row, col] pair, not {value!r}")
    return _int(path, key, value[0]), _int(path, key, value[1])


def session_from_json(doc: Any, path: str | os.PathLike = "session") -> Session:
    """Check a parsed document and build the :class:`Session` (raises :class:`SessionFileError`)."""
    if not isinstance(doc, dict):
        raise SessionFileError(f"{path}: not a session file (the top level is not a JSON object)")
    if doc.get("format") != FORMAT_NAME:
        raise SessionFileError(f"{path}: not a session file (no \"format\": \"{FORMAT_NAME}\")")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionFileError(f"{path}: bad session version {version!r} (expected an integer >= 1)")
    if version > SESSION_VERSION:
        raise SessionFileError(f"{path}: session version {version} was written by a newer brightstar-gui "
                               f"(this one reads versions up to {SESSION_VERSION})")
    known = {f.name for f in fields(Session)} - {"extra", "version"}
    extra = {k: v for k, v in doc.items() if k not in known and k not in ("format", "version")}
    exposures = doc.get("exposures", [])
    if not isinstance(exposures, list) or not all(isinstance(u, str) and u for u in exposures):
        raise SessionFileError(f"{path}: 'exposures' must be a list of file names, not {exposures!r}")
    kw: dict[str, Any] = {"exposures": tuple(exposures), "extra": extra, "version": version}
    for key in ("frame", "baseline"):
        if key in doc:
            kw[key] = _int(path, key, doc[key])
    kind = doc.get("data_kind", "raw")
    if kind not in ("raw", "calibrated"):
        raise SessionFileError(f"{path}: 'data_kind' must be 'raw' or 'calibrated', not {kind!r}")
    kw["data_kind"] = kind
    cutout = doc.get("cutout", {})
    if not isinstance(cutout, dict):
        raise SessionFileError(f"{path}: 'cutout' must be an object, not {cutout!r}")
    for key in ("row", "col", "half"):
        if key in cutout:
            _int(path, f"cutout.{key}", cutout[key])
    if "enabled" in cutout and not isinstance(cutout["enabled"], bool):
        raise SessionFileError(f"{path}: 'cutout.enabled' must be true or false, not {cutout['enabled']!r}")
    kw["cutout"] = cutout
    view = doc.get("view")
    if view is not None:
        if (not isinstance(view, list) or len(view) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in view)):
            raise SessionFileError(f"{path}: 'view' must be [y0, y1, x0, x1], not {view!r}")
        kw["view"] = tuple(float(v) for v in view)
    displays = doc.get("displays", {})
    if not isinstance(displays, dict) or not all(isinstance(v, dict) for v in displays.values()):
        raise SessionFileError(f"{path}: 'displays' must map pane names to objects")
    kw["displays"] = displays
    color = doc.get("flag_color")
    if color is not None and (not isinstance(color, list) or len(color) != 3):
        raise SessionFileError(f"{path}: 'flag_color' must be [r, g, b] or null, not {color!r}")
    kw["flag_color"] = None if color is None else tuple(_int(path, "flag_color", c) for c in color)
    if doc.get("selected_pixel") is not None:
        kw["selected_pixel"] = _pair(path, "selected_pixel", doc["selected_pixel"])
    pins = doc.get("pins", [])
    if not isinstance(pins, list):
        raise SessionFileError(f"{path}: 'pins' must be a list of [row, col], not {pins!r}")
    kw["pins"] = tuple(_pair(path, "pins", p) for p in pins)
    regions = doc.get("regions", [])
    if not isinstance(regions, list):
        raise SessionFileError(f"{path}: 'regions' must be a list, not {regions!r}")
    shapes = []
    for i, r in enumerate(regions):
        try:
            shapes.append(RegionShape.from_dict(r))
        except (TypeError, ValueError) as err:
            raise SessionFileError(f"{path}: region {i + 1}: {err}") from None
    kw["regions"] = tuple(shapes)
    for key in ("superbias", "compare"):
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            raise SessionFileError(f"{path}: {key!r} must be an object or null, not {value!r}")
        kw[key] = value
    sb = kw["superbias"]
    if sb is not None and not (isinstance(sb.get("darks", []), list)
                               and all(isinstance(d, str) for d in sb.get("darks", []))):
        raise SessionFileError(f"{path}: 'superbias.darks' must be a list of file names")
    return Session(**kw)


def read_session(path: str | os.PathLike) -> Session:
    """Read and check a session file.

    Raises
    ------
    SessionFileError
        Naming the file: unreadable, not JSON, not a session, a version this
        program does not read, or a key of the wrong type.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise SessionFileError(f"{path}: cannot read the session file ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise SessionFileError(f"{path}: not a session file (not UTF-8 text)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise SessionFileError(f"{path}: not a session file (bad JSON at line {err.lineno}: {err.msg})") from None
    return session_from_json(doc, path)


def write_session(path: str | os.PathLike, session: Session) -> Path:
    """Write ``session`` as indented JSON, atomically (a temporary file, then a rename)."""
    path = Path(path)
    text = json.dumps(session.to_json(), indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
