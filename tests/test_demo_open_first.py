"""The demo's exposure opens before its reference files are written, and a set
from an older generator is written again.

Controller tests use the SyncRunner and fake views of ``test_controller``; the
window tests drive ``start_demo`` as the ``--demo`` start does.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from brightstar_gui.controllers import SyncRunner, ViewerController
from brightstar_gui.jobs.render import LOADING_REFERENCES
from processing import synth
from processing.progress import run
from processing.verify import CORRUPT, VERIFIED, verify_job

from test_controller import FakeViews


@pytest.fixture
def first_exposure(tmp_path):
    """The first look's exposure written as the demo writes it: no references yet."""
    cfg = synth.SynthConfig(frames=4, size=128, seed=11)
    exposure = run(synth.write_illuminated_job(tmp_path, cfg))
    return tmp_path, cfg, exposure


def controller(deferred=False):
    views = FakeViews()
    runner = SyncRunner(deferred=deferred)
    return ViewerController(views, runner), views, runner


def test_exposure_is_written_in_place_read_for_read_and_never_changes_after(first_exposure):
    """The file holds exactly the generator's reads with their checksums; writing the references
    does not touch it (readers that opened it check size and mtime); it reads as a set only then."""
    import asdf

    root, cfg, exposure = first_exposure
    assert synth.read_manifest(root) is None  # not a usable set yet
    assert not any(p.name.startswith(".partial") for p in exposure.path.parent.iterdir())
    check = run(verify_job(str(exposure.path)))
    assert check.status == VERIFIED and not check.unchecked
    reads = [(f.copy(), a.copy()) for _, f, a in synth.generate_frames(cfg, exposure.detector, True)]
    with asdf.open(exposure.path, lazy_load=False, validate_checksums=True) as af:
        data, amp33 = np.asarray(af["roman"]["data"]), np.asarray(af["roman"]["amp33"])
        assert af["roman"]["meta"]["filename"] == exposure.path.name
        assert data.shape == (4, 128, 128) and data.dtype == np.uint16
        for k, (frame, amp) in enumerate(reads):
            np.testing.assert_array_equal(data[k], frame)
            np.testing.assert_array_equal(amp33[k], amp)
    before = exposure.path.stat()

    manifest = run(synth.write_first_look_references_job(root, cfg, exposure))
    after = exposure.path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert manifest["complete"] is False and manifest["generator_version"] == synth.GENERATOR_VERSION
    assert set(manifest["references"]) == set(synth.REFERENCE_TYPES)
    assert synth.read_manifest(root)["references"] == manifest["references"]


def test_checksums_of_a_corrupted_block_do_not_match(first_exposure):
    """The MD5s hashed while writing are of the bytes on disk: a flipped byte is caught."""
    _, _, exposure = first_exposure
    with open(exposure.path, "r+b") as fh:
        fh.seek(-1000, 2)
        byte = fh.read(1)
        fh.seek(-1000, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert run(verify_job(str(exposure.path))).status == CORRUPT


def test_controller_opens_without_references_then_loads_them(first_exposure):
    root, cfg, exposure = first_exposure
    uri = str(exposure.path)
    c, views, runner = controller()
    c.await_references(uri)
    c.open(uri)
    # On screen, no reference look-up yet: mask and ratio say what is coming, not an error.
    assert c.dataset is not None and c.context is None
    assert "context" not in runner.submitted
    assert views.panes.images["raw"][0] is not None
    assert views.panes.messages["mask"] == LOADING_REFERENCES
    assert views.status.references == "references: being written..."
    assert not any("saturation" in f for f in views.status.flashes) and views.status.errors == []
    assert "context_loaded" not in views.status.events

    run(synth.write_first_look_references_job(root, cfg, exposure))
    c.references_ready(uri)
    assert runner.submitted.count("context") == 1
    assert c.context is not None and {"mask", "saturation"} <= set(c.context.references)
    assert views.status.events[-1] == "context_loaded"
    assert views.panes.images["mask"][0] is not None and views.panes.messages["mask"] == ""
    assert "synthetic set" in views.status.references
    c.references_ready(uri)  # again: nothing new to load
    assert runner.submitted.count("context") == 1
    c.close()


def test_references_ready_before_the_open_finishes(first_exposure):
    root, cfg, exposure = first_exposure
    uri = str(exposure.path)
    run(synth.write_first_look_references_job(root, cfg, exposure))
    c, views, runner = controller(deferred=True)
    c.await_references(uri)
    c.open(uri)
    c.references_ready(uri)  # the open job has not run yet
    assert "context" not in runner.submitted
    runner.run_pending()
    assert c.context is not None and "saturation" in c.context.references
    assert "context_loaded" in views.status.events
    c.close()


def test_awaiting_one_exposure_does_not_hold_back_another(first_exposure, small_set):
    _, _, exposure = first_exposure
    c, views, runner = controller()
    c.await_references(str(exposure.path))
    c.open(str(small_set["illuminated"]))
    assert c.context is not None and "saturation" in c.context.references
    c.close()


def test_manifest_is_current_only_for_this_generator_and_shape():
    manifest = {"generator_version": synth.GENERATOR_VERSION, "config": {"frames": 3, "size": 96}}
    assert synth.manifest_is_current(manifest, 3, 96)
    assert not synth.manifest_is_current(manifest, 3, 128)
    assert not synth.manifest_is_current(manifest, 4, 96)
    assert not synth.manifest_is_current({**manifest, "generator_version": synth.GENERATOR_VERSION - 1}, 3, 96)
    assert not synth.manifest_is_current({"config": {"frames": 3, "size": 96}}, 3, 96)  # before versions
    assert not synth.manifest_is_current(None, 3, 96)


# -- the window -------------------------------------------------------------------------------

pytestqt = pytest.importorskip("pytestqt")


def test_demo_shows_the_exposure_while_its_references_are_written(qtbot, window, monkeypatch):
    """The references job waits until the test has seen the exposure on screen: the first look
    is then one progress row that never goes back, and the references load when written."""
    from brightstar_gui import demo as demo_mod

    gate = threading.Event()
    real = synth.write_first_look_references_job

    def gated(*args, **kwargs):
        assert gate.wait(60), "the test never opened the gate"
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(synth, "write_first_look_references_job", gated)
    shown = []
    window.task_progress.connect(lambda task, f, m: shown.append(f) if task == demo_mod.FIRST_LOOK else None)
    folder = demo_mod.demo_folder(3, 112)
    window.start_demo(frames=3, size=112)
    qtbot.waitUntil(lambda: window.controller.last_render is not None, timeout=120_000)
    # The exposure is on screen; its references are not written yet.
    assert synth.read_manifest(folder) is None
    assert window.controller.context is None
    assert window.panes.messages["mask"].toPlainText() == LOADING_REFERENCES
    assert window.panes.images["raw"].image is not None
    assert "demo" in window._tasks and window._tasks["demo"].bar.value() < 1000
    with qtbot.waitSignal(window.context_loaded, timeout=120_000):
        gate.set()
    assert window.controller.context is not None and "saturation" in window.controller.context.references
    # The render that follows the references fills the mask pane.
    qtbot.waitUntil(lambda: window.panes.messages["mask"].toPlainText() == ""
                    and window.panes.images["mask"].image is not None, timeout=20_000)
    # The mask's category labels are drawn: its bar's axis has its width (it was hidden
    # through the window's first layout, while no exposure was open).
    bar = window.panes.colorbars["mask"]
    assert bar.tick_labels[:4] == ["none", "diagonal", "4-neighbour", "saturated"]
    qtbot.waitUntil(lambda: bar.getAxis("right").size().width() > 40, timeout=5000)
    assert "demo" not in window._tasks
    assert shown == sorted(shown) and shown[-1] == 1.0 and len(shown) > 3
    qtbot.waitUntil(lambda: "darks" in window._tasks or (synth.read_manifest(folder) or {}).get("complete"),
                    timeout=20_000)
    window.pool.cancel("darks")  # not needed here


def test_demo_from_an_older_generator_is_written_again(qtbot, window):
    from brightstar_gui import demo as demo_mod

    folder = demo_mod.demo_folder(3, 80)
    cfg = synth.SynthConfig(frames=3, size=80)
    manifest = run(synth.write_first_look_job(folder, cfg))
    exposure = folder / manifest["illuminated"]
    old = {**manifest, "generator_version": synth.GENERATOR_VERSION - 1}
    (folder / "manifest.json").write_text(json.dumps(old))
    inode = exposure.stat().st_ino
    with qtbot.waitSignal(window.context_loaded, timeout=120_000):
        window.start_demo(frames=3, size=80)
    assert exposure.stat().st_ino != inode  # written again
    assert synth.manifest_is_current(synth.read_manifest(folder), 3, 80)
    assert window.session is not None and window.session.uri == str(exposure)
    # (A darks job cancelled while pending leaves its row: let the tiny darks finish.)
    qtbot.waitUntil(lambda: (synth.read_manifest(folder) or {}).get("complete") is True, timeout=120_000)
    qtbot.waitUntil(lambda: "darks" not in window._tasks, timeout=20_000)

    # A current, complete set is opened as it is: nothing is written.
    inode = exposure.stat().st_ino
    with qtbot.waitSignal(window.context_loaded, timeout=60_000):
        window.start_demo(frames=3, size=80)
    assert exposure.stat().st_ino == inode
    assert "demo" not in window._tasks and "darks" not in window._tasks


def test_cancelling_the_references_keeps_the_exposure_and_stops_waiting(qtbot, window, monkeypatch):
    """Cancelled while the reference files are written: the exposure stays open and the
    panes stop saying "loading reference files..." (the context job says what is missing)."""
    gate = threading.Event()
    real = synth.write_first_look_references_job

    def held(*args, **kwargs):
        yield synth.Progress(0.0, "held by the test")
        assert gate.wait(60)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(synth, "write_first_look_references_job", held)
    from brightstar_gui import demo as demo_mod

    folder = demo_mod.demo_folder(3, 64)
    window.start_demo(frames=3, size=64)
    qtbot.waitUntil(lambda: window.controller.last_render is not None and "demo" in window._tasks, timeout=120_000)
    qtbot.waitUntil(lambda: window._tasks["demo"].bar.value() >= 850, timeout=20_000)  # the references job runs
    with qtbot.waitSignal(window.context_loaded, timeout=60_000):
        window.pool.cancel("demo")
        gate.set()
    assert "demo" not in window._tasks
    assert window.session is not None and synth.read_manifest(folder) is None
    ctx = window.controller.context
    assert ctx is not None and "saturation" not in ctx.references
    qtbot.waitUntil(lambda: window.panes.messages["mask"].toPlainText() not in ("", LOADING_REFERENCES), timeout=20_000)
