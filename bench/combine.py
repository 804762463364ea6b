"""One results file from several runs of ``bench.run``: ``python -m bench.combine A.json B.json``.

A size measured again (say, because the machine was busy during its query
phase the first time) replaces that size's figures from an earlier file;
the targets, tables and plots are then made again from the combined sizes.
``runs`` records which file each size came from, with that run's machine
and parameters, so nothing is passed off as one run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.output import publish
from bench.plots import write_plots
from bench.run import DEFAULT_OUTPUT, report, targets


def combine(files: list[Path]) -> dict[str, Any]:
    """The sizes of every file (a later file's size replacing an earlier one's), with the targets
    recomputed; ``machine`` and ``parameters`` are the last file's."""
    sizes: dict[str, Any] = {}
    runs = []
    last: dict[str, Any] = {}
    for path in files:
        last = json.loads(path.read_text())
        sizes.update(last["sizes"])
        runs.append({"file": str(path), "sizes": sorted(last["sizes"], key=int), "machine": last["machine"],
                     "parameters": last["parameters"]})
    ordered = {size: sizes[size] for size in sorted(sizes, key=int)}
    results = {"machine": last["machine"], "parameters": last["parameters"], "runs": runs, "sizes": ordered}
    return {**results, "targets": targets(results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.combine", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+", help="results files of bench.run, oldest first")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results = combine(args.files)
    publish(args.output, results, report(results))
    for path in write_plots(results, args.output.parent):
        print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
