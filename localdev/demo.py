"""`make demo`: the product tour on the built-in simulators, start to finish, in about a minute.

1. start Azurite, the CloudSuite simulator (M3 by default; PRODUCT=csi|ln|fsm) and the Entra ID + Dataverse
   simulator, and run the real functions in the local host;
2. first full sync of a few thousand suppliers and customers;
3. change some records in CloudSuite and poll again: only those are written;
4. break one record (Dataverse rejects its new name): it is dead-lettered with Dataverse's reason while the
   rest lands; fix it and replay it through the HTTP replay function;
5. print a summary and where to look next; stop everything it started.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import requests

from localdev.stack import LocalStack, start_stack
from shared import audit
from shared.config import get_settings
from shared.pipeline.runtime import runtime

NAME_FIELDS = {"m3": ("SUNM", "CUNM"), "csi": ("Name", "Name"), "ln": ("Name", "Name"),
               "fsm": ("VendorName", "CustomerName")}
BROKEN_NAME = "Rejected By A Dataverse Plug-in AS"


def _say(text: str) -> None:
    print(text, flush=True)


def _jobs_since(stack: LocalStack, started_iso: str) -> list[dict[str, Any]]:
    rt = runtime(get_settings())
    jobs = [j for j in audit.recent_jobs(rt.audit, stack.connection, limit=50) if j["started_at"] >= started_iso]
    return [audit.job_report(rt.audit, j["job_id"]) for j in jobs]


def _totals(reports: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("read", "changed", "unchanged", "written", "failed", "invalid", "deferred")
    return {k: sum(int(r.get(k) or 0) for r in reports) for k in keys}


def _step(stack: LocalStack, title: str) -> dict[str, int]:
    started_iso = audit.utc_now().isoformat()
    t0 = time.monotonic()
    stack.sync(timeout_s=600)
    totals = _totals(_jobs_since(stack, started_iso))
    totals["seconds"] = round(time.monotonic() - t0, 1)
    _say(f"  {title}: {totals['read']} records read -> Dataverse rows: {totals['changed']} changed, "
         f"{totals['unchanged']} unchanged (skipped), {totals['written']} written, "
         f"{totals['failed'] + totals['invalid']} failed ({totals['seconds']} s)")
    return totals


def run(product: str, records: int) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("localdev.funchost").setLevel(logging.ERROR)
    t_start = time.monotonic()
    _say(f"cloudsuite-sync demo: {product.upper()} -> Dataverse, {records} suppliers + {records} customers")
    _say("  starting Azurite, the CloudSuite simulator, the Entra ID + Dataverse simulator and the functions host")
    with start_stack(product, suppliers=records, customers=records) as stack:
        host = stack.start_host()
        first = _step(stack, "1. initial sync")
        accounts, contacts = len(stack.dataverse.rows("account")), len(stack.dataverse.rows("contact"))
        _say(f"     Dataverse now holds {accounts} accounts and {contacts} contacts")

        supplier_field, customer_field = NAME_FIELDS[product]
        suppliers = stack.cloudsuite.keys(product, "supplier")
        customers = stack.cloudsuite.keys(product, "customer")
        for i, key in enumerate(suppliers[10:15]):
            stack.cloudsuite.change_record(product, "supplier", key, **{supplier_field: f"Renamed Supplier {i} AS"})
        for i, key in enumerate(customers[20:25]):
            stack.cloudsuite.change_record(product, "customer", key, **{customer_field: f"Renamed Customer {i} Ltd"})
        stack.cloudsuite.advance_clock(60)
        second = _step(stack, "2. 10 records changed in CloudSuite, next poll")

        stack.dataverse.poison("account", "name", BROKEN_NAME)
        stack.cloudsuite.change_record(product, "supplier", suppliers[30], **{supplier_field: BROKEN_NAME})
        stack.cloudsuite.change_record(product, "supplier", suppliers[31], **{supplier_field: "Healthy Neighbour AS"})
        stack.cloudsuite.advance_clock(60)
        third = _step(stack, "3. one record Dataverse rejects + one good change")
        rt = runtime(get_settings())
        dead = [r for r in rt.deadletter.list_entities() if r.get("status") == "dead"]
        for row in dead:
            _say(f"     dead-lettered {row['source_key']}: {row['code']} {row['reason'][:100]}")

        stack.dataverse.clear_poison()
        answer = requests.post(f"{host.http_url}/api/replay", params={"connection": stack.connection},
                               headers={"x-functions-key": host.function_key}, timeout=60).json()
        host.wait_idle(timeout_s=120)
        landed = BROKEN_NAME in {r["name"] for r in stack.dataverse.rows("account")}
        _say(f"  4. fixed on the Dataverse side, POST /api/replay: replayed {answer['replayed']}, "
             f"landed: {'yes' if landed else 'NO'}")

        idle = _step(stack, "5. poll with nothing changed (the overlap window re-reads recent changes)")
        total_s = round(time.monotonic() - t_start, 1)
        _say("")
        _say("summary")
        _say(f"  records read {first['read'] + second['read'] + third['read'] + idle['read']}, rows "
             f"written {first['written'] + second['written'] + third['written'] + answer['replayed']}, "
             f"unchanged {second['unchanged'] + third['unchanged'] + idle['unchanged']}, "
             f"failed {third['failed']}, replayed {answer['replayed']}, total time {total_s} s")
        _say(f"  Dataverse requests: {len(stack.dataverse.requests())}, "
             f"largest request body {stack.dataverse.stats()['max_request_bytes']} bytes")
        _say("where to look next")
        _say("  audit trail: table syncaudit, dead letters: table syncdeadletter (docs/architecture.md);")
        _say("    in a deployment: python -m shared.cli jobs|job|record (README, 'Operating it')")
        _say("  replay: POST /api/replay?connection=...&dry_run=true (docs/operations.md)")
        _say("  in Azure: the Application Insights workbook deployed by infra/ (docs/deploy.md)")
        ok = landed and first["written"] > 0 and idle["written"] == 0 and len(dead) == 1
    _say("stopped everything the demo started")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.demo")
    parser.add_argument("--product", default=os.environ.get("PRODUCT", "m3"), choices=sorted(NAME_FIELDS))
    parser.add_argument("--records", type=int, default=int(os.environ.get("RECORDS", "2000")),
                        help="suppliers and customers each (default 2000)")
    args = parser.parse_args(argv)
    return run(args.product, args.records)


if __name__ == "__main__":
    sys.exit(main())
