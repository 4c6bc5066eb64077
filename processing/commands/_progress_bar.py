"""Run a progress job with a tqdm bar on stderr (shared by the commands)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from ..progress import Job, run


def run_with_bar(job: Job, description: str, quiet: bool = False):
    """Drive ``job`` to completion showing its progress; return its result."""
    if quiet:
        return run(job)
    with tqdm(total=1000, desc=description, unit="", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
              file=sys.stderr, dynamic_ncols=True) as bar:
        def update(report):
            target = int(round(report.fraction * 1000))
            if target > bar.n:
                bar.update(target - bar.n)
            bar.set_postfix_str(report.message[-60:], refresh=False)

        return run(job, on_progress=update)
