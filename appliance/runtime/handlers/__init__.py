"""Event handlers that act on files: dispatcher, signature check, external command, quarantine.

They run off the services' hot path, on a worker pool fed by the event bus, and only ever
see complete files: they are triggered by 20050 (upload completed, emitted after the atomic
rename) or by the success event (50001) of the handler declared in their `after` option.
"""
