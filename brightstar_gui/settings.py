"""Settings remembered between runs, in the user config directory (an INI file)."""

from __future__ import annotations

import json
from dataclasses import asdict

from PyQt6 import QtCore

from processing import paths

from .models import PaneDisplay, ViewModel as ViewState, default_displays


def settings_path() -> str:
    return str(paths.config_dir() / "settings.ini")


def open_settings() -> QtCore.QSettings:
    return QtCore.QSettings(settings_path(), QtCore.QSettings.Format.IniFormat)


def save_state(settings: QtCore.QSettings, state: ViewState) -> None:
    settings.setValue("display/panes", json.dumps({k: asdict(v) for k, v in state.displays.items()}))
    settings.setValue("display/flag_color", json.dumps(None if state.flag_color is None else list(state.flag_color)))
    settings.setValue("display/levels_locked", json.dumps(bool(state.levels_locked)))
    settings.setValue("view/cutout_half", int(state.cutout.half))


def load_state(settings: QtCore.QSettings, state: ViewState) -> None:
    """Apply saved display settings; anything unreadable keeps its default."""
    try:
        raw = settings.value("display/panes")
        if raw:
            saved = json.loads(raw)
            displays = default_displays()
            for kind, values in saved.items():
                if kind in displays:
                    displays[kind] = PaneDisplay(**values).validated()
            state.displays = displays
        state.levels_locked = json.loads(settings.value("display/levels_locked") or "false") is True
    except (TypeError, ValueError):
        pass
    if not state.levels_locked:
        # Manual levels of the last session's exposure would blank this one's panes.
        state.reset_levels()
    try:
        color = settings.value("display/flag_color")
        if color:
            rgb = json.loads(color)
            # White was the old default (the bottom of inferno_r): per colour map now.
            state.flag_color = None if rgb is None or list(rgb)[:3] == [255, 255, 255] else tuple(rgb)
    except (TypeError, ValueError):
        pass


def value(settings: QtCore.QSettings, key: str, default, kind=str):
    v = settings.value(key)
    if v is None:
        return default
    try:
        return kind(v)
    except (TypeError, ValueError):
        return default


def shared_settings_path():
    """``settings.json``: settings shared with :mod:`processing` (the cache's size bound)."""
    return paths.config_dir() / "settings.json"


def cache_limit_gb(default: float = 20.0) -> float:
    try:
        return float(json.loads(shared_settings_path().read_text()).get("cache_limit_gb", default))
    except (OSError, ValueError, TypeError, AttributeError):
        return default


def set_cache_limit_gb(gb: float) -> None:
    """Write ``cache_limit_gb`` into settings.json, keeping its other keys."""
    path = shared_settings_path()
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data["cache_limit_gb"] = float(gb)
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
