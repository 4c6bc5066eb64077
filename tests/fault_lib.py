"""Fault injection: seeded mutants of small exposures, read in long-lived child processes.

Used by ``tests/test_faults_mutants.py`` (a CI-sized run) and
``bench/bench_faults.py`` (>= 300 mutants, counts printed).

A mutant is a copy of a small synthetic exposure (none, lz4, zlib or bzp2)
with one seeded change: truncation anywhere, a flipped byte in the tree, a
block header, an lz4 chunk header or the data, appended garbage, or a field
zeroed (compression, header size, sizes, the array offset or shape in the
tree).  Each is read by a child process (every frame, a cutout, every
array, then ``verify``); the parent gives each read a deadline and restarts
a child that died (a signal) or hung.  Outcomes per mutant:

``ok``         read without error (``same`` says whether the pixels equal the original's)
``error``      an :class:`~processing.errors.ExposureError` (the only allowed exception)
``exception``  any other exception (a defect)
``crash``      the child died (a signal: SIGBUS, SIGSEGV...)
``hang``       no answer within the deadline

and ``verify``: the status ``verify`` gave (or ``error``).  ``checksummed``
is True when the change lies inside bytes a block checksum covers: those
must be reported by verify (``corrupt`` or an error).
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, sys, traceback
import numpy as np
from processing.errors import ExposureError
from processing.io import open_exposure
from processing.progress import run
from processing.verify import verify_job

def digest(exp):
    h = hashlib.sha256()
    for k in range(exp.shape[0]):
        h.update(np.ascontiguousarray(exp.frame(k)).tobytes())
    h.update(np.ascontiguousarray(exp.cutout(3, 40, 5, 33)).tobytes())
    for name in sorted(exp.arrays):
        h.update(np.ascontiguousarray(exp.arrays[name].read()).tobytes())
    return h.hexdigest()

for line in sys.stdin:
    path = line.strip()
    out = {}
    try:
        with open_exposure(path) as exp:
            run(exp.prepare())
            out["outcome"] = "ok"
            out["digest"] = digest(exp)
    except ExposureError as err:
        out["outcome"] = "error"
        out["message"] = str(err)
    except Exception as err:
        out["outcome"] = "exception"
        out["message"] = f"{type(err).__name__}: {err}"
        out["traceback"] = traceback.format_exc()[-2000:]
    try:
        out["verify"] = run(verify_job(path)).status
    except ExposureError as err:
        out["verify"] = "error"
    except Exception as err:
        out["verify"] = f"exception {type(err).__name__}: {err}"
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""

KINDS = ("truncate", "flip_tree", "flip_block_header", "flip_chunk_header", "flip_data", "append", "zero_field")


@dataclass(frozen=True)
class Mutant:
    path: Path
    base: str  # compression of the original
    kind: str
    detail: str
    checksummed: bool  # the change lies inside bytes covered by a block checksum


def write_bases(directory: Path) -> dict[str, Path]:
    """Small exposures (4 reads of 64 x 64, 3 blocks) of each compression."""
    from processing import synth

    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for comp in ("none", "lz4", "zlib", "bzp2"):
        path = directory / f"base_{comp}.asdf"
        if not path.exists():
            synth.write_exposure(path, frames=4, size=64, seed=5, compression=comp)
        out[comp] = path
    return out


def _layout(path: Path):
    from processing.asdf_blocks import read_layout
    from processing.sources import LocalFileSource

    src = LocalFileSource(path)
    try:
        return read_layout(src)
    finally:
        src.close()


def _covered(layout, lo: int, hi: int) -> bool:
    return any(b.data_offset < hi and lo < b.data_offset + b.used_size and any(b.checksum) for b in layout.blocks)


def make_mutants(bases: dict[str, Path], directory: Path, count: int, seed: int = 0) -> list[Mutant]:
    """``count`` seeded mutants, cycling through kinds and compressions."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    layouts = {comp: _layout(p) for comp, p in bases.items()}
    originals = {comp: p.read_bytes() for comp, p in bases.items()}
    out = []
    comps = sorted(bases)
    for i in range(count):
        comp = comps[i % len(comps)]
        kind = KINDS[(i // len(comps)) % len(KINDS)]
        data = bytearray(originals[comp])
        layout = layouts[comp]
        blocks = layout.blocks
        checksummed = False
        if kind == "truncate":
            at = rng.randrange(0, len(data))
            detail = f"truncated at {at}"
            data = data[:at]
        elif kind == "append":
            extra = os.urandom(rng.choice([1, 7, 100, 5000]))
            detail = f"{len(extra)} garbage bytes appended"
            data += extra
        elif kind == "zero_field":
            b = rng.choice(blocks)
            field = rng.choice(["compression", "header_size", "used_size", "data_size", "allocated_size", "checksum",
                                "tree_offset", "tree_shape"])
            # header: magic(4) header_size(2) flags(4) compression(4) allocated(8) used(8) data(8) checksum(16)
            spans = {"header_size": (4, 2), "compression": (10, 4), "allocated_size": (14, 8), "used_size": (22, 8),
                     "data_size": (30, 8), "checksum": (38, 16)}
            if field in spans:
                off, n = spans[field]
                data[b.offset + off : b.offset + off + n] = bytes(n)
                detail = f"block at {b.offset}: {field} zeroed"
            elif field == "tree_offset":
                text = bytes(data[: layout.tree_end])
                pos = text.find(b"source: ")
                data[pos : pos + 9] = b"offset: 9" if pos >= 0 else data[pos : pos + 9]
                detail = "tree: first 'source' turned into 'offset: 9'"
            else:
                text = bytes(data[: layout.tree_end])
                pos = text.find(b"shape: [")
                end = text.find(b"]", pos)
                if pos >= 0:
                    data[pos + 8 : end] = b" ".join(b"0" for _ in range(len(data[pos + 8 : end]) // 2)).ljust(end - pos - 8)[: end - pos - 8]
                detail = "tree: first shape zeroed"
        else:
            if kind == "flip_tree":
                lo, hi = 0, layout.tree_end
            elif kind == "flip_block_header":
                b = rng.choice(blocks)
                lo, hi = b.offset, b.data_offset
            elif kind == "flip_chunk_header":
                lz = [b for b in blocks if b.compression == "lz4"] or blocks
                b = rng.choice(lz)
                lo, hi = b.data_offset, b.data_offset + 8
            else:
                b = rng.choice(blocks)
                lo, hi = b.data_offset, b.data_offset + b.used_size
            at = rng.randrange(lo, hi)
            bit = 1 << rng.randrange(8)
            data[at] ^= bit
            detail = f"byte {at} ^ {bit:#04x}"
            checksummed = _covered(layout, at, at + 1)
        path = directory / f"m{i:04d}_{comp}_{kind}.asdf"
        path.write_bytes(bytes(data))
        out.append(Mutant(path, comp, kind, detail, checksummed))
    return out


class Reader:
    """A long-lived child that reads one path per request; restarted after a crash or a hang."""

    def __init__(self, timeout: float, env: dict | None = None):
        self.timeout = timeout
        self.env = dict(os.environ, **(env or {}))
        self.env["PYTHONPATH"] = str(ROOT) + os.pathsep + self.env.get("PYTHONPATH", "")
        self.proc = None
        self._start()

    def _start(self):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=self.env, text=True, bufsize=1)

    def read(self, path: Path) -> dict:
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self._start()
            return {"outcome": "hang"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self._start()
            return {"outcome": "crash", "returncode": code}
        return json.loads(line)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_mutants(mutants: list[Mutant], originals: dict[str, str], workers: int = 2, timeout: float = 30.0,
                env: dict | None = None) -> list[dict]:
    """Read every mutant in ``workers`` children; one result dict per mutant (with its description)."""
    from concurrent.futures import ThreadPoolExecutor

    readers = [Reader(timeout, env) for _ in range(workers)]
    try:
        chunks = [mutants[i::workers] for i in range(workers)]

        def work(args):
            reader, part = args
            res = []
            for m in part:
                r = reader.read(m.path)
                r.update(path=str(m.path), base=m.base, kind=m.kind, detail=m.detail, checksummed=m.checksummed)
                r["same"] = r.get("digest") == originals.get(m.base)
                res.append(r)
            return res

        with ThreadPoolExecutor(workers) as pool:
            results = [r for part in pool.map(work, zip(readers, chunks)) for r in part]
    finally:
        for reader in readers:
            reader.close()
    return results


def original_digests(bases: dict[str, Path], env: dict | None = None) -> dict[str, str]:
    reader = Reader(120.0, env)
    try:
        return {comp: reader.read(p).get("digest", "") for comp, p in bases.items()}
    finally:
        reader.close()


def summarize(results: list[dict]) -> dict:
    """Counts a fault run is judged by."""
    count = {k: 0 for k in ("ok", "error", "exception", "crash", "hang")}
    for r in results:
        count[r["outcome"]] = count.get(r["outcome"], 0) + 1
    missed = [r for r in results if r["checksummed"] and r.get("verify") not in ("corrupt", "error")]
    silent = [r for r in results if r["outcome"] == "ok" and not r["same"] and r.get("verify") not in ("corrupt", "error")]
    return {"mutants": len(results), **count, "checksummed": sum(r["checksummed"] for r in results),
            "missed_by_verify": len(missed), "silent_wrong_data": len(silent),
            "bad": [r for r in results if r["outcome"] in ("exception", "crash", "hang")] + missed + silent}

