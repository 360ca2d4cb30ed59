"""MQTT publisher: per-track emotion changes and per-minute aggregates, QoS 1.

paho-mqtt 2.x runs its own network thread (`loop_start`) that connects,
reconnects with backoff (1 s up to 60 s) when the broker goes away, and re-sends
unacknowledged QoS 1 messages after it reconnects. Messages published while
disconnected wait in paho's queue (bounded, so a broker gone for a week cannot
eat the device's memory); the newest are kept by the event log either way.

Topics, under `mqtt.topic_prefix` (default `emoedge/<hostname>`):
  <prefix>/status              retained: {"state": "online"|"offline"|source state}; the
                               broker publishes "offline" itself if the daemon dies (will)
  <prefix>/state               retained: {"faces": N, "dominant": label|"none"} of the latest
                               frame, when it changes, at most once per `STATE_EVERY_S`
  <prefix>/tracks/<track_id>   a track started, changed emotion or ended (full privacy mode only)
  <prefix>/aggregates/minute   counts for one finished minute

Home Assistant (`mqtt.homeassistant = true`): on every connect the publisher
sends retained MQTT-discovery configs, `<discovery_prefix>/sensor/<node>/faces/config`
and `.../emotion/config`, so Home Assistant shows the face count and the
dominant emotion as two sensors of one device without hand configuration. Their
availability is the status topic (whose last will says "offline"); retained, so
a Home Assistant that starts after the daemon still finds them. Both are counts
of the latest frame, so they are sent in aggregates mode too.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import socket
import threading
import time
from typing import Any

from emoedge.daemon.config import MqttConfig
from emoedge.daemon.state import ServiceState
from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

QOS = 1
MAX_QUEUED = 10_000
STATE_EVERY_S = 1.0


def dominant(faces: list[dict[str, Any]]) -> str:
    """The label most faces of a frame show ("none" without faces; ties: the first seen)."""
    counts = collections.Counter(f.get("label") for f in faces if f.get("label") is not None)
    return counts.most_common(1)[0][0] if counts else "none"


class MqttPublisher:
    """Publishes daemon events; never blocks the caller, never raises on a broker fault."""

    def __init__(
        self,
        config: MqttConfig,
        state: ServiceState | None = None,
        *,
        aggregates_only: bool = False,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise UserInputError(
                "MQTT is enabled but paho-mqtt is not installed: pip install 'emoedge[daemon]'"
            ) from exc
        self.config = config
        self.state = state
        self.aggregates_only = aggregates_only
        self.prefix = config.topic_prefix
        self.connected = threading.Event()
        self.acked = 0
        self.published = 0
        self.failed = 0
        client_id = config.client_id or f"emoedge-{socket.gethostname()}-{os.getpid()}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        self.client.max_queued_messages_set(MAX_QUEUED)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        if config.username:
            self.client.username_pw_set(config.username, config.password)
        if config.tls:
            self._set_tls(config)
        self.client.will_set(
            f"{self.prefix}/status", json.dumps({"state": "offline"}), qos=QOS, retain=True
        )
        #: The Home Assistant device id: the topic prefix, in the characters discovery allows.
        self.node = re.sub(r"[^A-Za-z0-9_-]", "_", self.prefix)
        self._stop = threading.Event()
        self._state_thread: threading.Thread | None = None
        self._last_state: dict[str, Any] | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def _set_tls(self, config: MqttConfig) -> None:
        """Verify the broker's certificate and name (paho's default); a client
        certificate when the config gives one."""
        import ssl

        def name(path):
            return str(path) if path is not None else None

        try:
            self.client.tls_set(
                ca_certs=name(config.ca_file),
                certfile=name(config.cert_file),
                keyfile=name(config.key_file),
            )
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise UserInputError(f"mqtt: cannot use the TLS files ({exc})") from exc

    # -- paho callbacks (its network thread) ----------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning(
                "mqtt: broker %s:%d refused the connection (%s)",
                self.config.host,
                self.config.port,
                reason_code,
            )
            return
        log.info("mqtt: connected to %s:%d", self.config.host, self.config.port)
        self.connected.set()
        self._sync_state()
        client.publish(
            f"{self.prefix}/status", json.dumps({"state": "online"}), qos=QOS, retain=True
        )
        if self.config.homeassistant:
            for topic, payload in self.discovery().items():
                client.publish(topic, json.dumps(payload), qos=QOS, retain=True)

    def discovery(self) -> dict[str, dict[str, Any]]:
        """Home Assistant's MQTT-discovery configs: topic -> payload."""
        from emoedge import __version__

        model = self.state.build.model if self.state is not None else ""
        device = {
            "identifiers": [self.node],
            "name": f"emoedge {self.prefix}",
            "manufacturer": "emoedge",
            "model": model or "emoedge daemon",
            "sw_version": __version__,
        }
        common = {
            "state_topic": f"{self.prefix}/state",
            "availability_topic": f"{self.prefix}/status",
            "availability_template": "{{ 'offline' if value_json.state == 'offline' "
            "else 'online' }}",
            "device": device,
        }
        sensors = {
            "faces": {
                "name": "Faces",
                "value_template": "{{ value_json.faces }}",
                "state_class": "measurement",
                "icon": "mdi:face-recognition",
            },
            "emotion": {
                "name": "Dominant emotion",
                "value_template": "{{ value_json.dominant }}",
                "icon": "mdi:emoticon-outline",
            },
        }
        base = self.config.discovery_prefix
        return {
            f"{base}/sensor/{self.node}/{key}/config": {
                **sensor,
                "unique_id": f"{self.node}_{key}",
                "object_id": f"{self.node}_{key}",
                **common,
            }
            for key, sensor in sensors.items()
        }

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning(
                "mqtt: disconnected from %s:%d (%s); reconnecting",
                self.config.host,
                self.config.port,
                reason_code,
            )
        self.connected.clear()
        self._sync_state()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acked += 1

    def _sync_state(self) -> None:
        if self.state is not None:
            self.state.mqtt_connected = self.connected.is_set()
            self.state.mqtt_published = self.published
            self.state.mqtt_failed = self.failed

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> MqttPublisher:
        """Connect in the background; a broker that is down now is retried, not an error."""
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        if self.state is not None:
            self._stop.clear()
            self._state_thread = threading.Thread(
                target=self._publish_state, name="emoedge-mqtt-state", daemon=True
            )
            self._state_thread.start()
        return self

    def _publish_state(self) -> None:
        """The latest frame's face count and dominant emotion, when they change."""
        while not self._stop.wait(STATE_EVERY_S):
            faces = (self.state.latest_result() or {}).get("faces") or []
            value = {"faces": len(faces), "dominant": dominant(faces)}
            if value != self._last_state and self.connected.is_set():
                self._last_state = value
                self._publish(f"{self.prefix}/state", value, retain=True)

    def stop(self, timeout: float = 2.0) -> None:
        """Say offline, give in-flight QoS 1 messages up to `timeout` to be acked, disconnect."""
        self._stop.set()
        if self._state_thread is not None:
            self._state_thread.join(1.0)
        try:
            if self.connected.is_set():
                info = self.client.publish(
                    f"{self.prefix}/status", json.dumps({"state": "offline"}), qos=QOS, retain=True
                )
                deadline = time.monotonic() + timeout
                # One connection delivers in order: once "offline" is acked, so is what came before.
                while time.monotonic() < deadline and not info.is_published():
                    time.sleep(0.02)
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    # -- publishing -----------------------------------------------------------------
    def _publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> None:
        info = self.client.publish(
            topic, json.dumps(payload, separators=(",", ":")), qos=QOS, retain=retain
        )
        if info.rc == 0:  # MQTT_ERR_SUCCESS (queued while disconnected counts too)
            self.published += 1
        else:
            self.failed += 1
            log.debug("mqtt: publish to %s not queued (rc=%s)", topic, info.rc)
        self._sync_state()

    def track_event(self, event: dict[str, Any]) -> None:
        if self.aggregates_only:
            return  # per-person tracks never leave the device in aggregates mode
        self._publish(f"{self.prefix}/tracks/{event['track_id']}", event)

    def minute(self, aggregate: dict[str, Any]) -> None:
        self._publish(f"{self.prefix}/aggregates/minute", {"type": "minute", **aggregate})

    def source_state(self, state: str, error: str | None = None) -> None:
        self._publish(f"{self.prefix}/status", {"state": state, "error": error}, retain=True)
