"""The arrays of a Roman tree checked against roman_datamodels' schemas, without reading pixels.

roman_datamodels validates a model against the ``rad`` schemas when it opens
it -- after loading every array.  The lazy reader parses the tree itself, so
it checks what those schemas say about each array node (``datatype`` with
``exact_datatype``, ``ndim``) straight from the installed ``rad`` schema
files (plain YAML, parsed in milliseconds and remembered), plus what the
ASDF ndarray schema requires of any array (known datatype, byteorder
``little``/``big``, integer non-negative shape and offset; checked in
:func:`processing.asdf_blocks.array_ref`).  A problem is an
:class:`~processing.errors.ExposureError` naming the file and the field.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import numpy as np
import yaml

from .errors import ExposureError

log = logging.getLogger(__name__)

_TAG = re.compile(r"/tags/(?P<name>[a-z0-9_]+)-(?P<version>[0-9.]+)$")


def _schema_dir() -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("rad")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "schemas"
    return path if path.is_dir() else None


def _array_spec(node) -> tuple[str, int | None] | None:
    """(datatype, ndim) of the first ndarray description under a schema node."""
    if not isinstance(node, dict):
        return None
    if isinstance(node.get("datatype"), str):
        return node["datatype"], node.get("ndim")
    for key in ("properties", "allOf", "anyOf"):
        sub = node.get(key)
        items = sub.values() if isinstance(sub, dict) else (sub if isinstance(sub, list) else [])
        for item in items:
            found = _array_spec(item)
            if found:
                return found
    return None


@functools.lru_cache(maxsize=16)
def expected_arrays(tag: str) -> dict[str, tuple[str, int | None]]:
    """Array name -> (datatype, ndim) that the ``rad`` schema of ``tag`` requires ({} if unknown)."""
    match = _TAG.search(tag or "")
    root = _schema_dir()
    if not match or root is None:
        return {}
    path = root / f"{match['name']}-{match['version']}.yaml"
    if not path.is_file():
        candidates = sorted(root.glob(f"{match['name']}-*.yaml"))
        if not candidates:
            return {}
        path = candidates[-1]
    try:
        schema = yaml.load(path.read_text(), Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return {}
    out = {}
    for name, node in ((schema or {}).get("properties") or {}).items():
        spec = _array_spec(node)
        if spec:
            out[name] = spec
    log.debug("schema %s: %d arrays", path.name, len(out))
    return out


def check_arrays(uri: str, tag: str, arrays: dict) -> None:
    """Raise :class:`ExposureError` if an array's dtype or ndim is not what the model's schema allows.

    Parameters
    ----------
    arrays : dict of str to ArrayRef-like
        ``roman.<name>`` arrays (``dtype``, ``shape``).
    """
    expected = expected_arrays(tag)
    for name, ref in arrays.items():
        spec = expected.get(name)
        if spec is None:
            continue
        datatype, ndim = spec
        if np.dtype(ref.dtype).newbyteorder("=") != np.dtype(datatype):
            raise ExposureError(uri, f"roman.{name} has datatype {np.dtype(ref.dtype).name}; the "
                                     f"{tag.rsplit('/', 1)[-1]} schema requires {datatype}")
        if ndim is not None and len(ref.shape) != int(ndim):
            raise ExposureError(uri, f"roman.{name} has shape {tuple(ref.shape)} ({len(ref.shape)} dimensions); the "
                                     f"{tag.rsplit('/', 1)[-1]} schema requires {ndim}")
