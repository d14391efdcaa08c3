"""The event catalogue: unique ids, SFTPPlus ids where documented, docs/events.md up to date."""

from __future__ import annotations

from appliance.runtime.events.catalogue import BY_ID, CATALOGUE, catalogue_markdown, event_type
from appliance.runtime.events.event import make_event
from tests.conftest import REPO


def test_ids_and_names_are_unique():
    assert len({e.id for e in CATALOGUE}) == len(CATALOGUE)
    assert len({e.name for e in CATALOGUE}) == len(CATALOGUE)


def test_sftpplus_ids_keep_their_meaning():
    assert BY_ID[10033].name == "ftp-connection-opened"
    assert BY_ID[20076].name == "service-started"
    assert BY_ID[40007].name == "http-file-access-started"
    assert BY_ID[20137].name == "authentication-succeeded"
    assert BY_ID[20021].name == "authentication-failed"


def test_message_renders_from_data_and_tolerates_missing_fields():
    event = make_event(20076, "services/sftp", service="sftp", type="ssh", address="::", port=22)
    assert event.message == "Service sftp (ssh) started on :::22."
    partial = make_event(20076, "services/sftp", service="sftp")
    assert partial.message.startswith("Service sftp ({type}) started")


def test_every_template_names_only_declared_fields():
    import string

    common = {"account", "peer", "component"}
    for event in CATALOGUE:
        names = {field for _, field, _, _ in string.Formatter().parse(event.template) if field}
        assert names <= set(event.fields) | common, (event.id, names - set(event.fields))


def test_unknown_id_is_a_clear_key_error():
    try:
        event_type(12345)
    except KeyError as error:
        assert "12345 is not in the catalogue" in str(error)
    else:
        raise AssertionError("expected a KeyError")


def test_docs_events_md_is_generated_from_the_catalogue():
    on_disk = (REPO / "docs" / "events.md").read_text()
    assert on_disk == catalogue_markdown(), (
        "docs/events.md is stale: run `make docs` (appliance events --catalogue-markdown)"
    )
