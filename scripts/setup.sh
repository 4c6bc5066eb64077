#!/usr/bin/env bash
# Set up brightstar-gui in this checkout: the virtual environment .venv with
# the package in it, and the system libraries Qt's X11 (xcb) platform plugin
# needs.  README command 1 runs it; `--test` adds the test dependencies
# (README command 2, which .ci/run runs).
#
#   ./scripts/setup.sh [--test]
#
# On Debian/Ubuntu missing system packages are installed with apt-get (as
# root, or through sudo), and the script says which.  Elsewhere it prints the
# missing shared libraries and stops.  Running it again does only what is
# still missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
for arg in "$@"; do
    case "$arg" in
        --test) extras="[test]" ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (use --test or nothing)" >&2; exit 2 ;;
    esac
done

say() { echo "setup: $*" >&2; }
have_apt() { command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "not root and no sudo: run as root: $*"
        return 1
    fi
}

apt_updated=""
apt_install() {
    # Install Debian packages, trying Ubuntu 24.04's "t64" names for those
    # apt does not know under the Debian name.
    [ $# -gt 0 ] || return 0
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    local pkgs=() p
    for p in "$@"; do
        if apt-cache show "$p" >/dev/null 2>&1; then
            pkgs+=("$p")
        elif apt-cache show "${p}t64" >/dev/null 2>&1; then
            pkgs+=("${p}t64")
        else
            pkgs+=("$p")  # let apt-get say it does not know it
        fi
    done
    say "installing system packages: ${pkgs[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

# 1. Python 3.11 or newer, with venv and pip (Debian ships them apart).
if ! command -v python3 >/dev/null 2>&1; then
    if have_apt; then apt_install python3; else say "install Python 3.11 or newer first"; exit 1; fi
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    say "brightstar-gui needs Python >= 3.11; this python3 is $(python3 -V 2>&1)"
    exit 1
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if have_apt; then
        apt_install python3-venv
    else
        say "python3 has no venv/ensurepip module: install your system's python3 venv package"
        exit 1
    fi
fi

# 2. The virtual environment and the package (about 1.7 GB, a few minutes).
if [ ! -x .venv/bin/pip ]; then
    say "creating the virtual environment .venv"
    rm -rf .venv
    python3 -m venv .venv
fi
say "installing brightstar-gui${extras} and its Python dependencies into .venv"
.venv/bin/pip install --disable-pip-version-check -q -e ".${extras}"

# 3. The shared libraries Qt's xcb platform plugin links against (ldd on the
#    installed plugin, see brightstar_gui/platform_check.py).
missing_pkgs=$(.venv/bin/python -m brightstar_gui.platform_check --packages)
if [ -n "$missing_pkgs" ]; then
    if have_apt; then
        # shellcheck disable=SC2086  # one package per word
        apt_install $missing_pkgs
    else
        .venv/bin/python -m brightstar_gui.platform_check || true
        say "install the packages of your system that provide the libraries above, then run this again"
        exit 1
    fi
fi
if ! .venv/bin/python -m brightstar_gui.platform_check >&2; then
    say "Qt's xcb platform plugin still cannot load (see above)"
    exit 1
fi
# 4. With --test: the tools the tests read exports back with (poppler's
#    pdfimages/pdffonts for embedded image sizes and font types).
if [ -n "$extras" ] && ! command -v pdfimages >/dev/null 2>&1; then
    if have_apt; then
        apt_install poppler-utils
    else
        say "install poppler (pdfimages, pdffonts): the PDF export tests are skipped without it"
    fi
fi
say "done: .venv/bin/brightstar-gui --demo starts the viewer; source .venv/bin/activate puts brightstar and brightstar-gui on PATH"
