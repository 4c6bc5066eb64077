"""Check, before Qt starts, that its platform plugin can load.

Qt aborts (SIGABRT, exit status 134) when its platform plugin cannot load,
and its message names ``libxcb-cursor0`` whatever is really missing.  On a
minimal Debian 12 the xcb plugin lacks ``libxcb-icccm.so.4`` and
``libxcb-keysyms.so.1``.  This module runs ``ldd`` on the plugin Qt would
load, names the shared libraries that do not resolve and the Debian/Ubuntu
packages that hold them, so ``brightstar-gui`` can say so and exit with
status 2 instead.

The module imports nothing from Qt (importing PyQt6 loads Qt's libraries).
``python -m brightstar_gui.platform_check --packages`` prints the missing
packages one per line; ``scripts/setup.sh`` installs them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Shared library -> Debian 12 / Ubuntu package, for every library that
#: ``ldd`` lists for PyQt6's xcb and offscreen platform plugins and
#: QtCore/Gui/Widgets/DBus outside the wheel (``dpkg -S`` on Debian 12).
#: On Ubuntu 24.04 some are renamed with a ``t64`` suffix; ``setup.sh``
#: tries that name when the first is unknown to apt.
DEBIAN_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libOpenGL.so.0": "libopengl0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libc.so.6": "libc6",
    "libcap.so.2": "libcap2",
    "libdbus-1.so.3": "libdbus-1-3",
    "libdl.so.2": "libc6",
    "libexpat.so.1": "libexpat1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libgcc_s.so.1": "libgcc-s1",
    "libgcrypt.so.20": "libgcrypt20",
    "libgpg-error.so.0": "libgpg-error0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "liblz4.so.1": "liblz4-1",
    "liblzma.so.5": "liblzma5",
    "libm.so.6": "libc6",
    "libmd.so.0": "libmd0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libpng16.so.16": "libpng16-16",
    "libpthread.so.0": "libc6",
    "libstdc++.so.6": "libstdc++6",
    "libsystemd.so.0": "libsystemd0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


@dataclass(frozen=True)
class PlatformProblem:
    """Why Qt's platform plugin would not start.

    Attributes
    ----------
    platform : str
        The Qt platform name (``"xcb"``, ``"offscreen"`` ...).
    missing : tuple of str
        Shared libraries (sonames) the plugin needs that do not resolve.
    packages : tuple of str
        Debian/Ubuntu packages that provide them (known ones only).
    reason : str
        One line: what is wrong.
    """

    platform: str
    missing: tuple[str, ...]
    packages: tuple[str, ...]
    reason: str

    def message(self) -> str:
        """The text ``brightstar-gui`` prints: what is wrong and how to fix it."""
        lines = [f"brightstar-gui: Qt's {self.platform!r} platform cannot start: {self.reason}"]
        if self.missing:
            lines.append("missing shared libraries: " + ", ".join(self.missing))
            unknown = [s for s in self.missing if s not in DEBIAN_PACKAGES]
            if self.packages:
                lines.append("install them (Debian/Ubuntu) with:")
                lines.append("    sudo apt-get install -y " + " ".join(self.packages))
                lines.append("or run ./scripts/setup.sh in the brightstar-gui checkout")
            if unknown:
                lines.append("on other systems install the packages that provide: " + ", ".join(unknown))
        elif self.platform == "xcb":
            lines.append("run it in a desktop session, over `ssh -X`, or under Xvfb (`xvfb-run brightstar-gui ...`);"
                         " QT_QPA_PLATFORM=offscreen runs it with no window at all")
        return "\n".join(lines)


def parse_ldd(text: str) -> list[str]:
    """Sonames that ``ldd`` reports as ``not found``, in order, each once."""
    out: list[str] = []
    for line in text.splitlines():
        m = _NOT_FOUND.match(line)
        if m and m.group(1) not in out:
            out.append(m.group(1))
    return out


def debian_packages(sonames) -> list[str]:
    """The Debian packages for ``sonames`` (unknown ones skipped), each once."""
    out: list[str] = []
    for so in sonames:
        pkg = DEBIAN_PACKAGES.get(so)
        if pkg and pkg not in out:
            out.append(pkg)
    return out


def plugin_dirs(env=None) -> list[Path]:
    """Directories Qt searches for platform plugins, first the explicit one.

    ``QT_QPA_PLATFORM_PLUGIN_PATH`` (Qt's own variable) comes first, then
    PyQt6's bundled ``Qt6/plugins/platforms``.  PyQt6 is located without
    importing it.
    """
    env = os.environ if env is None else env
    dirs = [Path(p) for p in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("PyQt6")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            dirs.append(Path(loc) / "Qt6" / "plugins" / "platforms")
    return dirs


def find_plugin(platform: str, env=None) -> Path | None:
    """The ``libq<platform>.so`` Qt would load, or None."""
    for d in plugin_dirs(env):
        candidate = d / f"libq{platform}.so"
        if candidate.exists():
            return candidate
    return None


def missing_libraries(library: Path, env=None) -> list[str]:
    """Sonames ``library`` needs (directly or not) that the loader cannot find.

    Uses ``ldd``; returns ``[]`` when ``ldd`` is not available (then Qt will
    report for itself).
    """
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    env = dict(os.environ if env is None else env)
    proc = subprocess.run([ldd, str(library)], capture_output=True, text=True, env=env, timeout=30)
    return parse_ldd(proc.stdout)


def chosen_platform(env=None) -> str | None:
    """The platform Qt will try, or None when it has fall-backs or is not Linux.

    ``QT_QPA_PLATFORM`` decides when it names one platform (arguments after
    ``:`` dropped); a list (``"wayland;xcb"``) has fall-backs, so no check.
    Unset, Qt 6 prefers Wayland in a Wayland session (with xcb after it),
    else xcb.
    """
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    name = env.get("QT_QPA_PLATFORM", "").strip()
    if name:
        if ";" in name:
            return None
        return name.split(":", 1)[0]
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return None
    return "xcb"


def _x_display_reachable(display: str) -> bool:
    """Whether a local X server listens for ``display`` (":N" or ":N.S").

    Remote displays ("host:N", ssh forwarding) are assumed reachable.
    """
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if not m:
        return True
    path = f"/tmp/.X11-unix/X{m.group(1)}"
    for address in ("\0" + path, path):  # Linux abstract socket first, then the file
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(address)
            return True
        except OSError:
            continue
        finally:
            s.close()
    return False


def check(env=None) -> PlatformProblem | None:
    """What would stop Qt's platform plugin from loading, or None.

    Parameters
    ----------
    env : mapping, optional
        Environment to judge (default ``os.environ``).
    """
    env = os.environ if env is None else env
    platform = chosen_platform(env)
    if platform is None:
        return None
    plugin = find_plugin(platform, env)
    if plugin is None:
        return None  # an unknown or custom platform: Qt lists the available ones itself
    missing = missing_libraries(plugin, env)
    if missing:
        return PlatformProblem(platform, tuple(missing), tuple(debian_packages(missing)),
                               f"{plugin.name} cannot load")
    if platform == "xcb":
        display = env.get("DISPLAY", "")
        if not display:
            return PlatformProblem(platform, (), (), "no X display (DISPLAY is not set)")
        if not _x_display_reachable(display):
            return PlatformProblem(platform, (), (), f"no X server answers on DISPLAY={display}")
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m brightstar_gui.platform_check [--packages]``.

    Without options: print the problem (exit 2) or "ok" (exit 0), judging
    the libraries only (no display needed).  ``--packages``: print the
    Debian packages of the xcb plugin's missing libraries, one per line.
    """
    args = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    env["DISPLAY"] = env.get("DISPLAY") or ":0"  # libraries only
    plugin = find_plugin("xcb", env)
    missing = missing_libraries(plugin, env) if plugin is not None else []
    if "--packages" in args:
        for pkg in debian_packages(missing):
            print(pkg)
        unknown = [s for s in missing if s not in DEBIAN_PACKAGES]
        if unknown:
            print("platform_check: no known package provides " + ", ".join(unknown), file=sys.stderr)
        return 0
    if missing:
        print(PlatformProblem("xcb", tuple(missing), tuple(debian_packages(missing)),
                              f"{plugin.name} cannot load").message())
        return 2
    print("ok: Qt's xcb platform plugin finds all its libraries")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
