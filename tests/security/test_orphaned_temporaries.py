"""Upload temporaries orphaned by a killed process: swept at start with event 20060, and no
obstacle to removing their folder; a temporary still being written is never touched."""

from __future__ import annotations

import ftplib
import os
import time

import pytest

from tests.helpers import wait_for
from tests.security.hardening_site import ALICE_PASSWORD, hardening_appliance

GRACE = 600  # [server] upload_temporary_grace of this site
LONG_AGO = 3 * 3600  # seconds before now: far beyond GRACE


def _temporary(folder, name: str, *, age: float) -> os.PathLike:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".~upload-{name}.part"
    path.write_bytes(b"partial data")
    moment = time.time() - age
    os.utime(path, (moment, moment))
    return path


def test_orphans_are_swept_at_start_and_fresh_temporaries_stay(tmp_path):
    app = hardening_appliance(tmp_path, server_options=f"upload_temporary_grace = {GRACE}")
    home = app.home("alice")
    orphan = _temporary(home / "inbox", "0" * 32, age=LONG_AGO)
    fresh = _temporary(home / "inbox", "1" * 32, age=0)
    reserved_but_not_ours = home / "inbox" / ".~upload-notes.txt"
    reserved_but_not_ours.write_bytes(b"x")
    os.utime(reserved_but_not_ours, (time.time() - LONG_AGO,) * 2)
    with app:
        event = app.wait_event(20060, lambda e: e["data"]["path"] == str(orphan), timeout=60)
        assert event["data"]["bytes"] == len(b"partial data")
        assert not orphan.exists()
        assert fresh.exists()
        assert reserved_but_not_ours.exists()
        assert "Traceback" not in (app.root / "serve.log").read_text()


def test_a_folder_holding_only_orphans_can_be_removed(tmp_path):
    with hardening_appliance(tmp_path, server_options=f"upload_temporary_grace = {GRACE}") as app:
        app.wait_event(20074)
        home = app.home("alice")
        home.mkdir(parents=True, exist_ok=True)
        client = ftplib.FTP()
        client.connect("127.0.0.1", app.port("ftp"), timeout=60)
        client.login("alice", ALICE_PASSWORD)
        client.mkd("crashed")
        client.mkd("uploading")
        orphan = _temporary(home / "crashed", "2" * 32, age=LONG_AGO)
        resume_data = home / "crashed" / (".~partial-" + "4" * 40)
        resume_data.write_bytes(b"kept for a resume")
        os.utime(resume_data, (time.time() - LONG_AGO,) * 2)
        in_progress = _temporary(home / "uploading", "3" * 32, age=0)

        assert client.nlst("crashed") == []
        client.rmd("crashed")
        assert not orphan.exists() and not resume_data.exists()
        assert not (home / "crashed").exists()

        with pytest.raises(ftplib.error_perm) as refused:
            client.rmd("uploading")
        assert "in progress" in str(refused.value)
        assert in_progress.exists()
        client.quit()
        wait_for(lambda: app.events(20057), timeout=60)
