"""Registries filled once by ``bench.load`` and kept: each benchmark size is pushed only once.

    python -m bench.registry_cache --repositories 100000 --tags 1 [--cache DIR]

Loading 100,000 repositories takes about half an hour on two cores, so
``bench.run`` keeps each loaded registry's storage under a directory named
for its plan, with a ``loaded.json`` written only once every tag was pushed.
A directory without it is a load that did not finish and is loaded again.
The benchmark's own pushes (freshness) go under a namespace that
``forget_namespace`` removes from the storage afterwards, so the cached
content stays exactly what the plan says.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.corpus import debian_packages
from bench.image_specs import ImageSpec, LoadPlan, plan_images
from bench.load import load
from tests.support.registry import RegistryProcess

DEFAULT_CACHE = Path.home() / ".cache" / "regsearch-bench"
MARKER = "loaded.json"


def registry_directory(cache: Path, plan: LoadPlan) -> Path:
    """Where the registry for ``plan`` is kept: one directory per size, tags and seed."""
    return cache / f"registry-{plan.repositories}x{plan.tags_per_repo}-seed{plan.seed}"


def loaded_registry(cache: Path, plan: LoadPlan, images: list[ImageSpec] | None = None) -> tuple[Path, dict[str, Any]]:
    """The directory of a registry holding ``plan``'s images, loading it first unless a finished
    load is kept; with the load's figures (``cached`` says whether they are from an earlier run).

    Raises ``RuntimeError`` when any tag could not be pushed: a partial registry is not a size.
    """
    directory = registry_directory(cache, plan)
    marker = directory / MARKER
    if marker.exists():
        return directory, {**json.loads(marker.read_text()), "cached": True}
    if directory.exists():
        shutil.rmtree(directory)  # an interrupted load: start it again from nothing
    specs = images if images is not None else plan_images(plan, debian_packages())
    with RegistryProcess(directory) as registry, \
            tqdm(total=plan.repositories * plan.tags_per_repo, unit="tag", desc="loading", file=sys.stderr) as bar:
        report = load(registry.url, plan, progress=bar.update, images=specs)
    if report.failures:
        first = report.failures[0]
        raise RuntimeError(f"{len(report.failures)} tags failed to push, first {first.repository}:{first.tag}: {first.error}")
    figures = {
        "repositories": report.repositories, "tags": report.tags, "manifests": report.manifests,
        "seconds": round(report.seconds, 1), "tags_per_s": round(report.pushes_per_second, 1),
        "threads": plan.threads, "seed": plan.seed,
    }
    marker.write_text(json.dumps(figures, indent=2))
    return directory, {**figures, "cached": False}


def forget_namespace(directory: Path, namespace: str) -> None:
    """Remove every repository under ``namespace`` from a stopped registry's storage.

    Distribution cannot delete a repository through its API; its filesystem
    layout keeps each one in a directory, so removing that restores the
    catalog. Blobs stay (unreferenced), which no benchmark reads.
    """
    if not namespace or "/" in namespace or namespace.startswith("."):
        raise ValueError(f"not a top-level namespace: {namespace!r}")
    shutil.rmtree(directory / "storage" / "docker" / "registry" / "v2" / "repositories" / namespace, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Load (or find) the registry for a plan and print where it is kept."""
    parser = argparse.ArgumentParser(prog="python -m bench.registry_cache", description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, required=True)
    parser.add_argument("--tags", type=int, default=1, help="tags per repository")
    parser.add_argument("--threads", type=int, default=LoadPlan.threads)
    parser.add_argument("--seed", type=int, default=LoadPlan.seed)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    plan = LoadPlan(repositories=args.repositories, tags_per_repo=args.tags, threads=args.threads, seed=args.seed)
    directory, figures = loaded_registry(args.cache, plan)
    print(json.dumps({"directory": str(directory), **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
