"""The demo's first look: progress that never goes back; frames that do not
depend on how many threads built them."""

from __future__ import annotations

import numpy as np

from processing import synth, synth_reads


def test_first_look_and_darks_progress_never_go_back(tmp_path):
    cfg = synth.SynthConfig(frames=3, size=64)
    for job in (synth.write_first_look_job(tmp_path, cfg), synth.write_darks_job(tmp_path, cfg)):
        fractions = []
        try:
            while True:
                fractions.append(next(job).fraction)
        except StopIteration as stop:
            result = stop.value
        assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] == 1.0
        assert len(fractions) > 5
    assert result["complete"] is True


def test_frames_do_not_depend_on_the_number_of_threads(monkeypatch):
    cfg = synth.SynthConfig(frames=3, size=96, seed=3)
    det = synth.Detector(cfg)
    monkeypatch.setattr(synth_reads, "_BLOCK_ROWS", 32)  # three blocks
    runs = []
    for workers in (1, 3):
        monkeypatch.setattr(synth_reads, "_workers", lambda w=workers: w)
        runs.append([(f.copy(), a.copy()) for _, f, a in synth.generate_frames(cfg, det, True)])
    for (f1, a1), (f3, a3) in zip(*runs):
        np.testing.assert_array_equal(f1, f3)
        np.testing.assert_array_equal(a1, a3)
    # ... and the blocks are not copies of one another (each has its own noise).
    frame = runs[0][1][0].astype(np.int32)
    assert not np.array_equal(frame[8:32, 8:40], frame[40:64, 8:40])


def test_shot_noise_where_the_scene_is_bright(monkeypatch):
    """Differences of reads in the glow scatter by read and shot noise, in darks by read noise only."""
    cfg = synth.SynthConfig(frames=4, size=128, seed=5)
    det = synth.Detector(cfg)
    illum = [f.astype(np.float64) for _, f, _ in synth.generate_frames(cfg, det, True)]
    dark = [f.astype(np.float64) for _, f, _ in synth.generate_frames(cfg, det, False, seed_offset=1)]
    flux = det.star_flux()
    glow = (flux * cfg.frame_time > 50) & (flux * cfg.frame_time < 2000)  # unsaturated, well above read noise
    glow[:8] = glow[-8:] = False
    d_ill = (illum[2] - illum[1])[glow] - (flux * cfg.frame_time)[glow]
    d_dark = (dark[2] - dark[1])[glow]
    assert glow.sum() > 50
    assert np.std(d_dark) < 12  # about sqrt(2) x 5 DN read noise plus correlated noise
    assert np.std(d_ill) > 1.5 * np.std(d_dark)
