"""Event handlers on real uploads through the virtual filesystem, in-process.

Uploads go through the real AAA and VirtualFS, whose 20050 events drive the handlers on
their worker pool. The same handlers over SFTP and FTPS are tested in test_handlers_e2e.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from appliance.config import load_config, validate_path
from appliance.runtime.aaa.core import AAA
from appliance.runtime.aaa.identity import Credentials
from appliance.runtime.aaa.passwords import hash_password_scrypt
from appliance.runtime.context import RuntimeContext
from appliance.runtime.events.bus import EventBus
from appliance.runtime.events.setup import build_sinks
from appliance.runtime.fs.vfs import VirtualFS
from appliance.runtime.handlers.engine import HandlerEngine
from tests.helpers import audit_events, wait_for

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

SCANNER = f"""#!{sys.executable}
import sys
data = open(sys.argv[-1], "rb").read()
if b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data:
    print("FOUND: EICAR test signature")
    sys.exit(1)
print("clean")
"""


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("signer") / "signer.pub.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, path


def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(
        data,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


class Appliance:
    """The runtime's shared core, without sockets: config, bus, AAA, handlers."""

    def __init__(self, root: Path, handlers: str) -> None:
        self.root = root
        (root / "scanner.py").write_text(SCANNER)
        (root / "scanner.py").chmod(0o755)
        (root / "server.ini").write_text(
            textwrap.dedent(f"""\
            [server]
            authentications = local

            [authentications/local]
            type = application

            [groups/partners]
            home_folder_path = files/${{USER}}
            permissions = allow-full-control

            [accounts/acme]
            groups = partners
            password = {hash_password_scrypt("pw", n=2**10)}

            [event-handlers/audit]
            type = sqlite
            path = data/audit.db
            """)
            + textwrap.dedent(handlers)
        )
        assert validate_path(root) == []
        config = load_config(root)
        self.bus = EventBus(build_sinks(config))
        self.context = RuntimeContext(config=config, bus=self.bus)
        self.context.aaa = AAA(self.context)
        self.engine = HandlerEngine(self.bus)
        self.engine.configure(config)
        result = self.context.aaa.authenticate(
            Credentials("acme", "sftp", "sftp", "192.0.2.1", 2222, password="pw")
        )
        assert result.accepted, result.reason
        self.fs = VirtualFS(
            result.account,
            self.bus,
            protocol="sftp",
            peer="192.0.2.1:2222",
            component="services/sftp",
        )
        self.home = result.account.home_folder

    def upload(self, path: str, data: bytes) -> None:
        parent = path.rsplit("/", 1)[0]
        if parent and not (self.home / parent.lstrip("/")).exists():
            self.fs.mkdir(parent)
        handle = self.fs.open_write(path)
        handle.write(data)
        handle.commit()

    def events(self, *ids: int) -> list[dict]:
        return audit_events(self.root / "data" / "audit.db", *ids)

    def close(self) -> None:
        self.engine.close()
        self.bus.close()


@pytest.fixture
def appliance(tmp_path: Path):
    made: list[Appliance] = []

    def make(handlers: str) -> Appliance:
        made.append(Appliance(tmp_path, handlers))
        return made[-1]

    yield make
    for app in made:
        app.close()


def test_regex_rule_dispatches_inbox_to_outbox_with_groups_and_fields(appliance, tmp_path):
    outbox = tmp_path / "outbox"
    app = appliance(f"""
        [event-handlers/dispatch]
        type = file-dispatcher
        dispatch_rules =
            ignore, /Inbox/*.tmp
            move, m/^/Inbox/(\\w+)-(\\d+)\\.csv$/, {outbox}/{{1}}/{{account.name}}
            copy, /Inbox/*.txt, {outbox}/copies, {outbox}/copies2
        """)
    app.upload("/Inbox/orders-42.csv", b"a,b\n1,2\n")
    app.upload("/Inbox/note.txt", b"hello")
    app.upload("/Inbox/skip.tmp", b"x")
    target = outbox / "orders" / "acme" / "orders-42.csv"
    wait_for(target.exists)
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert not (app.home / "Inbox" / "orders-42.csv").exists()
    wait_for(lambda: (outbox / "copies2" / "note.txt").exists())
    assert (outbox / "copies" / "note.txt").read_bytes() == b"hello"
    assert (app.home / "Inbox" / "note.txt").exists()  # copy leaves the source
    done = wait_for(lambda: len(app.events(50001)) >= 3 and app.events(50001))
    results = {e["data"]["path"]: e["data"]["result"] for e in done}
    assert results["/Inbox/skip.tmp"].startswith("ignored")
    assert (app.home / "Inbox" / "skip.tmp").exists()
    assert not list(outbox.rglob("*.part")), "no temporary file may stay behind"


def test_unwritable_destination_retries_then_reports_and_keeps_the_file(appliance, tmp_path):
    if os.geteuid() == 0:
        blocked = tmp_path / "blocked"
        blocked.write_text("a file where a folder should be")  # root ignores modes
        destination = blocked / "sub"
    else:
        destination = tmp_path / "readonly"
        destination.mkdir()
        destination.chmod(stat.S_IRUSR | stat.S_IXUSR)
    app = appliance(f"""
        [event-handlers/dispatch]
        type = file-dispatcher
        retry_count = 2
        retry_wait = 0
        dispatch_rules = move, /Inbox/*, {destination}
        """)
    app.upload("/Inbox/report.csv", b"important")
    failure = wait_for(lambda: app.events(50002))[0]
    assert failure["data"]["handler"] == "dispatch"
    assert "after 2 retries" in failure["data"]["error"]
    retries = wait_for(
        lambda: len(app.events(50004)) >= 2 and app.events(50004)
    )  # queued, not durable
    assert [e["data"]["tries_left"] for e in retries] == [2, 1]
    assert (app.home / "Inbox" / "report.csv").read_bytes() == b"important"


def test_signature_chain_then_antivirus_then_dispatch(appliance, tmp_path, signer):
    key, public = signer
    outbox, quarantine = tmp_path / "outbox", tmp_path / "quarantine"
    app = appliance(f"""
        [event-handlers/signature]
        type = signature-check
        signer_certificate = {public}
        quarantine_folder = {quarantine}
        grace_period = 30

        [event-handlers/antivirus]
        type = external-command
        after = signature
        command = scanner.py
        quarantine_folder = {quarantine}
        timeout = 30

        [event-handlers/dispatch]
        type = file-dispatcher
        after = antivirus
        dispatch_rules = move, /Inbox/*, {outbox}
        """)
    good = b"payload that is signed"
    app.upload("/Inbox/good.bin.sig", sign(key, good))  # the signature may come first
    app.upload("/Inbox/good.bin", good)
    app.upload("/Inbox/forged.bin", b"tampered")
    app.upload("/Inbox/forged.bin.sig", sign(key, b"original"))
    app.upload("/Inbox/eicar.com", EICAR)
    app.upload("/Inbox/eicar.com.sig", sign(key, EICAR))

    wait_for(lambda: (outbox / "good.bin").exists() and (outbox / "good.bin.sig").exists())
    assert (outbox / "good.bin").read_bytes() == good
    quarantined = wait_for(lambda: len(app.events(50003)) >= 3 and app.events(50003))
    reasons = {e["data"]["path"]: e["data"]["reason"] for e in quarantined}
    assert reasons["/Inbox/forged.bin"] == "invalid signature"
    assert reasons["/Inbox/eicar.com"].startswith(f"{tmp_path / 'scanner.py'} exited with status 1")
    assert "FOUND: EICAR" in reasons["/Inbox/eicar.com"]
    assert not (outbox / "eicar.com").exists() and not (outbox / "forged.bin").exists()
    records = {
        json.loads(p.read_text())["original_path"]: json.loads(p.read_text())
        for p in quarantine.glob("*.reason.json")
    }
    assert records["/Inbox/eicar.com"]["exit_status"] == 1
    assert records["/Inbox/forged.bin"]["account"] == "acme"
    assert not any(p.name.endswith("eicar.com") for p in (app.home / "Inbox").iterdir())


def test_missing_signature_is_quarantined_after_the_grace_period(appliance, tmp_path, signer):
    _, public = signer
    quarantine = tmp_path / "quarantine"
    app = appliance(f"""
        [event-handlers/signature]
        type = signature-check
        signer_certificate = {public}
        quarantine_folder = {quarantine}
        grace_period = 1
        """)
    app.upload("/Inbox/lonely.bin", b"no signature follows")
    event = wait_for(lambda: app.events(50003))[0]
    assert event["data"]["reason"] == "signature missing after 1 s"
    assert not (app.home / "Inbox" / "lonely.bin").exists()
    assert len(list(quarantine.glob("*-lonely.bin"))) == 1


@pytest.mark.parametrize(
    ("handlers", "option", "words"),
    [
        (
            "[event-handlers/d]\ntype = file-dispatcher\ndispatch_rules = shove, *, /tmp/x\n",
            "dispatch_rules",
            "unknown action 'shove'",
        ),
        (
            "[event-handlers/d]\ntype = file-dispatcher\ndispatch_rules = move, *\n",
            "dispatch_rules",
            "needs a destination",
        ),
        (
            "[event-handlers/d]\ntype = file-dispatcher\ndispatch_rules = move, *, /x/{bogus}\n",
            "dispatch_rules",
            "unknown placeholder {bogus}",
        ),
        (
            "[event-handlers/d]\ntype = file-dispatcher\nafter = e\ndispatch_rules = delete, *\n\n"
            "[event-handlers/e]\ntype = file-dispatcher\nafter = d\ndispatch_rules = delete, *\n",
            "after",
            "loops back",
        ),
        (
            "[event-handlers/v]\ntype = external-command\ncommand = scanner.py\n"
            "quarantine_folder = files/q\n",
            "quarantine_folder",
            "inside the home folders",
        ),
    ],
)
def test_handler_configuration_errors(tmp_path: Path, handlers, option, words):
    (tmp_path / "scanner.py").write_text("#")
    (tmp_path / "server.ini").write_text(
        "[server]\n\n[groups/g]\nhome_folder_path = files/${USER}\n\n" + handlers
    )
    problems = validate_path(tmp_path)
    assert problems, "the configuration must be refused"
    assert all(p.option == option and words in p.message for p in problems), problems
