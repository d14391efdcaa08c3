"""testssl against FTPS implicit, FTPS explicit (STARTTLS ftp) and HTTPS: no HIGH or CRITICAL.

The certificate is issued by a test CA that testssl is told to trust (`--add-ca`) and names
a CRL and an OCSP responder, so the findings are about the server's TLS, not about a lab
certificate being self-signed. Long suite: each scan takes about a minute on two cores.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID

from tests.lab_pki import CA
from tests.security.site import security_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("testssl") is None, reason="apt-get install testssl.sh"),
]
BAD = {"HIGH", "CRITICAL"}


def long_lived_ca() -> CA:
    """The test CA, re-signed to last a year (testssl rates a chain expiring soon as HIGH)."""
    ca = CA()
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(ca.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(ca.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=400))
    )
    for extension in ca.certificate.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    ca.certificate = builder.sign(ca.key, hashes.SHA256())
    return ca


def server_pem(ca: CA) -> bytes:
    """Key and certificate (then the CA) for 127.0.0.1, with CRL and OCSP locations."""
    issued = ca.issue("127.0.0.1")
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(issued.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
    )
    for extension in issued.certificate.extensions:
        certificate = certificate.add_extension(extension.value, extension.critical)
    uri = x509.UniformResourceIdentifier
    certificate = certificate.add_extension(
        x509.CRLDistributionPoints(
            [x509.DistributionPoint([uri("http://127.0.0.1:9/ca.crl")], None, None, None)]
        ),
        False,
    ).add_extension(
        x509.AuthorityInformationAccess(
            [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, uri("http://127.0.0.1:9"))]
        ),
        False,
    )
    signed = certificate.sign(ca.key, hashes.SHA256())
    return issued.key_pem + signed.public_bytes(Encoding.PEM) + ca.pem


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls-audit")
    ca = long_lived_ca()
    (root / "ca.pem").write_bytes(ca.pem)
    extra = root / "server.pem"
    extra.write_bytes(server_pem(ca))
    app = security_site(root, passive=(62520, 62539))
    write_config = app.write_config

    def with_ca_certificate():
        path = write_config()
        (app.root / "keys" / "tls.pem").write_bytes(extra.read_bytes())
        return path

    app.write_config = with_ca_certificate
    with app:
        yield app, root


def findings(report: dict) -> list[str]:
    """Every HIGH or CRITICAL item of every section of testssl's JSON report."""
    items = [item for scan in report.get("scanResult", []) for value in scan.values()
             if isinstance(value, list) for item in value]  # fmt: skip
    return [f"{i['severity']} {i['id']}: {i['finding']}" for i in items if i.get("severity") in BAD]


@pytest.mark.parametrize("service", ["ftps", "ftp", "webs"])
def test_testssl_finds_nothing_high(site, service):
    app, root = site
    report = root / f"testssl-{service}.json"
    starttls = ["--starttls", "ftp"] if service == "ftp" else []
    result = subprocess.run(
        ["testssl", "--quiet", "--color", "0", "--warnings", "off", "--ip", "one",
         "--nodns", "min", "--add-ca", str(root / "ca.pem"), "--jsonfile-pretty", str(report),
         "-p", "-s", "-f", "-S", "-P", "-U", *starttls, f"127.0.0.1:{app.port(service)}"],
        capture_output=True, text=True, timeout=900, cwd=root,
    )  # fmt: skip
    assert report.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    assert findings(json.loads(report.read_text())) == []
