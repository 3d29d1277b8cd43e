#!/usr/bin/env python3
"""Throwaway PKI for the mTLS bootstrap, made with the `openssl` CLI into a directory.

A CA, a server certificate for the egress listener (IP 127.0.0.1), and client
certificates whose URI SAN is a SPIFFE id. Short-lived (1 day), EC P-256, created
fresh at test time: no key material is ever committed.

    python envoy/certs.py DIR support=spiffe://cluster.local/ns/support/sa/helpdesk ...
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

OPENSSL_TIMEOUT_S = 30


@dataclass
class KeyPair:
    cert: Path
    key: Path


@dataclass
class Pki:
    ca: KeyPair
    server: KeyPair
    clients: dict[str, KeyPair] = field(default_factory=dict)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)


def _new_key_and_csr(directory: Path, name: str, subject: str) -> tuple[Path, Path]:
    key, csr = directory / f"{name}.key", directory / f"{name}.csr"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", subject, cwd=directory)
    return key, csr


def make_ca(directory: Path, name: str = "ca", common_name: str = "wa-egress-guard test CA") -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={common_name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    return KeyPair(cert, key)


def issue(ca: KeyPair, directory: Path, name: str, *, san: str, client: bool, serial: int) -> KeyPair:
    key, csr = _new_key_and_csr(directory, name, f"/CN={name}")
    ext = directory / f"{name}.ext"
    usage = "clientAuth" if client else "serverAuth"
    ext.write_text(
        f"basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\nsubjectAltName={san}\n",
        encoding="utf-8",
    )
    cert = directory / f"{name}.pem"
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
             "-set_serial", str(serial), "-days", "1", "-sha256", "-extfile", str(ext), "-out", str(cert),
             cwd=directory)
    return KeyPair(cert, key)


def make_pki(directory: Path, clients: dict[str, str]) -> Pki:
    """`clients` maps a file name to the SPIFFE id put in that client's URI SAN."""
    ca = make_ca(directory)
    server = issue(ca, directory, "server", san="IP:127.0.0.1,DNS:egress.local", client=False, serial=1)
    pki = Pki(ca, server)
    for serial, (name, spiffe_id) in enumerate(sorted(clients.items()), start=100):
        pki.clients[name] = issue(ca, directory, name, san=f"URI:{spiffe_id}", client=True, serial=serial)
    return pki


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    clients = dict(arg.split("=", 1) for arg in argv[1:])
    pki = make_pki(Path(argv[0]), clients)
    print(f"CA {pki.ca.cert}\nserver {pki.server.cert}")
    for name, pair in pki.clients.items():
        print(f"client {name} {pair.cert}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
