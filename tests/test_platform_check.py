"""``brightstar-gui`` checks Qt's platform plugin before Qt aborts.

The fakes are real ELF shared objects built with the C compiler: one whose
``NEEDED`` entries name a library that does not exist (as libqxcb.so on a
minimal Debian, which lacks libxcb-icccm.so.4), one that loads.  Qt's own
``QT_QPA_PLATFORM_PLUGIN_PATH`` points ``brightstar-gui`` at them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brightstar_gui import platform_check as pc

LDD_SAMPLE = """\
\tlinux-vdso.so.1 (0x00007ffc8b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PyQt6/Qt6/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f9a)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f9a)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f9a)
"""


def test_parse_ldd_lists_each_missing_library_once():
    assert pc.parse_ldd(LDD_SAMPLE) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert pc.parse_ldd("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n") == []


def test_message_names_libraries_packages_and_the_install_command():
    problem = pc.PlatformProblem("xcb", ("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libfoo.so.9"),
                                 tuple(pc.debian_packages(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libfoo.so.9"])),
                                 "libqxcb.so cannot load")
    text = problem.message()
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1, libfoo.so.9" in text
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "provide: libfoo.so.9" in text


def test_every_library_the_real_xcb_plugin_needs_has_a_package():
    """The soname -> package table covers what PyQt6's xcb plugin links (no drift)."""
    plugin = pc.find_plugin("xcb", {})
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no PyQt6 xcb plugin or no ldd here")
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True).stdout
    wheel = plugin.parents[2]
    needed = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" not in parts:
            continue  # vdso, the loader itself
        target = parts[parts.index("=>") + 1]
        if target != "not" and Path(target).resolve().is_relative_to(wheel.resolve()):
            continue  # shipped in the wheel
        needed.append(parts[0])
    assert needed, out
    assert [so for so in needed if so not in pc.DEBIAN_PACKAGES] == []


def test_chosen_platform_follows_qt():
    assert pc.chosen_platform({}) == "xcb"
    assert pc.chosen_platform({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"
    assert pc.chosen_platform({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == "vnc"
    assert pc.chosen_platform({"QT_QPA_PLATFORM": "wayland;xcb"}) is None
    assert pc.chosen_platform({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}) is None


@pytest.fixture(scope="module")
def fake_plugins(tmp_path_factory):
    """Two plugin folders: ``broken/libqxcb.so`` needs an absent library, ``good/`` loads."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build fake plugins")
    root = tmp_path_factory.mktemp("plugins")
    src = root / "f.c"
    src.write_text("int brightstar_fake(void) { return 1; }\n")
    # Link against a library, then delete it: the plugin's NEEDED names a missing soname.
    absent = root / "libbrightstar_absent.so.1"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(absent), "-Wl,-soname,libbrightstar_absent.so.1", str(src)], check=True)
    (root / "broken").mkdir()
    (root / "good").mkdir()
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(root / "broken" / "libqxcb.so"), str(src), "-Wl,--no-as-needed", str(absent)], check=True)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(root / "good" / "libqxcb.so"), str(src)], check=True)
    absent.unlink()
    return root


def _run_gui(env_extra: dict, drop=("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return subprocess.run([sys.executable, "-m", "brightstar_gui", "--demo", "--demo-size", "64", "--demo-frames", "2"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_missing_libraries_stop_the_gui_with_status_2_and_the_fix(fake_plugins):
    assert pc.missing_libraries(fake_plugins / "broken" / "libqxcb.so") == ["libbrightstar_absent.so.1"]
    proc = _run_gui({"QT_QPA_PLATFORM_PLUGIN_PATH": str(fake_plugins / "broken"), "QT_QPA_PLATFORM": "xcb",
                     "DISPLAY": ":0"})
    assert proc.returncode == 2, proc.stderr
    assert "missing shared libraries: libbrightstar_absent.so.1" in proc.stderr
    assert "provide: libbrightstar_absent.so.1" in proc.stderr


def test_no_display_stops_the_gui_with_status_2(fake_plugins):
    proc = _run_gui({"QT_QPA_PLATFORM_PLUGIN_PATH": str(fake_plugins / "good")})
    assert proc.returncode == 2, proc.stderr
    assert "no X display (DISPLAY is not set)" in proc.stderr
    assert "xvfb-run" in proc.stderr


def test_unreachable_display_stops_the_gui(fake_plugins):
    proc = _run_gui({"QT_QPA_PLATFORM_PLUGIN_PATH": str(fake_plugins / "good"), "DISPLAY": ":977"})
    assert proc.returncode == 2, proc.stderr
    assert "no X server answers on DISPLAY=:977" in proc.stderr


def test_packages_option_prints_the_missing_packages(fake_plugins):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM_PLUGIN_PATH"] = str(fake_plugins / "broken")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-m", "brightstar_gui.platform_check", "--packages"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == ""  # no Debian package is known for the fake library ...
    assert "no known package provides libbrightstar_absent.so.1" in proc.stderr  # ... and it says so
