"""Start and stop Azurite (pinned in package.json, installed by ``npm ci``) on free loopback ports.

Data lives in memory (Azurite runs in a temp working folder); nothing survives ``stop()``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite"
# Azurite's published development account: a well-known public key, not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_S = 30.0  # a cold node start on a busy 2-core machine takes a few seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Azurite:
    """A running Azurite process with blob, queue and table services."""

    process: subprocess.Popen[bytes]
    blob_port: int
    queue_port: int
    table_port: int
    workdir: str

    @property
    def connection_string(self) -> str:
        base = "http://127.0.0.1"
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={base}:{self.blob_port}/{ACCOUNT};"
                f"QueueEndpoint={base}:{self.queue_port}/{ACCOUNT};"
                f"TableEndpoint={base}:{self.table_port}/{ACCOUNT};")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_azurite() -> Azurite:
    """Start Azurite on three free loopback ports and wait until every service accepts connections."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}: run `make setup` (npm ci)")
    ports = [free_port() for _ in range(3)]
    workdir = tempfile.mkdtemp(prefix="azurite-")
    cmd = [str(AZURITE_BIN), "--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
           "--loose",
           "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]),
           "--queueHost", "127.0.0.1", "--queuePort", str(ports[1]),
           "--tableHost", "127.0.0.1", "--tablePort", str(ports[2])]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=workdir)
    azurite = Azurite(process, *ports, workdir=workdir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not all(_listening(p) for p in ports):
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            azurite.stop()
            raise RuntimeError(f"Azurite exited during start-up (code {process.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            azurite.stop()
            raise RuntimeError(f"Azurite did not listen on {ports} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    return azurite


def main() -> None:
    """`python -m localdev.azurite`: run Azurite in the foreground and print its connection string."""
    azurite = start_azurite()
    print(azurite.connection_string, flush=True)
    try:
        azurite.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
