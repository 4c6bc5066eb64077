"""Make romancal/stpipe/CRDS safe to call with or without a CRDS server.

In the real world users set ``CRDS_SERVER_URL`` and ``CRDS_PATH`` and CRDS
picks reference files.  Offline (CI, a laptop on a plane, this project's
synthetic data) CRDS still asks for the context in use when each step
finishes, and with no server and no cache it ends the process with
``sys.exit(-1)``.  :func:`configure` avoids that without touching a real
configuration:

* step-parameter reference look-ups are disabled
  (``STPIPE_DISABLE_CRDS_STEPPARS``) -- we pass parameters explicitly;
* when no server is configured and ``CRDS_PATH`` holds no server
  configuration, ``CRDS_PATH`` points at a private, offline cache whose
  ``config/roman/server_config`` names a context, so the look-up is answered
  locally and no socket is opened.

Every call into stpipe or CRDS should still go through :func:`guard_exit`,
which turns a ``SystemExit`` into an ordinary exception.
"""

from __future__ import annotations

import logging

import contextlib
import os
import pprint
from pathlib import Path

from . import paths

log = logging.getLogger(__name__)

OFFLINE_CONTEXT = "roman_0000.pmap"


def crds_server_configured() -> bool:
    """True when the user has a CRDS server configured (the real world's default)."""
    return bool(os.environ.get("CRDS_SERVER_URL"))


def _has_server_config(crds_path: str | None) -> bool:
    return bool(crds_path) and (Path(crds_path) / "config" / "roman" / "server_config").exists()


def offline_crds_path() -> Path:
    """A private CRDS cache that answers the context look-up offline."""
    root = paths.cache_dir() / "crds-offline"
    config = root / "config" / "roman" / "server_config"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "observatory": "roman",
            "operational_context": OFFLINE_CONTEXT,
            "edit_context": OFFLINE_CONTEXT,
            "bad_files": "",
            "mappings": [],
            "effective_mode": "local",
            "crds_version": {"str": "offline"},
            "download_metadata": {},
            "last_synced": "offline",
        }
        tmp = config.with_suffix(f".partial-{os.getpid()}")
        tmp.write_text(pprint.pformat(info))
        os.replace(tmp, config)
    return root


def _is_private_offline(crds_path: str | None) -> bool:
    if not crds_path:
        return False
    try:
        return Path(crds_path).resolve() == (paths.cache_dir() / "crds-offline").resolve()
    except OSError:
        return False


def configure() -> str:
    """Prepare the environment before romancal is imported or called.

    Safe to call more than once.

    Returns
    -------
    str
        ``"server"`` when the user's CRDS server is used, ``"cache"`` when the
        user's own CRDS cache is used offline, ``"offline"`` when our private
        offline cache is used.
    """
    os.environ.setdefault("STPIPE_DISABLE_CRDS_STEPPARS", "true")
    if crds_server_configured():
        return "server"
    crds_path = os.environ.get("CRDS_PATH")
    if _has_server_config(crds_path) and not _is_private_offline(crds_path):
        return "cache"
    os.environ["CRDS_PATH"] = str(offline_crds_path())
    os.environ["CRDS_MODE"] = "local"
    return "offline"


def user_crds_configured() -> bool:
    """True when reference files should come from the user's CRDS (server or own cache)."""
    return configure() in ("server", "cache")


class PipelineExit(RuntimeError):
    """stpipe or CRDS tried to end the process; this is what it said."""


@contextlib.contextmanager
def guard_exit(what: str):
    """Turn a ``SystemExit`` raised inside stpipe/CRDS into :class:`PipelineExit`."""
    try:
        yield
    except SystemExit as exc:  # CRDS calls sys.exit(-1) when it cannot reach a server
        raise PipelineExit(
            f"{what} stopped: CRDS could not be reached or its cache is incomplete "
            f"(exit code {exc.code}). Set CRDS_SERVER_URL and CRDS_PATH, or give reference files explicitly."
        ) from exc


def best_references(model, reftypes) -> dict[str, str]:
    """CRDS's best reference files for a datamodel.

    Parameters
    ----------
    model : roman_datamodels DataModel
        The exposure (a lazily opened tree is enough: only metadata are read).
    reftypes : iterable of str

    Returns
    -------
    dict
        Reference type -> local path (or ``"N/A"``).

    Raises
    ------
    PipelineExit
        If CRDS tried to end the process.
    """
    configure()
    from romancal.stpipe import RomanStep
    from stpipe import crds_client

    with guard_exit("CRDS reference look-up"):
        parameters, observatory = RomanStep._get_crds_parameters(model)
        return crds_client.get_multiple_reference_paths(parameters, list(reftypes), observatory)


def context_info() -> dict[str, str]:
    """CRDS software version and context in use, as romancal records them in ``meta.ref_file.crds``."""
    configure()
    from stpipe import crds_client

    with guard_exit("CRDS context look-up"):
        return {"version": crds_client.get_svn_version(), "context": crds_client.get_context_used("roman")}
