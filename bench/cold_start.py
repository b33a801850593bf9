"""cold-start: time to import ``function_app`` in a fresh interpreter vs its unavoidable dependencies alone.

Each figure is the median over fresh ``python`` processes (warm OS file cache), measured inside the
process with perf_counter around the import, so interpreter start-up itself is excluded from both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPS = "import azure.functions, azure.storage.queue, azure.data.tables, requests"
APP = "import function_app"
SMOKE_ARGS = ["--runs", "1"]


def _time_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> dict[str, float | int]:
    parser = argparse.ArgumentParser(prog="python -m bench cold-start")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure (median)")
    args = parser.parse_args(argv)
    _time_import(DEPS)  # warm the OS file cache so the first sample is not an outlier
    deps = [_time_import(DEPS) for _ in range(args.runs)]
    app = [_time_import(APP) for _ in range(args.runs)]
    deps_s, app_s = statistics.median(deps), statistics.median(app)
    print(f"unavoidable dependencies ({DEPS[7:]}): median {deps_s * 1000:.1f} ms over {args.runs} runs")
    print(f"function_app: median {app_s * 1000:.1f} ms over {args.runs} runs")
    print(f"ratio {app_s / deps_s:.2f} (target <= 1.5)")
    return {"function_app_import_s": round(app_s, 4), "deps_import_s": round(deps_s, 4),
            "ratio": round(app_s / deps_s, 3), "runs": args.runs}
