"""Fault-injection run: >= 300 seeded mutants of small exposures, counts printed.

Every mutant (truncation anywhere, flipped bytes in the tree, block headers,
lz4 chunk headers and data, appended garbage, zeroed fields; of none, lz4,
zlib and bzp2 files) is read whole by a long-lived child process (restarted
after a crash or hang) and checked with ``verify``.  The run passes when:

* 0 crashes (the child killed by a signal), 0 hangs (no answer in 60 s),
* 0 exceptions other than ``ExposureError``,
* 0 changes inside checksummed bytes that ``verify`` misses,
* 0 reads that return different pixels without ``verify`` saying so.

For comparison, the same mutants are opened the tutorial's way
(``asdf.open(validate_checksums=True)`` + ``roman_datamodels``) when
``--tutorial`` is given.

Run::

    python bench/bench_faults.py [--count 400] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fault_lib  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="write every result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        root = Path(tmp)
        env = {"BRIGHTSTAR_CACHE_DIR": str(root / "cache")}
        bases = fault_lib.write_bases(root / "bases")
        originals = fault_lib.original_digests(bases, env)
        mutants = fault_lib.make_mutants(bases, root / "mutants", args.count, args.seed)
        t0 = time.perf_counter()
        results = fault_lib.run_mutants(mutants, originals, workers=args.workers, timeout=60.0, env=env)
        wall = time.perf_counter() - t0
    summary = fault_lib.summarize(results)
    bad = summary.pop("bad")
    print(f"fault run: {summary['mutants']} mutants in {wall:.1f} s ({args.workers} child processes)")
    for key in ("ok", "error", "exception", "crash", "hang", "checksummed", "missed_by_verify", "silent_wrong_data"):
        print(f"  {key:18s} {summary[key]}")
    by_kind = collections.Counter((r["kind"], r["outcome"]) for r in results)
    print("  by kind (outcome: count):")
    for kind in fault_lib.KINDS:
        parts = ", ".join(f"{o} {n}" for (k, o), n in sorted(by_kind.items()) if k == kind)
        verified = sum(1 for r in results if r["kind"] == kind and r.get("verify") == "corrupt")
        print(f"    {kind:18s} {parts}; verify said corrupt: {verified}")
    for r in bad[:20]:
        print(f"  BAD {r['base']} {r['kind']} {r['detail']}: {r['outcome']} {r.get('message', '')[:300]} verify={r.get('verify')}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    ok = not bad
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
