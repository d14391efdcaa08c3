"""A corpus of broken configurations: each gives one precise FILE:SECTION:OPTION line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from appliance.config import load_config, validate_path
from appliance.runtime.aaa.passwords import hash_password_scrypt

HASH = hash_password_scrypt("secret", n=2**10)

VALID = f"""\
[server]
authentications = local
ssh_server_keys = keys/ssh_host_ed25519_key, keys/ssh_host_rsa_key
tls_private_certificate = keys/tls.pem

[authentications/local]
type = application

[services/sftp]
type = ssh
port = 10022

[services/ftp]
type = ftp
address = 127.0.0.1
port = 10021
passive_port_range = 10100-10199

[services/https]
type = https
port = 10443

[groups/users]
home_folder_path = files/${{USER}}
permissions = allow-list, allow-read
    /Inbox/*, allow-write
    m/\\.exe$/, deny-write

[accounts/alice]
groups = users
password = {HASH}

[resources/relay]
type = smtp
address = 127.0.0.1
port = 8025

[event-handlers/audit]
type = sqlite
path = data/audit.db
target = 20050, !20058

[event-handlers/mail]
type = email
resource = relay
email_from = appliance@example.test
email_to = ops@example.test
"""


def test_valid_config_loads(config_dir):
    config = load_config(config_dir(VALID))
    assert config.services["ftp"]["passive_port_range"] == "10100-10199"
    assert config.services["sftp"]["sftp"] is True
    assert config.event_handlers["audit"]["target"] == ["20050", "!20058"]
    assert config.groups["users"]["permissions"][1] == "/Inbox/*, allow-write"


# (name, text to replace, replacement, section, option, words the message must contain)
CORPUS = [
    ("misspelled server section", "[server]\n", "[serverx]\n", "serverx", "-", "unknown section"),
    ("unknown family", "[groups/users]", "[grups/users]", "grups/users", "-", "unknown section"),
    ("invalid id", "[groups/users]", "[groups/us ers]", "groups/us ers", "-", "invalid id"),
    (
        "unknown option",
        "port = 10022",
        "port = 10022\nprot = 1",
        "services/sftp",
        "prot",
        "unknown option",
    ),
    ("wrong type", "port = 10022", "port = twenty", "services/sftp", "port", "whole number"),
    ("port out of range", "port = 10022", "port = 70000", "services/sftp", "port", "at most"),
    ("unknown service type", "type = ssh", "type = telnet", "services/sftp", "type", "telnet"),
    ("missing required port", "port = 10443\n", "\n", "services/https", "port", "missing required"),
    (
        "duplicate port",
        "port = 10443",
        "port = 10022",
        "services/https",
        "port",
        "already used by [services/sftp]",
    ),
    (
        "passive range overlaps a listener",
        "passive_port_range = 10100-10199",
        "passive_port_range = 10020-10030",
        "services/ftp",
        "passive_port_range",
        "already used",
    ),
    (
        "bad passive range",
        "passive_port_range = 10100-10199",
        "passive_port_range = 10199-10100",
        "services/ftp",
        "passive_port_range",
        "first <= last",
    ),
    (
        "dangling group reference",
        "groups = users",
        "groups = admins",
        "accounts/alice",
        "groups",
        "[groups/admins], which does not exist",
    ),
    (
        "dangling authentication",
        "authentications = local",
        "authentications = ldap",
        "server",
        "authentications",
        "[authentications/ldap]",
    ),
    (
        "dangling resource",
        "resource = relay",
        "resource = smarthost",
        "event-handlers/mail",
        "resource",
        "does not exist",
    ),
    (
        "missing key file",
        "keys/ssh_host_rsa_key",
        "keys/missing_key",
        "server",
        "ssh_server_keys",
        "does not exist",
    ),
    (
        "missing certificate",
        "tls_private_certificate = keys/tls.pem",
        "tls_private_certificate = keys/none.pem",
        "server",
        "tls_private_certificate",
        "does not exist",
    ),
    (
        "bad regex",
        "m/\\.exe$/, deny-write",
        "m/(unclosed/, deny-write",
        "groups/users",
        "permissions",
        "does not compile",
    ),
    (
        "unknown permission",
        "allow-list, allow-read",
        "allow-list, allow-reed",
        "groups/users",
        "permissions",
        "unknown permission",
    ),
    (
        "unknown event id",
        "target = 20050, !20058",
        "target = 20050, !99999",
        "event-handlers/audit",
        "target",
        "99999 is not in the catalogue",
    ),
    (
        "plaintext password",
        f"password = {HASH}",
        "password = hunter2",
        "accounts/alice",
        "password",
        "never a plaintext",
    ),
    (
        "bad boolean",
        "port = 10022",
        "port = 10022\nsftp = maybe",
        "services/sftp",
        "sftp",
        "yes or no",
    ),
    (
        "bad address",
        "address = 127.0.0.1",
        "address = 127.0.0.300",
        "services/ftp",
        "address",
        "IPv4 or IPv6",
    ),
    (
        "bad email",
        "email_to = ops@example.test",
        "email_to = ops",
        "event-handlers/mail",
        "email_to",
        "matching",
    ),
    (
        "duplicate option",
        "port = 10443",
        "port = 10443\nport = 10444",
        "services/https",
        "port",
        "option set twice",
    ),
    (
        "duplicate section in a file",
        "[accounts/alice]",
        "[accounts/bob]\n[accounts/alice]\n[accounts/bob]",
        "accounts/bob",
        "-",
        "defined twice",
    ),
    (
        "tls service without certificate",
        "tls_private_certificate = keys/tls.pem\n",
        "",
        "services/https",
        "tls_private_certificate",
        "needs TLS",
    ),
    (
        "ssh service without host keys",
        "ssh_server_keys = keys/ssh_host_ed25519_key, keys/ssh_host_rsa_key\n",
        "",
        "services/sftp",
        "ssh_server_keys",
        "needs host keys",
    ),
    (
        "certificate is not a PEM",
        "tls_private_certificate = keys/tls.pem",
        "tls_private_certificate = keys/ssh_host_ed25519_key.pub",
        "server",
        "tls_private_certificate",
        "no unencrypted PEM private key",
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "section", "option", "words"), CORPUS, ids=[case[0] for case in CORPUS]
)
def test_broken_config_gives_one_precise_line(config_dir, name, old, new, section, option, words):
    assert old in VALID, f"corpus case {name!r} does not apply to the valid config"
    folder = config_dir(VALID.replace(old, new, 1))
    problems = validate_path(folder)
    lines = [str(problem) for problem in problems]
    assert len(problems) == 1, lines
    problem = problems[0]
    assert problem.file.endswith("server.ini")
    assert (problem.section, problem.option) == (section, option), lines
    assert words in problem.message, lines


def test_fragment_defining_a_section_again_is_an_error(config_dir):
    folder = config_dir(
        VALID,
        fragments={
            "10-ldap.ini": "[authentications/extra]\ntype = application\n",
            "20-dup.ini": "[groups/users]\nhome_folder_path = elsewhere\n",
        },
    )
    problems = validate_path(folder)
    assert [str(p).split(":", 1)[1] for p in problems] == [
        f"groups/users:-: section already defined in {folder / 'server.ini'}; "
        "each section may be defined once"
    ]
    assert problems[0].file.endswith("20-dup.ini")


def test_fragments_merge_in_name_order(config_dir):
    folder = config_dir(
        VALID,
        fragments={
            "20-b.ini": "[groups/b]\nhome_folder_path = b\n",
            "10-a.ini": "[groups/a]\nhome_folder_path = a\n",
        },
    )
    config = load_config(folder)
    assert list(config.groups) == ["users", "a", "b"]
    assert config.groups["a"].source.name == "10-a.ini"


def test_cli_validate_exit_codes_and_no_traceback(config_dir):
    folder = config_dir(VALID.replace("port = 10022", "port = 0x"))
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "validate", str(folder)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stdout.strip().endswith(
        "server.ini:services/sftp:port: expected a whole number, got '0x'"
    )
    assert "Traceback" not in run.stdout + run.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "appliance", "validate", str(config_dir(VALID))],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout


def test_validate_missing_file_is_a_clear_error(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "validate", str(tmp_path / "nowhere.ini")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "nowhere.ini:-:-: file not found" in run.stdout
    assert "Traceback" not in run.stderr
