"""The library stays a library: nothing under processing/ imports Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import processing


def test_processing_never_imports_qt():
    modules = sorted(m.name for m in pkgutil.walk_packages(processing.__path__, "processing."))
    assert "processing.io" in modules and "processing.synth" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'PyQt5', 'PySide6', 'pyqtgraph', 'qtpy'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"processing imported Qt modules: {result.stdout.strip()}"
