"""Application accounts through the AAA core: hashes, groups, home folders, events, chains."""

from __future__ import annotations

import dataclasses

import pytest

from appliance.runtime.aaa.passwords import hash_password, hash_password_scrypt
from tests.aaa_support import login, make_aaa

ARGON = hash_password("correct horse")
SCRYPT = hash_password_scrypt("battery staple", n=2**14)

CONFIG = f"""
[server]
authentications = local

[authentications/local]
type = application

[services/sftp]
type = ftp
address = 127.0.0.1
port = 10022

[groups/users]
home_folder_path = files/${{USER}}
permissions = allow-list, allow-read
    /Inbox/*, allow-write

[groups/auditors]
permissions = allow-list, deny-write

[accounts/ann]
groups = users
password = {ARGON}

[accounts/bob]
groups = users, auditors
password = {SCRYPT}
home_folder_path = /nonexistent-placeholder
permissions = allow-full-control
amend_write_name = uuid-prefix

[accounts/carol]
groups = users
password = {ARGON}
enabled = no

[accounts/dave]
password = {ARGON}
"""


@pytest.fixture
def aaa(tmp_path):
    text = CONFIG.replace("/nonexistent-placeholder", str(tmp_path / "bob-home"))
    return make_aaa(tmp_path, text)


def test_argon2id_account_logs_in_with_group_home_created(aaa, tmp_path):
    core, bus = aaa
    result = core.authenticate(login("ann", "correct horse"))
    assert result.accepted, result.reason
    account = result.account
    assert account.name == "ann" and account.method == "local"
    assert account.home_folder == (tmp_path / "files" / "ann").resolve()
    assert account.home_folder.is_dir()
    assert account.groups == ("users",)
    assert account.permissions.allows("write", "/Inbox/x")
    assert not account.permissions.allows("write", "/x")
    event = bus.last(20137)
    assert event.account == "ann" and event.data["method"] == "local"
    assert event.data["permissions"]["home_folder"] == ["list", "read"]
    assert event.peer == "127.0.0.1:40000"


def test_scrypt_account_with_own_home_permissions_and_uuid_prefix(aaa, tmp_path):
    core, _ = aaa
    result = core.authenticate(login("bob", "battery staple"))
    assert result.accepted, result.reason
    assert result.account.home_folder == (tmp_path / "bob-home").resolve()
    assert result.account.amend_write_name == "uuid-prefix"
    assert result.account.permissions.allows("write", "/anything")


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("ann", "Tr0ub4dor&3", "wrong password"),
        ("ann", "", "wrong password"),
        ("ann", None, "wrong password"),
        ("carol", "correct horse", "disabled"),
        ("nobody", "correct horse", "no authentication method accepted"),
        ("dave", "correct horse", "no home folder"),
        ("ann\x00", "correct horse", "not acceptable"),
    ],
)
def test_refusals_say_why_without_the_password(aaa, username, password, reason):
    core, bus = aaa
    result = core.authenticate(login(username, password))
    assert not result.accepted and result.account is None
    assert reason in result.reason
    event = bus.last(20021)
    assert reason in event.data["reason"]
    if password:
        assert password not in event.to_json()


def test_a_reload_applies_to_the_next_login(aaa, tmp_path):
    core, _ = aaa
    assert core.authenticate(login("ann", "correct horse")).accepted
    from tests.aaa_support import write_config

    text = CONFIG.replace("[accounts/ann]\n", "[accounts/ann]\nenabled = no\n")
    text = text.replace("/nonexistent-placeholder", str(tmp_path / "bob-home"))
    core.context.config = write_config(tmp_path / "new", text)
    assert not core.authenticate(login("ann", "correct horse")).accepted


def test_service_chain_overrides_server_chain(tmp_path):
    core, _ = make_aaa(
        tmp_path,
        f"""
        [server]
        authentications = local

        [authentications/local]
        type = application

        [authentications/off]
        type = application
        enabled = no

        [services/ftp]
        type = ftp
        address = 127.0.0.1
        port = 10021
        authentications = off

        [accounts/ann]
        password = {ARGON}
        home_folder_path = h
        """,
    )
    assert core.authenticate(login("ann", "correct horse", service="other")).accepted
    result = core.authenticate(login("ann", "correct horse", protocol="ftp", service="ftp"))
    assert not result.accepted
    assert core.authenticate(login("ann", "correct horse", service="ftp"), chain=["local"]).accepted


def test_logout_event(aaa):
    core, bus = aaa
    credentials = login("ann", "correct horse")
    result = core.authenticate(credentials)
    core.logout(result.account, credentials, 1.23456)
    event = bus.last(20027)
    assert event.account == "ann" and event.data["duration"] == 1.235


# -- timing: every failed password login costs one hash check, a success only its method's --


def _checks_spent(action) -> int:
    from appliance.runtime.aaa.passwords import checks_in_this_thread

    before = checks_in_this_thread()
    action()
    return checks_in_this_thread() - before


def test_unknown_name_costs_the_same_one_check_as_a_wrong_password(aaa):
    core, _ = aaa
    assert _checks_spent(lambda: core.authenticate(login("nobody", "guess"))) == 1
    assert _checks_spent(lambda: core.authenticate(login("ann", "wrong"))) == 1
    assert _checks_spent(lambda: core.authenticate(login("ann", "correct horse"))) == 1


def test_a_later_method_accepting_pays_no_dummy_check_a_later_refusal_does(aaa, monkeypatch):
    """`local, directory`: a directory account's login does not pay for a dummy hash in the
    local method (an LDAP login flood is not slowed to argon2id's pace), but the directory's
    quick refusal of a wrong password still costs one check, like a local refusal."""
    from appliance.runtime.aaa import core as core_module
    from appliance.runtime.aaa.decision import AccountSpec, Decision

    class Directory:
        def authenticate(self, credentials):
            if credentials.password == "directory secret":
                return Decision.accept(
                    AccountSpec(name=credentials.username, groups=("users",)), "bound"
                )
            return Decision.reject("invalid credentials")

    real_build = core_module.build_method

    def build(section, config):
        return Directory() if section.id == "directory" else real_build(section, config)

    monkeypatch.setattr(core_module, "build_method", build)
    core, _ = aaa
    local = core.config.authentications["local"]
    core.config.authentications["directory"] = dataclasses.replace(local, id="directory")
    chain = ["local", "directory"]
    accepted = []
    assert (
        _checks_spent(
            lambda: accepted.append(core.authenticate(login("erin", "directory secret"), chain))
        )
        == 0
    )
    assert accepted[0].accepted, accepted[0].reason
    assert _checks_spent(lambda: core.authenticate(login("erin", "wrong"), chain)) == 1
