"""Test certificates made with the openssl CLI: a CA, and leaf certificates it signs.

The cryptography package is not among our dependencies; the openssl binary is on every machine
that runs the suite (tests skip with a reason where it is not).
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def openssl_skip_reason() -> str | None:
    return None if shutil.which("openssl") else "the openssl command is not installed"


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(folder: Path, name: str = "perf-test-ca") -> Pair:
    folder.mkdir(parents=True, exist_ok=True)
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(pair.key), "-out", str(pair.cert), "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pair


def make_leaf(ca: Pair, folder: Path, name: str, dns: tuple[str, ...] = ("localhost",),
              ips: tuple[str, ...] = ("127.0.0.1",)) -> Pair:
    """A certificate for `name` (its SANs: dns and ips), usable by a server and as a client cert."""
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    csr = folder / f"{name}.csr"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(pair.key),
             "-out", str(csr), "-subj", f"/CN={name}")
    extensions = folder / f"{name}.ext"
    sans = ",".join([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips])
    extensions.write_text(f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n"
                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
             "-out", str(pair.cert), "-days", "2", "-extfile", str(extensions))
    return pair
