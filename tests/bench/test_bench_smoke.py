"""Every benchmark scenario runs once at a tiny size and ends with its JSON line, so benchmarks never rot.

The figures are not judged here (speed targets live in the benchmarks); only that each scenario runs, prints
its documented keys as the last line, and reports sane values.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import scenarios

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "cold-start": {"function_app_import_s", "deps_import_s", "ratio"},
    "cloudsuite-list": {"product", "records", "requests", "floor_requests", "records_per_s", "rss_mb_small",
                        "rss_mb_large", "rss_ratio"},
    "dataverse-write": {"records", "requests", "floor_requests", "ratio_vs_floor", "per_record_requests",
                        "adf_default_requests", "throttled_wall_s", "throttle_floor_s", "ratio_vs_throttle_floor",
                        "records_per_s"},
    "e2e": {"records", "pipeline_wall_s", "direct_pump_wall_s", "ratio_vs_direct", "dataverse_requests",
            "floor_requests", "ratio_vs_floor", "repoll_dataverse_requests", "repoll_write_messages",
            "rss_mb_small", "rss_mb_large", "rss_ratio"},
}


def test_every_scenario_has_its_documented_keys():
    assert sorted(scenarios()) == sorted(KEYS)


@pytest.mark.parametrize("scenario", sorted(KEYS))
def test_scenario_runs_at_a_tiny_size_and_ends_with_its_json_line(scenario):
    module = importlib.import_module(f"bench.{scenario.replace('-', '_')}")
    out = subprocess.run([sys.executable, "-m", "bench", scenario, *module.SMOKE_ARGS], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert KEYS[scenario] <= set(figures)
    numbers = [v for v in figures.values() if isinstance(v, int | float)]
    assert numbers and all(v >= 0 for v in numbers)


def test_unknown_scenario_is_refused_with_the_list():
    out = subprocess.run([sys.executable, "-m", "bench", "no-such-thing"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert out.returncode == 2 and "cold-start" in out.stderr
