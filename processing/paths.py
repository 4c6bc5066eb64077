"""Per-user directories, in one place (as napari's ``utils/_platformdirs``).

Environment variables override the platform defaults so that tests, CI and
users with a scratch disk can move the (large) caches:

``BRIGHTSTAR_CACHE_DIR``
    Root of every cache (decompressed blocks, fetched S3 data, calibrated
    cubes, the demo data set).
``BRIGHTSTAR_CONFIG_DIR``
    Where settings are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "brightstar-gui"


def cache_dir() -> Path:
    """Root of the on-disk caches (created on first use)."""
    path = Path(os.environ.get("BRIGHTSTAR_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Directory holding the user's settings (created on first use)."""
    path = Path(os.environ.get("BRIGHTSTAR_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_dir() -> Path:
    """Where ``brightstar-gui --demo`` writes its synthetic data set."""
    return cache_dir() / "demo"


def blocks_cache_dir() -> Path:
    """Decompressed zlib/bzp2 blocks, memory-mapped on later reads."""
    path = cache_dir() / "blocks"
    path.mkdir(parents=True, exist_ok=True)
    return path
