"""FTPS with TLS client certificates ([server] tls_certificate_authority), real clients.

A certificate the CA signed and an account names (fingerprint or subject) logs that account
in, whatever password the client sends; a certificate that maps to no account, or to
another one, leaves the password to decide; a certificate from another CA ends the TLS
handshake.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import shutil
import ssl
import subprocess

import pytest

from tests.ftp_helpers import PASSWORD, ImplicitFTP_TLS
from tests.lab_pki import CA
from tests.running import RunningAppliance

SERVICES = """
[services/ftps-implicit]
type = ftps-implicit
address = 127.0.0.1
port = {port}
passive_port_range = 62150-62169
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = CA()
    (folder / "ca.pem").write_bytes(ca.pem)
    issued = {
        "carol": ca.issue("carol", server=False),
        "stranger": ca.issue("stranger", server=False),
        "outsider": CA().issue("carol", server=False),  # same name, another CA
    }
    files = {name: cert.write(folder, name) for name, cert in issued.items()}
    return folder, issued, files


@pytest.fixture(scope="module")
def app(tmp_path_factory, pki):
    folder, issued, _ = pki
    root = tmp_path_factory.mktemp("ftps-certs")
    fingerprint = hashlib.sha256(issued["carol"].der).digest().hex(":")
    carol = f"[accounts/carol]\ngroups = users\ntls_certificate_fingerprints = {fingerprint}\n"
    with RunningAppliance(
        root,
        SERVICES,
        accounts={"bob": PASSWORD},
        extra=carol,
        server_options=f"tls_certificate_authority = {folder / 'ca.pem'}",
    ) as running:
        yield running


def client_context(files, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's server certificate
    certificate, key = files[name]
    context.load_cert_chain(certificate, key)
    return context


def ftps_login(app, context, user: str, password: str) -> ImplicitFTP_TLS:
    client = ImplicitFTP_TLS(context=context)
    client.connect("127.0.0.1", app.port("ftps-implicit"), timeout=20)
    client.login(user, password, secure=False)  # implicit: already TLS
    client.prot_p()
    return client


def test_certificate_logs_its_account_in(app, pki):
    _, _, files = pki
    with ftps_login(app, client_context(files, "carol"), "carol", "not-a-password") as client:
        client.storbinary("STOR by-certificate.txt", io.BytesIO(b"cert\n"))
    assert (app.home("carol") / "by-certificate.txt").read_bytes() == b"cert\n"
    event = app.wait_event(20137, lambda e: e["account"] == "carol")
    assert event["data"]["credential"] == "certificate"


def test_certificate_of_no_account_leaves_the_password_to_decide(app, pki):
    _, _, files = pki
    with ftps_login(app, client_context(files, "stranger"), "bob", PASSWORD) as client:
        assert client.pwd() == "/"
    with ftps_login(app, client_context(files, "carol"), "bob", PASSWORD) as client:
        assert client.pwd() == "/"
    with pytest.raises(ftplib.error_perm) as refused:
        ftps_login(app, client_context(files, "stranger"), "bob", "wrong")
    assert str(refused.value).startswith("530")


def test_certificate_from_another_ca_is_refused_at_the_handshake(app, pki):
    """The TLS layer keeps OpenSSL's verdict: a certificate the CA did not sign ends the
    handshake with an alert (event 10037); it never reaches the AAA chain."""
    _, _, files = pki
    handshakes_refused = len(app.events(10037))
    logins = len(app.events(20137))
    with pytest.raises(ssl.SSLError):
        ftps_login(app, client_context(files, "outsider"), "carol", "not-a-password")
    app.wait_event(10037, lambda e: len(app.events(10037)) > handshakes_refused)
    assert len(app.events(20137)) == logins


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_with_a_client_certificate(app, pki):
    _, _, files = pki
    (app.home("carol")).mkdir(parents=True, exist_ok=True)
    (app.home("carol") / "for-curl.txt").write_text("fetched with a client certificate\n")
    certificate, key = files["carol"]
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--insecure", "--cert", str(certificate),
         "--key", str(key), "--user", "carol:any",
         f"ftps://127.0.0.1:{app.port('ftps-implicit')}/for-curl.txt"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fetched with a client certificate\n"
