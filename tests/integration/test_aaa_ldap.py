"""LDAP authentication against a real slapd: bind, search-then-bind, groups, TLS, failover."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.aaa_support import login, make_aaa
from tests.lab_pki import CA
from tests.lab_slapd import BASE_ENTRIES, PEOPLE, ROOT_DN, SUFFIX, Slapd, available, free_port

pytestmark = pytest.mark.skipif(not available(), reason="slapd and ldap-utils are not installed")

GROUPS = f"ou=groups,{SUFFIX}"


def entries(homes: Path) -> str:
    return (
        BASE_ENTRIES
        + f"""
dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice
sn: Liddell
uidNumber: 1001
gidNumber: 1001
homeDirectory: {homes}/alice-from-ldap
userPassword: alice-secret
businessCategory: cn=auditors,{GROUPS}

dn: uid=bob,{PEOPLE}
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
userPassword: bob-secret

dn: cn=admins,{GROUPS}
objectClass: groupOfNames
cn: admins
member: uid=alice,{PEOPLE}

dn: cn=appliance,{SUFFIX}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: appliance
userPassword: service-secret
"""
    )


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slapd")
    server = Slapd(folder, CA())
    server.start()
    try:
        server.add(entries(folder / "homes"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never answers (a hung LDAP server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    listener.close()


def config_text(slapd: Slapd, tmp_path: Path, *, other_ca: Path, hung_port: int = 0) -> str:
    (tmp_path / "service.pw").write_text("service-secret\n")
    closed = free_port()
    template = f"uid=${{USER}},{PEOPLE}"
    search = f"""search_base = {PEOPLE}
service_bind_dn = cn=appliance,{SUFFIX}
service_password_file = service.pw
group_search_base = {GROUPS}
group_search_filter = (&(objectClass=groupOfNames)(member=${{DN}}))"""
    mapping = f"""group_mapping =
    cn=auditors,{GROUPS}, auditors
    admins, admins"""
    return f"""
[server]
authentications = bind

[authentications/bind]
type = ldap
url = {slapd.url}
bind_dn_template = {template}
group_attribute = businessCategory
{mapping}
default_group = ldap-users
home_folder_attribute = homeDirectory
home_folder_path = ldap-homes/${{USER}}

[authentications/search-starttls]
type = ldap
url = {slapd.url}
start_tls = yes
ca_certificate = {slapd.ca_file}
{search}
{mapping}
default_group = ldap-users

[authentications/ldaps]
type = ldap
url = {slapd.ldaps_url}
ca_certificate = {slapd.ca_file}
bind_dn_template = {template}
default_group = ldap-users

[authentications/ldaps-wrong-ca]
type = ldap
url = {slapd.ldaps_url}
ca_certificate = {other_ca}
bind_dn_template = {template}
default_group = ldap-users

[authentications/starttls-wrong-ca]
type = ldap
url = {slapd.url}
start_tls = yes
ca_certificate = {other_ca}
bind_dn_template = {template}
default_group = ldap-users

[authentications/ldaps-no-validation]
type = ldap
url = {slapd.ldaps_url}
ca_certificate = {other_ca}
validate_certificate = no
bind_dn_template = {template}
default_group = ldap-users

[authentications/failover]
type = ldap
url = ldap://127.0.0.1:{closed}, ldap://127.0.0.1:{hung_port or closed}, {slapd.url}
timeout = 1
bind_dn_template = {template}
default_group = ldap-users

[authentications/all-down]
type = ldap
url = ldap://127.0.0.1:{closed}
timeout = 1
bind_dn_template = {template}

[groups/ldap-users]
home_folder_path = ldap-homes/${{USER}}
permissions = allow-list

[groups/auditors]
home_folder_path = audit/${{USER}}
permissions = allow-list, allow-read

[groups/admins]
home_folder_path = admin/${{USER}}
permissions = allow-full-control
"""


@pytest.fixture
def aaa(slapd, tmp_path, silent_port):
    other = tmp_path / "other-ca.crt"
    other.write_bytes(CA("Some Other CA").pem)
    return make_aaa(tmp_path, config_text(slapd, tmp_path, other_ca=other, hung_port=silent_port))


def test_bind_with_dn_template_maps_attribute_groups_and_home(aaa, slapd):
    core, bus = aaa
    result = core.authenticate(login("alice", "alice-secret"))
    assert result.accepted, result.reason
    account = result.account
    assert account.method == "bind"
    assert account.groups == ("auditors",)
    assert account.home_folder == (slapd.folder / "homes" / "alice-from-ldap").resolve()
    assert account.home_folder.is_dir()
    assert account.permissions.allows("read", "/x") and not account.permissions.allows(
        "write", "/x"
    )
    assert bus.last(20137).data["groups"] == ["auditors"]


def test_bind_default_group_and_template_home(aaa, tmp_path):
    core, _ = aaa
    result = core.authenticate(login("bob", "bob-secret"))
    assert result.accepted, result.reason
    assert result.account.groups == ("ldap-users",)
    assert result.account.home_folder == (tmp_path / "ldap-homes" / "bob").resolve()


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-secret"), ("alice", ""), ("nobody", "x"), ("*", "alice-secret")],
)
def test_bind_refusals(aaa, username, password):
    core, bus = aaa
    result = core.authenticate(login(username, password))
    assert not result.accepted
    assert result.method == "bind"
    assert bus.last(20021).data["method"] == "bind"


def test_search_then_bind_over_starttls_with_group_search(aaa):
    core, _ = aaa
    result = core.authenticate(login("alice", "alice-secret"), chain=["search-starttls"])
    assert result.accepted, result.reason
    assert result.account.groups == ("admins",)
    assert result.account.permissions.allows("delete-file", "/x")


@pytest.mark.parametrize(
    "username", ["nobody", "*", "alice)(uid=*", "al*", "alice\\2a", "alice\x00"]
)
def test_search_then_bind_unknown_or_injected_names_pass(aaa, username):
    core, _ = aaa
    result = core.authenticate(login(username, "alice-secret"), chain=["search-starttls"])
    assert not result.accepted


def test_search_then_bind_wrong_password_rejects(aaa):
    core, _ = aaa
    result = core.authenticate(login("bob", "nope"), chain=["search-starttls"])
    assert not result.accepted and result.method == "search-starttls"
    assert "refused the password" in result.reason


def test_ldaps_with_configured_ca(aaa):
    core, _ = aaa
    assert core.authenticate(login("bob", "bob-secret"), chain=["ldaps"]).accepted


@pytest.mark.parametrize("method", ["ldaps-wrong-ca", "starttls-wrong-ca"])
def test_a_certificate_from_another_ca_is_refused(aaa, method):
    core, bus = aaa
    result = core.authenticate(login("bob", "bob-secret"), chain=[method])
    assert not result.accepted
    error = bus.last(20022).data
    assert error["method"] == method
    assert "CERTIFICATE_VERIFY_FAILED" in error["error"]


def test_validation_can_be_switched_off(aaa):
    core, _ = aaa
    assert core.authenticate(login("bob", "bob-secret"), chain=["ldaps-no-validation"]).accepted


def test_failover_skips_a_refused_and_a_hung_server(aaa):
    core, bus = aaa
    result = core.authenticate(login("bob", "bob-secret"), chain=["failover"])
    assert result.accepted, result.reason
    assert 20022 not in bus.ids()


def test_every_server_down_is_a_method_error(aaa):
    core, bus = aaa
    result = core.authenticate(login("bob", "bob-secret"), chain=["all-down"])
    assert not result.accepted
    assert "no LDAP server answered" in bus.last(20022).data["error"]


def test_root_dn_is_not_special(aaa):
    core, _ = aaa
    assert not core.authenticate(login(ROOT_DN, "adminpw")).accepted
