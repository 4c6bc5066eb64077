"""The export dialog asks before replacing a file and passes the answer on."""

from __future__ import annotations

import pytest
from PyQt6 import QtWidgets

from brightstar_gui.widgets.export_dialog import ExportDialog


@pytest.mark.parametrize("answer, emitted", [("No", None), ("Yes", True)])
def test_dialog_asks_before_overwriting(qtbot, tmp_path, monkeypatch, answer, emitted):
    dlg = ExportDialog(str(tmp_path), [2, 4])
    qtbot.addWidget(dlg)
    dlg.kind.setCurrentIndex(dlg.kind.findData("pane"))
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    dlg.path.setText(str(target))
    asked = []

    def question(parent, title, text, *args):
        asked.append(text)
        return getattr(QtWidgets.QMessageBox.StandardButton, answer)

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    got = []
    dlg.export_requested.connect(lambda *a: got.append(a))
    dlg.export_button.click()
    assert asked and "fig.png" in asked[0]
    if emitted is None:
        assert got == [] and "exists" in dlg.status.text()
    else:
        assert got[0][1] == str(target) and got[0][4] is True
    assert target.read_bytes() == b"old"  # the dialog itself never touches the file


def test_dialog_does_not_ask_for_a_new_file_and_gives_size_settings(qtbot, tmp_path, monkeypatch):
    dlg = ExportDialog(str(tmp_path), [2, 4])
    qtbot.addWidget(dlg)
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a: pytest.fail("asked for a new file"))
    got = []
    dlg.export_requested.connect(lambda *a: got.append(a))
    dlg.path.setText(str(tmp_path / "new.png"))
    dlg.dpi.setValue(150)
    dlg.export_button.click()
    assert got and got[0][4] is False
    assert dlg.size_settings() == {"dpi": 150.0, "width": None}
    dlg.width_px.setValue(1800)
    assert dlg.size_settings()["width"] == 1800
