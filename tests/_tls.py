"""Certificates for TLS tests: a self-signed one for 127.0.0.1, made at test time."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a self-signed cert for 127.0.0.1, client context trusting it).

    Made with ``trustme`` when installed, else with the ``openssl`` command; the test is
    skipped when neither is there. A client with the default trust store refuses it.
    """
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    client = ssl.create_default_context()
    try:
        import trustme  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        authority = trustme.CA()
        authority.issue_cert("127.0.0.1").configure_cert(server)
        authority.configure_trust(client)
        return server, client
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs trustme or the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server.load_cert_chain(cert, key)
    client.load_verify_locations(cafile=str(cert))
    return server, client
