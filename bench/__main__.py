"""Run one benchmark scenario and print its figures; the LAST line is a single JSON object."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def scenarios() -> list[str]:
    """Every scenario name, from the modules in this folder that define ``main``."""
    here = Path(__file__).parent
    names = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            names.append(info.name.replace("_", "-"))
    return sorted(names)


def run(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m bench <scenario> [options]\nscenarios: " + ", ".join(scenarios()))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in scenarios():
        print(f"unknown scenario {name!r}; known: {', '.join(scenarios())}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name.replace('-', '_')}")
    figures = module.main(rest)
    print(json.dumps(figures, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
