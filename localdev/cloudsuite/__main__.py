"""Run the CloudSuite simulator standalone until Ctrl-C / SIGTERM.

    python -m localdev.cloudsuite --product m3 --records 10000 --port 0 --ionapi-out acme.ionapi --ca-out ca.pem

Prints the gateway URL (the .ionapi ``iu``) and writes a matching .ionapi file and the CA certificate.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from localdev.cloudsuite.settings import PRODUCTS
from localdev.cloudsuite.simulator import CloudSuiteSimulator
from localdev.tls import export_ca


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev.cloudsuite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--product", action="append", choices=PRODUCTS,
                        help="API suite to enable (repeatable; default: all four)")
    parser.add_argument("--records", type=int, default=1000, help="suppliers and customers each (default 1000)")
    parser.add_argument("--suppliers", type=int, help="override --records for suppliers")
    parser.add_argument("--customers", type=int, help="override --records for customers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tenant", default="ACME_TST")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--grant", choices=("password", "client_credentials"), default="password",
                        help="which kind of .ionapi file to write")
    parser.add_argument("--ionapi-out", help="write the .ionapi file here")
    parser.add_argument("--ca-out", help="write the CA certificate (PEM) here")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=JSON",
                        help="any Settings field, e.g. --setting m3_lmts_inclusive=true --setting rate_limit_per_s=5")
    parser.add_argument("--no-warm", action="store_true", help="build the data on first request, not at start")
    return parser.parse_args(argv)


def _settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            out[name] = raw
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    sim = CloudSuiteSimulator(suppliers=args.suppliers if args.suppliers is not None else args.records,
                              customers=args.customers if args.customers is not None else args.records,
                              seed=args.seed, tenant=args.tenant, products=tuple(args.product or PRODUCTS),
                              port=args.port, **_settings(args.setting))
    if not args.no_warm:
        sim.warm()
    sim.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.ionapi_out:
        sim.write_ionapi(args.ionapi_out, grant=args.grant)
    ca = export_ca(args.ca_out) if args.ca_out else sim.ca_bundle
    print(sim.url, flush=True)
    print(json.dumps({"url": sim.url, "api_base": sim.api_base, "ca_bundle": ca, "ionapi": args.ionapi_out,
                      "products": sorted(sim.products)}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
