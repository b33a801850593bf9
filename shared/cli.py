"""Operator commands, run with the app's settings in the environment (locally, or in a Cloud Shell / CI job):

    python -m shared.cli provision --connection acme-m3 [--create]   alternate-key columns and keys on account/contact
    python -m shared.cli jobs --connection acme-m3                   the connection's latest jobs
    python -m shared.cli job <job id>                                what a job read, changed, wrote, skipped, failed
    python -m shared.cli record --connection acme-m3 --key 'acme-m3|S|S10001' [--table account]
                                                                     what happened to one record

Output is JSON (``provision`` prints its summary too); the exit code is 1 when the answer is "not ok".
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shared import audit
from shared.config import get_settings
from shared.errors import SyncError


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def _provision(args: argparse.Namespace) -> int:
    from shared.dataverse import DataverseConfig, provision
    from shared.pipeline.runtime import runtime

    rt = runtime(get_settings())
    conn = rt.connection(args.connection)
    config = DataverseConfig.from_section(conn.dataverse, where=f"connection '{conn.name}'")
    secret = rt.secrets.get(config.client_secret_name) if config.client_secret_name else None
    report = provision(config, create=args.create, secret=secret)
    print(report.summary())
    return 0 if report.ok else 1


def _jobs(args: argparse.Namespace) -> int:
    from shared.pipeline.runtime import runtime

    _print(audit.recent_jobs(runtime(get_settings()).audit, args.connection, limit=args.limit))
    return 0


def _job(args: argparse.Namespace) -> int:
    from shared.pipeline.runtime import runtime

    report = audit.job_report(runtime(get_settings()).audit, args.job_id)
    _print(report)
    return 0 if report["run"] else 1


def _record(args: argparse.Namespace) -> int:
    from shared.pipeline.runtime import runtime

    rt = runtime(get_settings())
    history = audit.record_history(rt.audit, rt.state, rt.deadletter, args.connection, args.table, args.key)
    _print(history)
    return 0 if history["batch_id"] or history["deadletter"] else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    prov = sub.add_parser("provision", help="check (or create) the alternate keys the writer upserts by")
    prov.add_argument("--connection", required=True)
    prov.add_argument("--create", action="store_true", help="create missing key columns and keys, wait for Active")
    prov.set_defaults(run=_provision)
    jobs = sub.add_parser("jobs", help="the connection's latest jobs, newest first")
    jobs.add_argument("--connection", required=True)
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(run=_jobs)
    job = sub.add_parser("job", help="counts and status of one job")
    job.add_argument("job_id")
    job.set_defaults(run=_job)
    record = sub.add_parser("record", help="the batch, job, Dataverse answer and dead letter of one record")
    record.add_argument("--connection", required=True)
    record.add_argument("--key", required=True, help="the alternate-key value, e.g. 'acme-m3|S|S10001'")
    record.add_argument("--table", default="account", choices=("account", "contact"))
    record.set_defaults(run=_record)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except SyncError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
