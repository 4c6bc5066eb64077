"""Opening an exposure whose reference files are still being written (the demo's first look).

The demo writes the illuminated exposure first and opens it at once; its
reference files follow.  Meanwhile the controller must not look them up
(it would find none and say "no saturation reference"): the exposure
renders without context, the mask and ratio panes saying "loading
reference files...", and the context job runs when the files are there.
:meth:`ViewerController._on_opened` asks :attr:`_references_pending`.
"""

from __future__ import annotations


class ReferencesWaitMixin:
    """``await_references`` / ``references_ready`` of the :class:`~._viewer.ViewerController`."""

    _references_pending: str | None = None  # uri whose reference files are still being written

    def await_references(self, uri: str) -> None:
        """The reference files of ``uri`` are still being written: open it without them.

        Until :meth:`references_ready`, ``uri`` opens and renders with no
        context (the mask and ratio panes say "loading reference files..."),
        instead of looking for references that are not there yet.
        """
        self._references_pending = str(uri)

    def references_ready(self, uri: str) -> None:
        """The reference files awaited for ``uri`` are written: load its context if it is open."""
        uri = str(uri)
        if self._references_pending == uri:
            self._references_pending = None
        ds = self.dataset
        if ds is not None and ds.uri == uri and self.context is None:
            self._load_context(ds)
