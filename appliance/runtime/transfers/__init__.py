"""Client transfers: the appliance pushes files to partners' servers and pulls from them.

One concern per module: settings (typed [transfers/<id>] and [locations/<id>]), locations
(local folders, SFTP servers), queue (the durable SQLite record of every file), delivery
(one file, exactly once), runner (one transfer's scans and workers), engine (the thread and
loop they run on inside the runtime), schedule (windows, backoff), host_keys (pinning).
"""
