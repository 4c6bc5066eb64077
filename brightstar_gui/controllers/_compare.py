"""Compare two reads or two exposures (a mixin of :class:`ViewerController`).

A is always the shown read of the open exposure (raw or calibrated, as the
panes).  B is, by :attr:`compare_mode`:

* ``"read"``: another read of the same exposure (:attr:`compare_read`, by
  default the baseline);
* ``"calibrated"``: the same read of its calibrated ramp (A is then the raw read);
* ``"exposure"``: the same read of another exposure (:attr:`compare_uri`, e.g.
  a dark), opened in the background and checked with
  :func:`processing.diagnostics.compare.check_pair` (same reads, frame size, detector).

The images are computed only while the compare view is shown
(:attr:`compare_active`), on the ``compare`` channel (the newest request
wins), whenever the frame, baseline, cutout or data kind change.  The
optional ``views.compare`` (:class:`CompareView`) draws them; its own
settings (blink, rate, pane choices) ride along in :attr:`compare_view_settings`
so a session can keep them.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..jobs.compare import CompareRequest, CompareResult, compare_job, compare_step

COMPARE_MODES = ("read", "calibrated", "exposure")


def short_name(uri: str, keep: int = 22) -> str:
    """A file name short enough for a pane title: the end of its stem (the timestamp and detector differ)."""
    name = str(uri).rsplit("/", 1)[-1]
    for suffix in ("_uncal.asdf", ".asdf"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name if len(name) <= keep else "..." + name[-keep:]


class CompareView(Protocol):
    def set_compare(self, result: CompareResult | None, message: str = "") -> None: ...


def _open_other(uri: str, endpoint_url: str | None):
    from processing.io import open_exposure

    exp = open_exposure(uri, endpoint_url=endpoint_url)
    try:
        if exp.needs_preparation:
            yield from exp.prepare()
    except BaseException:
        exp.close()
        raise
    return exp


class CompareMixin:
    def _init_compare(self) -> None:
        self.compare_mode = "read"
        self.compare_read: int | None = None
        self.compare_uri: str | None = None
        self.compare_exposure = None
        self.compare_result: CompareResult | None = None
        self.compare_active = False
        self.compare_view_settings: dict = {}
        self._compare_generation = 0
        for name in ("frame", "baseline", "cutout", "data_kind", "flag_color", "displays"):
            self.model.events[name].connect(lambda *_: self.request_compare())
        self.add_hook("context", lambda ctx: self.request_compare())
        self.add_hook("close", lambda _: self._close_compare_exposure())

    @property
    def _compare_view(self) -> CompareView | None:
        return getattr(self.views, "compare", None)

    def _compare_message(self, text: str) -> None:
        view = self._compare_view
        if view is not None:
            view.set_compare(None, text)

    # -- choosing B ----------------------------------------------------------------------
    def set_compare(self, mode: str, read: int | None = None, uri: str | None = None) -> None:
        """Compare A with ``mode``'s B; an exposure is opened first (errors are messages; B stays as it was)."""
        if mode not in COMPARE_MODES:
            raise ValueError(f"compare mode must be one of {COMPARE_MODES}, not {mode!r}")
        if mode == "exposure":
            if not uri:
                self._error("Compare", "choose the exposure to compare with")
                return
            if uri != self.compare_uri or self.compare_exposure is None:
                self._open_compare_exposure(str(uri))
                return
        self.compare_mode = mode
        if mode == "read":
            self.compare_read = read
        self.request_compare()

    def _open_compare_exposure(self, uri: str) -> None:
        endpoint = self.endpoint_url

        def done(exp):
            ds = self.dataset
            if ds is not None:
                from processing.diagnostics.compare import PairingError, check_pair

                try:
                    check_pair(ds.primary, exp)
                except PairingError as err:
                    exp.close()
                    self._error("Compare", err)
                    return
            self._close_compare_exposure()
            self.compare_exposure, self.compare_uri, self.compare_mode = exp, uri, "exposure"
            self.request_compare()

        self.submit("compare-open", lambda token: _open_other(uri, endpoint), done)

    def _close_compare_exposure(self) -> None:
        exp, self.compare_exposure = self.compare_exposure, None
        if exp is not None:
            try:
                exp.close()
            except Exception:  # noqa: BLE001 - closing must not fail
                pass

    # -- the images ----------------------------------------------------------------------
    def compare_sources(self):
        """``(a, b, frame_a, frame_b, label_a, label_b)`` or a message saying why there is no B."""
        ds, m = self.dataset, self.model
        if ds is None:
            return "open an exposure first"
        k = m.frame
        a = self.values_source(m.data_kind)
        kind = "calibrated" if a is not ds.raw else "raw"
        name = short_name(ds.uri)
        if self.compare_mode == "read":
            kb = m.baseline if self.compare_read is None else min(max(int(self.compare_read), 0), m.n_frames - 1)
            return a, a, k, kb, f"read {k} ({kind})", f"read {kb} ({kind})"
        if self.compare_mode == "calibrated":
            cal = self.calibrated_exposure()
            if cal is None or ds.raw is None:
                return "no calibrated ramp yet: Analysis > Calibrate exposure"
            return ds.raw, cal, k, k, f"read {k} raw", f"read {k} calibrated"
        b = self.compare_exposure
        if b is None:
            return "choose the exposure to compare with"
        from processing.diagnostics.compare import PairingError, check_pair

        try:
            check_pair(ds.primary, b)
        except PairingError as err:
            return str(err)
        other = short_name(self.compare_uri)
        return a, b, k, k, f"{name} read {k}", f"{other} read {k}"

    def request_compare(self) -> None:
        if not self.compare_active or self._hold_render:
            return
        sources = self.compare_sources()
        if isinstance(sources, str):
            self.compare_result = None
            self._compare_message(sources)
            return
        a, b, ka, kb, la, lb = sources
        m = self.model
        region = m.region()
        display = m.displays["raw"]
        self._compare_generation += 1
        req = CompareRequest(
            generation=self._compare_generation, a=a, b=b, frame_a=ka, frame_b=kb, region=region,
            step=compare_step(region), label_a=la, label_b=lb, cmap=display.cmap, low=display.low, high=display.high,
            bad=None if self.context is None else self.context.bad, flag_color=m.flag_color)
        self.submit("compare", lambda token: compare_job(req), self._apply_compare, tag=self.dataset.id)

    def _apply_compare(self, result: CompareResult) -> None:
        if result.request.generation != self._compare_generation:
            return
        self.compare_result = result
        view = self._compare_view
        if view is not None:
            view.set_compare(result)
        self.views.status.notify("compare_ready", result)

    # -- sessions ------------------------------------------------------------------------
    def compare_state(self) -> dict | None:
        if self.compare_mode == "read" and self.compare_read is None and not self.compare_view_settings:
            return None
        return {"mode": self.compare_mode, "read": self.compare_read, "uri": self.compare_uri,
                **self.compare_view_settings}

    def restore_compare(self, state: dict[str, Any]) -> None:
        mode = state.get("mode", "read")
        if mode not in COMPARE_MODES:
            return
        self.compare_view_settings = {k: v for k, v in state.items() if k not in ("mode", "read", "uri")}
        view = self._compare_view
        if view is not None and hasattr(view, "apply_settings"):
            view.apply_settings(self.compare_view_settings)
        read = state.get("read")
        self.set_compare(mode, read=read if isinstance(read, int) else None, uri=state.get("uri"))
