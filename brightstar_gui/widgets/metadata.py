"""The exposure's ASDF tree (what ``info()`` prints in the tutorial), searchable."""

from __future__ import annotations

from PyQt6 import QtCore, QtWidgets

_MAX_CHILDREN = 500


class MetadataBrowser(QtWidgets.QWidget):
    """A tree of keys and values with a filter box.

    The filter keeps items whose key path or value contains the text (case
    insensitive), with their parents, expanded.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.search = QtWidgets.QLineEdit()
        self.search.setPlaceholderText("Search keys and values (e.g. frame_time, detector)")
        self.search.setClearButtonEnabled(True)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["key", "value"])
        self.tree.setColumnWidth(0, 240)
        self.tree.setUniformRowHeights(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(lambda _: self._timer.start())

    def set_tree(self, tree: dict | None) -> None:
        self.tree.clear()
        if tree is None:
            return
        self.tree.setUpdatesEnabled(False)
        try:
            self._add(self.tree.invisibleRootItem(), tree, "")
        finally:
            self.tree.setUpdatesEnabled(True)
        roman = self.tree.findItems("roman", QtCore.Qt.MatchFlag.MatchExactly, 0)
        for item in roman:
            item.setExpanded(True)
            for i in range(item.childCount()):
                if item.child(i).text(0) == "meta":
                    item.child(i).setExpanded(True)
        if self.search.text():
            self._apply_filter()

    def _add(self, parent, node, path: str) -> None:
        if isinstance(node, dict):
            items = list(node.items())
        else:
            items = list(enumerate(node))
        for i, (key, value) in enumerate(items):
            if i >= _MAX_CHILDREN:
                QtWidgets.QTreeWidgetItem(parent, ["...", f"{len(items) - _MAX_CHILDREN} more"])
                break
            label = str(key) if isinstance(node, dict) else f"[{key}]"
            child = QtWidgets.QTreeWidgetItem(parent, [label, ""])
            full = f"{path}.{label}" if path else label
            child.setData(0, QtCore.Qt.ItemDataRole.UserRole, full.lower())
            if isinstance(value, (dict, list, tuple)) and value and not _is_leaf_list(value):
                tag = getattr(value, "tag", None)
                child.setText(1, f"({type(value).__name__}{', ' + tag.rsplit('/', 1)[-1] if tag else ''})")
                self._add(child, value, full)
            else:
                text = repr(value) if not isinstance(value, str) else value
                child.setText(1, text if len(text) < 300 else text[:300] + "...")
                child.setToolTip(1, text[:2000])

    def _apply_filter(self) -> None:
        needle = self.search.text().strip().lower()
        root = self.tree.invisibleRootItem()
        self.tree.setUpdatesEnabled(False)
        try:
            self._filter(root, needle)
        finally:
            self.tree.setUpdatesEnabled(True)

    def _filter(self, item, needle: str) -> bool:
        any_child = False
        for i in range(item.childCount()):
            if self._filter(item.child(i), needle):
                any_child = True
        if item is self.tree.invisibleRootItem():
            return any_child
        path = item.data(0, QtCore.Qt.ItemDataRole.UserRole) or ""
        own = not needle or needle in path or needle in item.text(1).lower()
        visible = own or any_child
        item.setHidden(not visible)
        if needle and any_child:
            item.setExpanded(True)
        return visible

    def visible_keys(self) -> list[str]:
        """Key paths of the items currently shown (for tests)."""
        out = []
        it = QtWidgets.QTreeWidgetItemIterator(self.tree)
        while it.value():
            item = it.value()
            if not item.isHidden():
                out.append(item.data(0, QtCore.Qt.ItemDataRole.UserRole))
            it += 1
        return out


def _is_leaf_list(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) <= 8 and all(isinstance(v, (int, float, str)) for v in value)
