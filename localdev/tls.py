"""A throw-away certificate authority for the loopback simulators (trustme), so clients keep HTTPS only."""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
import threading
from pathlib import Path

import trustme

_lock = threading.Lock()
_ca: trustme.CA | None = None
_ca_path: Path | None = None


def _ensure_ca() -> trustme.CA:
    global _ca, _ca_path
    with _lock:
        if _ca is None:
            _ca = trustme.CA()
            fd, name = tempfile.mkstemp(prefix="cloudsuite-sync-ca-", suffix=".pem")
            os.close(fd)
            _ca.cert_pem.write_to_path(name)
            _ca_path = Path(name)
            atexit.register(_ca_path.unlink, missing_ok=True)
        return _ca


def ca_bundle_path() -> str:
    """Path of a PEM file with the process-wide test CA (pass as ``verify=`` / REQUESTS_CA_BUNDLE)."""
    _ensure_ca()
    assert _ca_path is not None
    return str(_ca_path)


def server_context(*hostnames: str) -> ssl.SSLContext:
    """A server-side TLS context with a leaf certificate for the loopback names (plus any given)."""
    ca = _ensure_ca()
    names = ("127.0.0.1", "localhost", "::1", *hostnames)
    cert = ca.issue_cert(*names)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def export_ca(path: str | os.PathLike[str]) -> str:
    """Write the CA certificate to ``path`` (for processes started later) and return it."""
    ca = _ensure_ca()
    ca.cert_pem.write_to_path(str(path))
    return str(path)
