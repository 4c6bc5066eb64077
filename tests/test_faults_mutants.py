"""Seeded mutants of small exposures of each compression: only ExposureError, no signal, no hang, verify sees every checksummed change."""

from __future__ import annotations

import pytest

import fault_lib


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    env = {"BRIGHTSTAR_CACHE_DIR": str(root / "cache")}
    bases = fault_lib.write_bases(root / "bases")
    originals = fault_lib.original_digests(bases, env)
    assert all(originals.values()), originals
    mutants = fault_lib.make_mutants(bases, root / "mutants", count=112, seed=10)
    return fault_lib.run_mutants(mutants, originals, workers=2, timeout=60.0, env=env)


def _show(rows):
    return "\n".join(f"{r['base']} {r['kind']} {r['detail']}: {r['outcome']} {r.get('message', '')[:200]} verify={r.get('verify')}"
                     for r in rows[:10])


def test_every_kind_of_mutant_was_tried(fault_run):
    assert {(r["base"], r["kind"]) for r in fault_run} == {(b, k) for b in ("none", "lz4", "zlib", "bzp2") for k in fault_lib.KINDS}


def test_no_crash_no_hang_no_other_exception(fault_run):
    bad = [r for r in fault_run if r["outcome"] in ("crash", "hang", "exception")]
    assert not bad, _show(bad) + "\n" + "\n".join(r.get("traceback", "") for r in bad[:2])


def test_verify_reports_every_change_inside_checksummed_bytes(fault_run):
    covered = [r for r in fault_run if r["checksummed"]]
    assert len(covered) >= 20
    missed = [r for r in covered if r["verify"] not in ("corrupt", "error")]
    assert not missed, _show(missed)


def test_no_silent_wrong_data(fault_run):
    silent = [r for r in fault_run if r["outcome"] == "ok" and not r["same"] and r["verify"] not in ("corrupt", "error")]
    assert not silent, _show(silent)


def test_verify_never_raises_anything_but_exposure_error(fault_run):
    odd = [r for r in fault_run if str(r.get("verify", "")).startswith("exception")]
    assert not odd, _show(odd)
