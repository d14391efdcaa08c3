"""Event handlers: file dispatcher, uuid prefix, signature check, external command, quarantine."""
