"""`appliance init DIR`: a working demo configuration with every service on unprivileged ports."""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

import jinja2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from appliance.runtime.aaa.passwords import hash_password
from appliance.runtime.events.sinks.sqlite import open_audit_database

DEMO_ACCOUNT = "demo"

# 20000 + the protocol's usual port. No browser refuses any of them (the 10000 + port scheme
# put HTTP on 10080, which Chromium and Firefox block: tests/unit/test_demo_ports.py).
DEMO_PORTS = {"ftp": 20021, "ftps-implicit": 20990, "sftp": 20022, "http": 20080, "https": 20443}
DEMO_PASSIVE_PORT_RANGES = {"ftp": "20100-20199", "ftps-implicit": "20200-20299"}
DEMO_SUMMARY = (
    f"FTP {DEMO_PORTS['ftp']}, implicit FTPS {DEMO_PORTS['ftps-implicit']}, "
    f"SFTP/SCP {DEMO_PORTS['sftp']}, HTTP {DEMO_PORTS['http']}, HTTPS {DEMO_PORTS['https']}"
)

SERVER_INI = jinja2.Template(
    """\
# Demo configuration written by `appliance init`. Every service listens on an
# unprivileged port; the password of the account "{{ account }}" was printed once.

[server]
name = demo
authentications = local-accounts
ssh_server_keys =
    keys/ssh_host_ed25519_key
    keys/ssh_host_rsa_key
tls_private_certificate = keys/tls.pem
data_folder = data

[authentications/local-accounts]
type = application
description = Accounts defined in this file.

[services/ftp]
type = ftp
address = {{ address }}
port = {{ ports["ftp"] }}
passive_port_range = {{ passive["ftp"] }}

[services/ftps-implicit]
type = ftps-implicit
address = {{ address }}
port = {{ ports["ftps-implicit"] }}
passive_port_range = {{ passive["ftps-implicit"] }}
ftps_require_secured_data = yes

[services/sftp]
type = ssh
address = {{ address }}
port = {{ ports["sftp"] }}

[services/http]
type = http
address = {{ address }}
port = {{ ports["http"] }}

[services/https]
type = https
address = {{ address }}
port = {{ ports["https"] }}

[groups/users]
description = Everyone: a private home folder under files/.
home_folder_path = files/${USER}
permissions = allow-full-control

[accounts/{{ account }}]
groups = users
password = {{ password_hash }}

[event-handlers/audit]
type = sqlite
description = The audit trail, queried by `appliance events`.
path = data/audit.db

[event-handlers/log]
type = text-log
path = logs/events.log
target = !20058
"""
)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    if os.name == "posix":
        path.chmod(0o600)


def write_ssh_host_keys(folder: Path) -> list[Path]:
    keys = {
        "ssh_host_ed25519_key": ed25519.Ed25519PrivateKey.generate(),
        "ssh_host_rsa_key": rsa.generate_private_key(public_exponent=65537, key_size=3072),
    }
    paths = []
    for name, key in keys.items():
        path = folder / name
        _write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ),
        )
        (folder / f"{name}.pub").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            )
        )
        paths.append(path)
    return paths


def self_signed_pem(common_name: str = "localhost", days: int = 365) -> bytes:
    """A P-256 key and a self-signed certificate for localhost and loopback, in one PEM."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(common_name),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + certificate.public_bytes(serialization.Encoding.PEM)


def init_demo(folder: Path, *, address: str = "127.0.0.1") -> str:
    """Create the demo configuration in `folder` (which must not exist); returns the password."""
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} already exists; refusing to overwrite it")
    keys = folder / "keys"
    for sub in (keys, folder / "data", folder / "logs", folder / "files" / DEMO_ACCOUNT):
        sub.mkdir(parents=True)
    write_ssh_host_keys(keys)
    _write_private(keys / "tls.pem", self_signed_pem())
    password = secrets.token_urlsafe(12)
    (folder / "server.ini").write_text(
        SERVER_INI.render(
            account=DEMO_ACCOUNT,
            password_hash=hash_password(password),
            address=address,
            ports=DEMO_PORTS,
            passive=DEMO_PASSIVE_PORT_RANGES,
        ),
        encoding="utf-8",
    )
    open_audit_database(folder / "data" / "audit.db").close()
    return password
