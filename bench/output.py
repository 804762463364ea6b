"""Where a benchmark's figures go: the results file and the printed table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def publish(output: Path, results: dict[str, Any], table: str) -> None:
    """Write ``results`` as JSON to ``output`` and print ``table``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(table)
    print(f"\nwritten to {output}")
