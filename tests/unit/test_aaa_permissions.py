"""Table-driven tests of the permission engine: globs, regexes, negation, precedence, ${USER}."""

from __future__ import annotations

import pytest

from appliance.runtime.aaa.permission_rules import OPERATIONS, PermissionSyntaxError
from appliance.runtime.aaa.permissions import Permissions

READ_ONLY = ["allow-list, allow-read"]
INBOX = ["allow-list, allow-read", "/Inbox/*, allow-write, allow-create-folder"]
NO_EXE = ["allow-full-control", "m/\\.exe$/, deny-write, deny-read"]
NOT_CSV = ["allow-full-control", "!*.csv, deny-write"]
DENY_WINS = ["allow-list", "/Inbox/*, allow-write", "*.tmp, deny-write"]
PER_USER = ["allow-list", "/users/${USER}/*, allow-full-control"]
UP_ALLOWED = ["deny-write", "/up/*, allow-write"]
UP_DENIED = ["allow-list", "/up/*, deny-write"]
RO = ["allow-write", "/ro/*, deny-write", "/ro/*, allow-write"]
PER_USER_REGEX = ["allow-list", "m/^/users/${USER}/[^/]+$/, allow-read"]

# (account lines, {group: lines}, user, operation, path, allowed)
CASES = [
    # deny by default
    (None, {}, "ann", "read", "/a.txt", False),
    (None, {}, "ann", "list", "/", False),
    ([], {"g": []}, "ann", "write", "/a.txt", False),
    (["allow-list"], {}, "ann", "read", "/a.txt", False),
    (["allow-list"], {}, "ann", "list", "/", True),
    # global tokens
    (READ_ONLY, {}, "ann", "read", "/x/y.bin", True),
    (READ_ONLY, {}, "ann", "write", "/x/y.bin", False),
    (READ_ONLY, {}, "ann", "delete-file", "/x", False),
    (["allow-full-control"], {}, "ann", "set-attributes", "/x", True),
    (["allow-full-control"], {}, "ann", "delete-folder", "/x", True),
    (["allow-full-control", "/keep/*, deny-delete-file"], {}, "ann", "delete-file", "/k", True),
    (["allow-full-control, deny-rename"], {}, "ann", "rename", "/a", False),
    (["allow-full-control, deny-rename"], {}, "ann", "write", "/a", True),
    (["deny-full-control, allow-read"], {}, "ann", "read", "/a", False),
    # globs: case-insensitive, * crosses folders, anchoring
    (INBOX, {}, "ann", "write", "/Inbox/a.csv", True),
    (INBOX, {}, "ann", "write", "/INBOX/A.CSV", True),
    (INBOX, {}, "ann", "write", "/inbox/sub/deep.csv", True),
    (INBOX, {}, "ann", "write", "/Inbox", False),
    (INBOX, {}, "ann", "write", "/Outbox/a.csv", False),
    (INBOX, {}, "ann", "write", "/Inboxes/a.csv", False),
    (INBOX, {}, "ann", "create-folder", "/Inbox/new", True),
    (INBOX, {}, "ann", "read", "/Inbox/a.csv", True),
    (["allow-list", "Inbox/*, allow-write"], {}, "ann", "write", "/Inbox/a", True),
    (["allow-list", "Inbox/*, allow-write"], {}, "ann", "write", "/x/Inbox/a", False),
    (["allow-list", "*.csv, allow-read"], {}, "ann", "read", "/deep/er/r.CSV", True),
    (["allow-list", "*.csv, allow-read"], {}, "ann", "read", "/r.csv.exe", False),
    (["allow-list", "/data/?.txt, allow-read"], {}, "ann", "read", "/data/a.txt", True),
    (["allow-list", "/data/?.txt, allow-read"], {}, "ann", "read", "/data/ab.txt", False),
    (["allow-list", "/data/[ab].txt, allow-read"], {}, "ann", "read", "/data/b.txt", True),
    (["allow-list", "/data/[ab].txt, allow-read"], {}, "ann", "read", "/data/c.txt", False),
    (["allow-list", "/data/[ab].txt, allow-read"], {}, "ann", "read", "/data/B.TXT", True),
    (["allow-list", "/a,b/*, allow-read"], {}, "ann", "read", "/a,b/c", True),
    # regular expressions
    (NO_EXE, {}, "ann", "write", "/tools/setup.exe", False),
    (NO_EXE, {}, "ann", "write", "/tools/SETUP.EXE", False),
    (NO_EXE, {}, "ann", "read", "/setup.exe", False),
    (NO_EXE, {}, "ann", "write", "/setup.exe.txt", True),
    (NO_EXE, {}, "ann", "delete-file", "/setup.exe", True),
    (["allow-list", "m/^/in/\\d+\\.dat$/, allow-write"], {}, "ann", "write", "/in/42.dat", True),
    (["allow-list", "m/^/in/\\d+\\.dat$/, allow-write"], {}, "ann", "write", "/in/x42.dat", False),
    (["allow-list", "m/secret/, deny-list"], {}, "ann", "list", "/a/Secret/b", False),
    (["allow-list", "m/secret/, deny-list"], {}, "ann", "list", "/a/public/b", True),
    # negation
    (NOT_CSV, {}, "ann", "write", "/a.csv", True),
    (NOT_CSV, {}, "ann", "write", "/a.txt", False),
    (NOT_CSV, {}, "ann", "write", "/dir/A.CSV", True),
    (NOT_CSV, {}, "ann", "read", "/a.txt", True),
    (["allow-list", "!m/\\.pdf$/, allow-read"], {}, "ann", "read", "/a.txt", True),
    (["allow-list", "!m/\\.pdf$/, allow-read"], {}, "ann", "read", "/a.pdf", False),
    # deny wins over allow at the same level; rules before the global line
    (DENY_WINS, {}, "ann", "write", "/Inbox/a.csv", True),
    (DENY_WINS, {}, "ann", "write", "/Inbox/a.tmp", False),
    (DENY_WINS, {}, "ann", "write", "/a.tmp", False),
    (["allow-read, deny-read"], {}, "ann", "read", "/a", False),
    (["deny-write", "/Inbox/*, allow-write"], {}, "ann", "write", "/Inbox/a", True),
    (["deny-write", "/Inbox/*, allow-write"], {}, "ann", "write", "/a", False),
    (RO, {}, "ann", "write", "/ro/a", False),
    # groups give defaults; accounts override them
    (None, {"users": READ_ONLY}, "ann", "read", "/a", True),
    (None, {"users": READ_ONLY}, "ann", "write", "/a", False),
    (["allow-write"], {"users": READ_ONLY}, "ann", "write", "/a", True),
    (["allow-write"], {"users": READ_ONLY}, "ann", "read", "/a", True),
    (["deny-read"], {"users": READ_ONLY}, "ann", "read", "/a", False),
    (["allow-list"], {"users": UP_ALLOWED}, "ann", "write", "/up/a", True),
    (UP_DENIED, {"users": ["allow-write"]}, "ann", "write", "/up/a", False),
    (UP_DENIED, {"users": ["allow-write"]}, "ann", "write", "/a", True),
    (None, {"a": ["allow-write"], "b": ["deny-write"]}, "ann", "write", "/a", False),
    (None, {"a": ["allow-write"], "b": ["allow-read"]}, "ann", "write", "/a", True),
    (None, {"a": ["allow-write"], "b": ["allow-read"]}, "ann", "read", "/a", True),
    (["allow-read"], {"a": ["allow-write"], "b": ["deny-write"]}, "ann", "write", "/a", False),
    (["allow-write"], {"a": ["allow-write"], "b": ["deny-write"]}, "ann", "write", "/a", True),
    # ${USER}
    (PER_USER, {}, "ann", "write", "/users/ann/a", True),
    (PER_USER, {}, "ann", "write", "/users/bob/a", False),
    (PER_USER, {}, "ANN", "write", "/users/ann/a", True),
    (PER_USER, {}, "a*", "write", "/users/a*/x", True),
    (PER_USER, {}, "a*", "write", "/users/abc/x", False),
    (PER_USER, {}, "a?", "write", "/users/ab/x", False),
    (PER_USER, {}, "[ab]", "write", "/users/a/x", False),
    (PER_USER, {}, "[ab]", "write", "/users/[ab]/x", True),
    (PER_USER_REGEX, {}, "ann", "read", "/users/ann/r.txt", True),
    (PER_USER_REGEX, {}, "ann", "read", "/users/ann/sub/r.txt", False),
    (PER_USER_REGEX, {}, "a.n", "read", "/users/axn/r.txt", False),
    (PER_USER_REGEX, {}, "a.n", "read", "/users/a.n/r.txt", True),
    (None, {"users": PER_USER}, "bob", "delete-file", "/users/bob/f", True),
    (None, {"users": PER_USER}, "bob", "delete-file", "/users/ann/f", False),
]


@pytest.mark.parametrize(("account", "groups", "user", "operation", "path", "allowed"), CASES)
def test_permission_table(account, groups, user, operation, path, allowed):
    permissions = Permissions(user, account, groups)
    assert permissions.allows(operation, path) is allowed


def test_table_is_large_enough():
    assert len(CASES) >= 60


def test_every_operation_is_known_and_full_control_covers_all():
    permissions = Permissions("ann", ["allow-full-control"])
    assert all(permissions.allows(op, "/x") for op in OPERATIONS)
    with pytest.raises(ValueError, match="unknown operation"):
        permissions.allows("execute", "/x")


def test_effective_lists_layers_in_order():
    permissions = Permissions("ann", ["allow-list", "/in/*, allow-write"], {"users": READ_ONLY})
    effective = permissions.effective()
    assert [layer["source"] for layer in effective["layers"]] == ["account", "groups/users"]
    assert effective["layers"][0]["rules"] == [{"match": "/in/*", "permissions": ["allow-write"]}]
    assert effective["home_folder"] == ["list", "read"]


def test_bad_regex_is_a_syntax_error():
    with pytest.raises(PermissionSyntaxError, match="does not compile"):
        Permissions("ann", ["allow-list", "m/[/, allow-read"])
