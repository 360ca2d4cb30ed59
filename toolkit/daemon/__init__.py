"""`emoedge daemon`: the long-lived device service.

One concern per module: `config` (TOML, validated up front), `eventlog`
(SQLite, durable), `events` (frame results -> changes and minute aggregates),
`state` (what the service knows, shared with readers), `http` (what the API
serves: bodies, access, the request budget), `web` (that API on FastAPI and
uvicorn, with its limits and guards), `limits` (the server's fixed limits),
`http_process` (that server in a child process at lower priority, fed the state
and events), `metrics` (Prometheus text), `mqtt` (publisher), `redact`
(credentials out of what is shown and logged), `systemd` (unit file and
sd_notify), `service` (the loop that ties them together).

Nothing here imports TensorFlow or a converter: a device installs only its
runtime, plus the `daemon` extra (paho-mqtt, FastAPI, uvicorn).
"""
