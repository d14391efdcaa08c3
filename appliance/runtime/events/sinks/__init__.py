"""Audit sinks: where events are recorded (text log, SQLite, syslog, email, webhook)."""
