"""e2e: the whole pipeline's initial sync vs a direct pump, request counts, an idle re-poll, and memory.

One run on this machine, M3 on the simulators, ``--records`` split evenly between suppliers and customers:
- direct pump: the same CloudSuite pages read by the same client, mapped, and upserted straight into a fresh
  Dataverse simulator by the same writer in request-filling batches: no queues, no state, no audit;
- pipeline: poll -> queue -> transform -> queue -> write through the local functions host, Azurite, state and
  audit, until every queue is drained;
- Dataverse requests of the pipeline vs the floor max(ceil(ops/1000), ceil(bytes/256 KB));
- an idle re-poll (nothing changed): Dataverse requests and write messages it caused;
- peak RSS of the largest single invocation (poll_cloudsuite streaming every page of a full read; transform and
  write invocations handle one message each) in a fresh process, at ``--small`` and ``--records``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SMOKE_ARGS = ["--records", "400", "--small", "200"]
DIRECT_CHUNK = 5000  # rows per writer call in the direct pump: several full requests, packed by the writer
UPSERT_PATHS = r"/api/data/v9\.2/(accounts|contacts)(/Microsoft\.Dynamics\.CRM\.UpsertMultiple|\(|$)|\$batch"
_POLL_ONCE = """
import json
from shared.config import get_settings
from shared.pipeline.poll import run_poll
from shared.pipeline.runtime import runtime
from shared.state import table_key
rt = runtime(get_settings())
for conn in rt.connections.values():  # forget the watermarks: this poll reads everything (a full initial sync)
    for entity in conn.entities:
        rt.state.delete_entity("wm", table_key(f"{conn.name}|{entity}"))
results = run_poll(get_settings())
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"read": sum(r.read for r in results), "vmhwm_kb": hwm}))
"""


def _quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    for name in ("pipeline", "shared", "localdev", "azure"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _direct_pump(stack: Any) -> tuple[float, int]:
    """Read, map and upsert straight into a fresh Dataverse simulator; returns (seconds, requests)."""
    from localdev.dataverse import DataverseSimulator
    from shared.cloudsuite.client import CloudSuiteClient
    from shared.config import get_settings
    from shared.dataverse import DataverseConfig, DataverseWriter, UpsertRecord
    from shared.mapping import MappingConfig, map_record
    from shared.pipeline.runtime import runtime

    rt = runtime(get_settings())
    conn = rt.connection(stack.connection)
    with DataverseSimulator() as target:
        section = {**dict(conn.dataverse), "url": target.url, "authority": target.authority,
                   "ca_bundle": target.ca_bundle}
        config = DataverseConfig.from_section(section, where="direct pump")
        writer = DataverseWriter(config, secret=target.entra.client_secret)
        client = CloudSuiteClient.for_connection(conn, rt.secrets.get(str(conn.cloudsuite["ionapi_secret"])))
        mapping = MappingConfig.from_section(conn.mapping, connection=conn.name, product=stack.product,
                                             key_columns={t: config.key_column(t) for t in ("account", "contact")})
        started = time.monotonic()
        buffer: dict[str, list[UpsertRecord]] = {"account": [], "contact": []}

        def flush(table: str, final: bool = False) -> None:
            # Accounts go out in request-filling chunks as pages arrive; contacts after every account exists.
            if len(buffer[table]) >= DIRECT_CHUNK or (final and buffer[table]):
                writer.upsert(buffer[table])
                buffer[table] = []

        for entity in conn.entities:
            for page in client.iter_changed(entity, None):
                for raw in page.records:
                    for row in map_record(mapping, entity, raw).rows:
                        parent = next(iter(row.parent_key.values())) if row.parent_key else None
                        buffer[row.table].append(UpsertRecord(table=row.table, key=row.key, payload=row.payload,
                                                              ref=next(iter(row.key.values())), parent_key=parent))
                flush("account")
        flush("account", final=True)
        flush("contact", final=True)
        elapsed = time.monotonic() - started
        requests = len(target.requests(UPSERT_PATHS, method=None))
        client.close()
        writer.close()
    return elapsed, requests


def _poll_rss(stack: Any) -> tuple[int, float]:
    """Run one poll in a fresh interpreter against the stack; returns (records read, peak RSS MB)."""
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _POLL_ONCE], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True, timeout=1800)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return int(figures["read"]), round(figures["vmhwm_kb"] / 1024, 1)


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench e2e")
    parser.add_argument("--records", type=int, default=100_000, help="source records (half suppliers, half customers)")
    parser.add_argument("--small", type=int, default=10_000, help="size of the small run for the RSS ratio")
    args = parser.parse_args(argv)
    _quiet_logs()
    from localdev.stack import start_stack
    from shared import defaults

    half = args.records // 2
    with start_stack("m3", suppliers=half, customers=args.records - half) as stack:
        direct_s, direct_requests = _direct_pump(stack)
        print(f"direct pump: {direct_s:.1f} s, {direct_requests} Dataverse requests")
        host = stack.start_host()
        started = time.monotonic()
        stack.sync(timeout_s=3600)
        pipeline_s = time.monotonic() - started
        failed = [i for i in host.invocations if not i.succeeded]
        upserts = [r for r in stack.dataverse.requests(UPSERT_PATHS) if r.status < 300]
        operations = sum(int(r.info.get("operations", 1)) for r in upserts)
        body_bytes = sum(r.request_bytes for r in upserts)
        floor = max(math.ceil(operations / defaults.DATAVERSE_MAX_OPERATIONS),
                    math.ceil(body_bytes / defaults.DATAVERSE_MAX_REQUEST_BYTES))
        print(f"pipeline: {pipeline_s:.1f} s, {len(upserts)} Dataverse upsert requests for {operations} rows "
              f"({body_bytes / 1e6:.1f} MB), floor {floor}; {len(failed)} failed invocations (retried)")

        before_requests = len(stack.dataverse.requests())
        before_writes = len(host.invocations_of("write_dataverse"))
        stack.sync(timeout_s=3600)
        repoll_requests = len(stack.dataverse.requests()) - before_requests
        repoll_writes = len(host.invocations_of("write_dataverse")) - before_writes
        print(f"idle re-poll: {repoll_requests} Dataverse requests, {repoll_writes} write messages")
        host.stop()
        stack.host = None
        read_large, rss_large = _poll_rss(stack)
    small_half = args.small // 2
    with start_stack("m3", suppliers=small_half, customers=args.small - small_half) as small:
        read_small, rss_small = _poll_rss(small)
    print(f"poll_cloudsuite peak RSS: {rss_small} MB reading {read_small} records, "
          f"{rss_large} MB reading {read_large} records")
    return {
        "records": args.records,
        "pipeline_wall_s": round(pipeline_s, 2),
        "direct_pump_wall_s": round(direct_s, 2),
        "ratio_vs_direct": round(pipeline_s / direct_s, 3),
        "dataverse_requests": len(upserts),
        "floor_requests": floor,
        "ratio_vs_floor": round(len(upserts) / floor, 3) if floor else None,
        "repoll_dataverse_requests": repoll_requests,
        "repoll_write_messages": repoll_writes,
        "rss_mb_small": rss_small,
        "rss_mb_large": rss_large,
        "rss_ratio": round(rss_large / rss_small, 3),
    }
