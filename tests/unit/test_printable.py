"""The one escaping rule for human-readable sinks."""

from __future__ import annotations

from appliance.runtime.events.event import make_event
from appliance.runtime.events.printable import printable
from appliance.runtime.events.sinks.syslog import format_rfc5424
from appliance.runtime.events.sinks.textlog import format_line


def test_controls_become_escapes_and_other_text_stays():
    escaped = "a\\x1bb\\x07\\x00\\x7f\\x9b\\x0d\\x0a\\u2028"
    assert printable("a\x1bb\x07\x00\x7f\x9b\r\n\u2028") == escaped
    assert printable("ｄｅｍｏ/é/日本") == "ｄｅｍｏ/é/日本"


def test_syslog_and_text_log_lines_carry_no_control_character():
    event = make_event(
        20021,
        "services/web",
        peer="127.0.0.1:1",
        account="x\x1by",
        username="x\x1by",
        method="-",
        protocol="http",
        credential="password",
        reason="r",
    )
    line = format_line(event)
    assert "\x1b" not in line and "x\\x1by" in line
    record = format_rfc5424(event, facility=16, app_name="appliance", hostname="h", procid=1)
    assert b"\x1b" not in record and b"x\\x1by" in record
    assert event.data["username"] == "x\x1by"
