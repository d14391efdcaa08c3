"""HTTP Basic with remembered passwords (`password_cache_seconds`): each request carries the
password, a verified one is accepted from memory, and still a new password in server.ini, a
ban, or a disabled account take effect on the very next request."""

from __future__ import annotations

import shutil
import subprocess
from textwrap import dedent

import pytest

from tests.http_support import base_url, http_appliance
from tests.integration.test_http_curl import curl

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

# Remembered for an hour: within the test, every refusal below happens while the old
# password is certainly still remembered.
OPTIONS = "password_cache_seconds = 3600\nban_failures = 3"


def _reload(app, count: int) -> None:
    app.write_config()
    app.reload()
    app.wait_event(20080, lambda e: len(app.events(20080)) >= count)


def test_new_password_applies_at_once_though_the_old_one_was_remembered(tmp_path):
    with http_appliance(tmp_path, server_options=OPTIONS) as app:
        files = base_url(app) + "/api/files/"
        for _ in range(3):
            assert curl("-u", "alice:alice-pw", files)[0] == 200
        assert curl("-u", "alice:wrong-pw", files)[0] == 401  # never from memory

        app.accounts["alice"] = "alice-new-pw"
        _reload(app, 1)
        assert curl("-u", "alice:alice-pw", files)[0] == 401
        assert curl("-u", "alice:alice-new-pw", files)[0] == 200


def test_a_ban_applies_at_once_to_a_remembered_password(tmp_path):
    with http_appliance(tmp_path, server_options=OPTIONS) as app:
        files = base_url(app) + "/api/files/"
        assert curl("-u", "alice:alice-pw", files)[0] == 200
        for _ in range(3):
            assert curl("-u", "alice:wrong-pw", files)[0] == 401
        app.wait_event(20024)  # the address is banned
        # A banned address is turned away when it connects: curl gets no answer at all.
        refused = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30",
             "-u", "alice:alice-pw", files],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert refused.stdout in ("000", "403"), refused
        app.wait_event(20023)  # the banned address was refused


def test_a_disabled_account_is_refused_at_once(tmp_path):
    with http_appliance(tmp_path, server_options=OPTIONS) as app:
        files = base_url(app) + "/api/files/"
        assert curl("-u", "bob:bob-pw", files)[0] == 200
        app.extra = dedent(app.extra).replace("[accounts/bob]\n", "[accounts/bob]\nenabled = no\n")
        _reload(app, 1)
        assert curl("-u", "bob:bob-pw", files)[0] == 401
