"""Dataverse writer benchmark: requests used vs the floor, the alternatives' request counts, throttled wall time
vs the throttle's floor, and unthrottled records/s, all against the HTTPS simulator (in this process).

    .venv/bin/python -m bench dataverse-write --records 50000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from localdev.dataverse import DataverseSimulator
from shared import defaults
from shared.dataverse import DataverseConfig, DataverseWriter, UpsertRecord
from shared.dataverse.model import Limits, Mode
from shared.dataverse.packing import Encoder, plan

SMOKE_ARGS = ["--records", "400", "--throttle-records", "400"]

TENANT, CLIENT_ID, SECRET = "bench-tenant", "22222222-3333-4444-5555-666666666666", "bench-secret-value"
THROTTLE_PER_S = 20
ADF_WRITE_BATCH_SIZE = 10  # Azure Data Factory's Dynamics sink default writeBatchSize
CITIES = ["Amsterdam", "Rotterdam", "München", "Łódź", "Zürich", "São Paulo", "Kraków", "Malmö", "Besançon"]


def make_records(n: int, seed: int = 7) -> list[UpsertRecord]:
    """Half suppliers (accounts), half their contacts: realistic column sets and lengths, some non-ASCII."""
    rng = random.Random(seed)
    accounts = (n + 1) // 2
    records: list[UpsertRecord] = []
    for i in range(accounts):
        key = f"M3-100-SUP{i:07d}"
        records.append(UpsertRecord("account", {"cssync_sourcekey": key}, {
            "name": f"{rng.choice(['Fabrikam', 'Contoso', 'Northwind', 'Litware', 'Tailspin'])} "
                    f"{rng.choice(['Metals', 'Logistics', 'Plastics', 'Components'])} {i} B.V.",
            "accountnumber": f"SUP{i:07d}",
            "customertypecode": 10,
            "address1_line1": f"{rng.choice(['Keizersgracht', 'Hauptstraße', 'Rue de la Paix'])} {rng.randint(1, 999)}",
            "address1_city": rng.choice(CITIES),
            "address1_postalcode": f"{rng.randint(1000, 9999)} AB",
            "address1_country": rng.choice(["NL", "DE", "FR", "PL", "CH"]),
            "telephone1": f"+31 20 555 {rng.randint(1000, 9999)}",
            "emailaddress1": f"purchasing{i}@supplier.example",
            "websiteurl": f"https://supplier{i}.example",
            "description": "Preferred supplier; payment terms 30 days net." if i % 3 == 0 else None,
        }, ref=f"bench/account/{i}"))
    for i in range(n - accounts):
        parent = f"M3-100-SUP{i:07d}"
        records.append(UpsertRecord("contact", {"cssync_sourcekey": f"{parent}-01"}, {
            "firstname": rng.choice(["Anna", "Jörg", "Zoë", "Piotr", "Marie"]),
            "lastname": rng.choice(["de Vries", "Müller", "O'Brien", "Kowalski", "Dubois"]),
            "emailaddress1": f"contact{i}@supplier.example",
            "telephone1": f"+31 20 555 {rng.randint(1000, 9999)}",
            "jobtitle": "Account manager",
        }, ref=f"bench/contact/{i}", parent_key=parent))
    return records


class RemoteSim:
    """The simulator in a child process, so the writer does not share a GIL with its server (Dataverse is remote)."""

    def __init__(self, throttle: int | None) -> None:
        code = "from bench.dataverse_write import serve; serve()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(Path(__file__).resolve().parents[1]))
        self.info = self.call({"throttle": throttle})

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the simulator process exited")
        return json.loads(line)

    def close(self) -> None:
        with contextlib.suppress(OSError, SystemExit):
            self.call({"quit": True})
        self.proc.wait(timeout=30)


def serve() -> None:
    """Child process: run a simulator and answer one JSON command per stdin line."""
    with DataverseSimulator(tenant=TENANT, client_id=CLIENT_ID, client_secret=SECRET) as sim:
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("quit"):
                print(json.dumps({}), flush=True)
                return
            if "throttle" in command:
                if command["throttle"]:
                    sim.throttle(requests_per_s=command["throttle"])
                print(json.dumps({"url": sim.url, "authority": sim.authority, "ca_bundle": sim.ca_bundle}),
                      flush=True)
                continue
            api = sim.requests(r"^/api/data/")
            print(json.dumps({
                "requests": len(api), "ok_requests": sum(1 for r in api if r.status < 400),
                "throttled": sum(1 for r in api if r.status == 429),
                "max_bytes": max(r.request_bytes for r in api),
                "max_ops": max(r.info.get("operations", 0) for r in api),
                "during_retry_after": len(sim.sent_during_retry_after()),
                "t0": api[0].started,  # time.monotonic() is system-wide: comparable with the writer's clock
                "timeline": [[round(r.started - api[0].started, 3), round(r.finished - api[0].started, 3), r.status,
                              r.info.get("retry_after")] for r in api],
                "rows": sum(len(sim.rows(t)) for t in ("account", "contact"))}), flush=True)


def _run(records: list[UpsertRecord], throttle: int | None) -> dict[str, Any]:
    sim = RemoteSim(throttle)
    try:
        config = DataverseConfig.from_section({
            "url": sim.info["url"], "auth": "client_secret", "tenant_id": TENANT, "client_id": CLIENT_ID,
            "client_secret_name": "bench", "authority": sim.info["authority"], "ca_bundle": sim.info["ca_bundle"]},
            "bench")
        writer = DataverseWriter(config, secret=SECRET)
        started = time.perf_counter()
        outcomes = writer.upsert(records)
        wall = time.perf_counter() - started
        figures = sim.call({"stats": True})
    finally:
        sim.close()
    bad = [o for o in outcomes if not o.status.written]
    if bad or figures["rows"] != len(records):
        raise SystemExit(f"bench run lost records: {len(bad)} not written ({bad[:3]}), {figures['rows']} rows")
    return {"wall_s": wall, **figures}


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench dataverse-write", description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--throttle-records", type=int, default=None,
                        help="records for the throttled run (default: --records)")
    parser.add_argument("--timeline", action="store_true", help="print the throttled run's requests (server times)")
    args = parser.parse_args(argv)
    records = make_records(args.records)
    throttle_records = records if args.throttle_records in (None, args.records) else make_records(args.throttle_records)

    # The irreducible payload: every record's UpsertMultiple target, the most compact encoding we send.
    encoded = plan(records, Limits(), Mode.UPSERT_MULTIPLE, Encoder())
    total_bytes = sum(len(op.data) for request in encoded.requests for op in request)
    floor = max(math.ceil(len(records) / defaults.DATAVERSE_MAX_OPERATIONS),
                math.ceil(total_bytes / defaults.DATAVERSE_MAX_REQUEST_BYTES))
    per_table = [sum(1 for r in records if r.table == t) for t in ("account", "contact")]

    fast = _run(records, throttle=None)
    slow = _run(throttle_records, throttle=THROTTLE_PER_S)
    # Every request the data needed (throttled ones do not count: the server refused them unprocessed).
    throttle_floor = slow["ok_requests"] / THROTTLE_PER_S
    if args.timeline:
        for started, finished, status, retry_after in slow["timeline"]:
            print(f"{started:8.3f} {finished:8.3f} {status} {retry_after or ''}")
    print(f"records={len(records)} payload={total_bytes / 1e6:.1f} MB; unthrottled: {fast['requests']} requests "
          f"(max {fast['max_bytes']} B, {fast['max_ops']} ops) in {fast['wall_s']:.2f} s; throttled at "
          f"{THROTTLE_PER_S}/s: {slow['requests']} requests ({slow['throttled']} refused with 429, "
          f"{slow['during_retry_after']} arrived during a Retry-After wait) in {slow['wall_s']:.2f} s")
    return {
        "records": len(records),
        "requests": fast["requests"],
        "floor_requests": floor,
        "ratio_vs_floor": round(fast["requests"] / floor, 3),
        "per_record_requests": len(records),
        "adf_default_requests": sum(math.ceil(n / ADF_WRITE_BATCH_SIZE) for n in per_table),
        "throttled_wall_s": round(slow["wall_s"], 3),
        "throttle_floor_s": round(throttle_floor, 3),
        "ratio_vs_throttle_floor": round(slow["wall_s"] / throttle_floor, 3) if throttle_floor else None,
        "records_per_s": round(len(records) / fast["wall_s"], 1),
    }
