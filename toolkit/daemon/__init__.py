"""`emoedge daemon`: the long-lived device service.

One concern per module: `config` (TOML, validated up front), `eventlog`
(SQLite, durable), `events` (frame results -> changes and minute aggregates),
`state` (what the service knows, shared with readers), `http` (status, SSE,
metrics, preview, the request budget), `http_process` (that server in a child
process at lower priority, fed the state and events), `metrics` (Prometheus
text), `mqtt` (publisher), `systemd` (unit file and sd_notify), `service` (the
loop that ties them together).

Nothing here imports TensorFlow or a converter: a device installs only its
runtime, plus paho-mqtt when it publishes.
"""
