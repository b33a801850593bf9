"""Bench: list one entity through the CloudSuite client against the simulator.

    .venv/bin/python -m bench cloudsuite-list --product m3 --records 100000

Reports requests made vs the floor ceil(N/page) + 1, records/s through the client, and peak RSS of the client
at a small and at the large size. Each size runs the client in a fresh subprocess (the simulator, which holds
every record, stays in this process), so RSS is the client's alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

SMOKE_ARGS = ["--product", "m3", "--records", "400", "--small", "100", "--page-size", "50"]
ROOT = Path(__file__).resolve().parents[1]


def _fingerprint(keys: Any) -> int:
    """Order-independent checksum of keys: equal only if every key came exactly once (with high probability)."""
    return sum(zlib.crc32(str(k).encode()) for k in keys) % (1 << 61)


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """Run in the subprocess: list everything, report records, time, peak RSS and a key fingerprint."""
    from shared.cloudsuite import CloudSuiteClient, CloudSuiteConfig, parse_ionapi

    section: dict[str, Any] = {"product": args.product, "ionapi_secret": "bench", "page_size": args.page_size,
                               "csi": {"mongoose_config": args.mongoose_config, "site_timezone": "America/New_York"}}
    config = CloudSuiteConfig.from_section(section, "bench")
    ionapi = parse_ionapi(Path(args.ionapi).read_text(encoding="utf-8"), "bench")
    with CloudSuiteClient(config, ionapi, connection="bench", verify=args.ca) as client:
        client.tokens.get()  # token outside the timed part: once per 2 h in production
        started = time.perf_counter()
        records = 0
        fingerprint = 0
        for page in client.iter_changed(args.entity):
            records += len(page.records)
            fingerprint = (fingerprint + _fingerprint(page.key_values())) % (1 << 61)
        elapsed = time.perf_counter() - started
    return {"records": records, "seconds": elapsed, "rss_mb": _peak_rss_kb() / 1024, "fingerprint": fingerprint}


def _peak_rss_kb() -> int:
    """Peak RSS of this process image. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child
    of the (large) simulator process would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_size(args: argparse.Namespace, records: int) -> dict[str, Any]:
    """Start a simulator with ``records`` of the entity, run the client in a fresh subprocess against it."""
    from localdev.cloudsuite import CloudSuiteSimulator

    counts = {"suppliers": records if args.entity == "supplier" else 0,
              "customers": records if args.entity == "customer" else 0}
    with CloudSuiteSimulator(products=(args.product,), seed=7, **counts) as sim, \
            tempfile.TemporaryDirectory(prefix="bench-cloudsuite-") as tmp:
        expected = _fingerprint(sim.keys(args.product, args.entity))  # also builds the data before timing
        ionapi = sim.write_ionapi(Path(tmp) / "bench.ionapi")
        command = [sys.executable, "-m", "bench.cloudsuite_list", "--worker", "--product", args.product,
                   "--entity", args.entity, "--page-size", str(args.page_size), "--ionapi", ionapi,
                   "--ca", sim.ca_bundle, "--mongoose-config", f"{sim.tenant}_DALS"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bench worker failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["requests"] = len([r for r in sim.requests() if "/as/" not in r.path])
        result["complete"] = result["records"] == records and result["fingerprint"] == expected
        return result


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench cloudsuite-list", description=__doc__)
    parser.add_argument("--product", choices=("m3", "csi", "ln", "fsm"), default="m3")
    parser.add_argument("--entity", choices=("supplier", "customer"), default="customer")
    parser.add_argument("--records", type=int, default=100_000, help="records in the large run")
    parser.add_argument("--small", type=int, default=10_000, help="records in the small (RSS baseline) run")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ionapi", help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    parser.add_argument("--mongoose-config", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> dict[str, Any]:
    args = _parse(argv)
    small = _run_size(args, args.small)
    large = _run_size(args, args.records)
    floor = max(1, math.ceil(args.records / args.page_size)) + 1
    rate = large["records"] / large["seconds"] if large["seconds"] else 0.0
    print(f"product {args.product}, entity {args.entity}, page size {args.page_size}")
    for name, run, n in (("small", small, args.small), ("large", large, args.records)):
        print(f"  {name}: {run['records']}/{n} records (every key once: {run['complete']}) in {run['seconds']:.2f} s,"
              f" {run['requests']} requests, peak RSS {run['rss_mb']:.1f} MB")
    print(f"  requests {large['requests']} vs floor {floor}; {rate:,.0f} records/s; "
          f"RSS ratio {large['rss_mb'] / small['rss_mb']:.3f}")
    if not (small["complete"] and large["complete"]):
        raise RuntimeError("the client did not return every record exactly once")
    return {"product": args.product, "records": large["records"], "requests": large["requests"],
            "floor_requests": floor, "records_per_s": round(rate, 1), "rss_mb_small": round(small["rss_mb"], 1),
            "rss_mb_large": round(large["rss_mb"], 1), "rss_ratio": round(large["rss_mb"] / small["rss_mb"], 3)}


if __name__ == "__main__":
    parsed = _parse(sys.argv[1:])
    if parsed.worker:
        print(json.dumps(_worker(parsed)))
    else:
        print(json.dumps(main(sys.argv[1:])))
