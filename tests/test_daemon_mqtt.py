"""The MQTT publisher against a real Mosquitto broker, including a broker restart."""

from __future__ import annotations

import json
import time

import pytest
from daemon_support import Broker, Subscriber, make_tls_files

from emoedge.daemon.config import ConfigError, MqttConfig, parse_config
from emoedge.daemon.mqtt import MqttPublisher
from emoedge.daemon.state import ServiceState


@pytest.fixture()
def broker(tmp_path):
    broker = Broker(tmp_path).start()
    yield broker
    broker.stop()


def _wait(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_publishes_tracks_aggregates_and_status(broker):
    sub = Subscriber(broker.port, "site/cam/#")
    state = ServiceState()
    pub = MqttPublisher(
        MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, topic_prefix="site/cam"), state
    ).start()
    try:
        assert _wait(pub.connected.is_set), "publisher did not connect"
        assert state.mqtt_connected
        pub.track_event({"type": "track", "kind": "start", "track_id": 3, "label": "happiness"})
        pub.minute({"minute": 60, "frames": 10, "faces": 4, "tracks": 1, "counts": {"neutral": 4}})
        got = sub.wait_for(lambda m: m[0] == "site/cam/tracks/3")
        assert got and json.loads(got[0][1])["label"] == "happiness"
        got = sub.wait_for(lambda m: m[0] == "site/cam/aggregates/minute")
        assert got and json.loads(got[0][1])["counts"] == {"neutral": 4}
        assert sub.wait_for(lambda m: m[0] == "site/cam/status" and b"online" in m[1])
        assert _wait(lambda: pub.acked >= 3)  # QoS 1: the broker acknowledged them
    finally:
        pub.stop()
    assert sub.wait_for(lambda m: m[0] == "site/cam/status" and b"offline" in m[1])
    sub.close()


def test_aggregates_only_sends_no_tracks(broker):
    sub = Subscriber(broker.port, "p/#")
    pub = MqttPublisher(
        MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, topic_prefix="p"),
        aggregates_only=True,
    ).start()
    try:
        assert _wait(pub.connected.is_set)
        pub.track_event({"type": "track", "kind": "start", "track_id": 1, "label": "anger"})
        pub.minute({"minute": 0, "frames": 1, "faces": 1, "tracks": 1, "counts": {"anger": 1}})
        assert sub.wait_for(lambda m: m[0] == "p/aggregates/minute")
        assert not [m for m in sub.messages if "/tracks/" in m[0]]
    finally:
        pub.stop()
        sub.close()


def test_reconnects_on_its_own_and_delivers_what_was_queued(tmp_path):
    broker = Broker(tmp_path).start()
    pub = MqttPublisher(
        MqttConfig(enabled=True, host="127.0.0.1", port=broker.port, topic_prefix="r")
    ).start()
    try:
        assert _wait(pub.connected.is_set)
        broker.stop()
        assert _wait(lambda: not pub.connected.is_set())
        pub.track_event({"type": "track", "kind": "change", "track_id": 5, "label": "surprise"})
        broker.start()  # same port
        sub = Subscriber(broker.port, "r/#")
        assert _wait(pub.connected.is_set, timeout=20), "publisher did not reconnect"
        # Queued while the broker was down, delivered after the reconnect.
        assert sub.wait_for(lambda m: m[0] == "r/tracks/5", timeout=10)
        sub.close()
    finally:
        pub.stop()
        broker.stop()


def _mqtt_config(tmp_path, port: int, password_file: str) -> MqttConfig:
    """[mqtt] as a user writes it: TLS files and a password file, relative to the config."""
    (tmp_path / "mqtt.pass").write_text("right-password\n")
    (tmp_path / "wrong.pass").write_text("wrong-password\n")
    toml = f"""
[mqtt]
enabled = true
host = "127.0.0.1"
port = {port}
topic_prefix = "secure"
username = "camera1"
password_file = "{password_file}"
tls = true
ca_file = "tls/ca.pem"
cert_file = "tls/client.pem"
key_file = "tls/client_key.pem"
"""
    import tomllib

    data = {"pipeline": {"build": "b"}, "source": {"spec": 0}, **tomllib.loads(toml)}
    return parse_config(data, tmp_path / "daemon.toml", check_files=False).mqtt


def test_tls_client_certificate_and_password_against_a_real_broker(tmp_path):
    tls = make_tls_files(tmp_path / "tls")
    broker = Broker(tmp_path, tls=tls, users={"camera1": "right-password"}).start()
    sub = Subscriber(broker.port, "secure/#", tls=tls, user=("camera1", "right-password"))
    pub = MqttPublisher(_mqtt_config(tmp_path, broker.port, "mqtt.pass")).start()
    try:
        assert _wait(pub.connected.is_set), "publisher did not connect over TLS"
        pub.minute({"minute": 0, "frames": 1, "faces": 0, "tracks": 0, "counts": {}})
        assert sub.wait_for(lambda m: m[0] == "secure/aggregates/minute")
    finally:
        pub.stop()
        sub.close()
    wrong = MqttPublisher(_mqtt_config(tmp_path, broker.port, "wrong.pass")).start()
    try:
        assert not _wait(wrong.connected.is_set, timeout=3.0), "a wrong password was accepted"
    finally:
        wrong.stop()
        broker.stop()


def test_tls_options_are_checked(tmp_path):
    base = {"pipeline": {"build": "b"}, "source": {"spec": 0}}
    path = tmp_path / "daemon.toml"
    cfg = parse_config({**base, "mqtt": {"tls": True}}, path, check_files=False)
    assert cfg.mqtt.tls and cfg.mqtt.port == 8883 and cfg.mqtt.ca_file is None
    for mqtt, message in (
        ({"ca_file": "ca.pem"}, "need mqtt.tls = true"),
        ({"tls": True, "cert_file": "c.pem"}, "cert_file and key_file together"),
        ({"password": "x"}, "a password needs mqtt.username"),
        ({"tls": True, "ca_file": "missing.pem"}, "missing.pem not found"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_config({**base, "mqtt": mqtt}, path, check_files="missing" in str(mqtt))


def test_home_assistant_discovery_is_retained_with_availability_and_state(broker):
    """Subscribed as Home Assistant does, after the daemon published: the retained
    discovery configs, the state they point at and the availability topic are there."""
    state = ServiceState(labels=["neutral", "happiness"])
    faces = [{"track_id": i, "label": label} for i, label in
             enumerate(["happiness", "neutral", "happiness"])]  # fmt: skip
    state.record_frame({"frame_index": 0, "faces": faces}, {}, dropped=0)
    config = MqttConfig(
        enabled=True, host="127.0.0.1", port=broker.port, topic_prefix="shop/door",
        homeassistant=True,
    )  # fmt: skip
    pub = MqttPublisher(config, state).start()
    try:
        assert _wait(pub.connected.is_set), "publisher did not connect"
        assert _wait(lambda: pub._last_state is not None), "no state published"
        assert _wait(lambda: pub.acked >= 4)  # status, two configs, state: on the broker
        ha = Subscriber(broker.port, "homeassistant/#")  # Home Assistant starts later
        dev = Subscriber(broker.port, "shop/door/#")
        configs = ha.wait_for(lambda m: m[0].endswith("/config"))
        assert _wait(lambda: len([m for m in ha.messages if m[0].endswith("/config")]) == 2)
        configs = {topic: json.loads(payload) for topic, payload in ha.messages}
        assert set(configs) == {
            "homeassistant/sensor/shop_door/faces/config",
            "homeassistant/sensor/shop_door/emotion/config",
        }
        for payload in configs.values():
            assert payload["state_topic"] == "shop/door/state"
            assert payload["availability_topic"] == "shop/door/status"
            assert payload["device"]["identifiers"] == ["shop_door"]
            assert payload["unique_id"].startswith("shop_door_")
        got = dev.wait_for(lambda m: m[0] == "shop/door/state")
        assert got and json.loads(got[-1][1]) == {"faces": 3, "dominant": "happiness"}
        got = dev.wait_for(lambda m: m[0] == "shop/door/status")
        assert got and json.loads(got[-1][1])["state"] == "online"
        # The daemon dies without a goodbye: the broker's last will marks it unavailable.
        pub._stop.set()
        pub.client.loop_stop()
        pub.client.socket().close()
        assert dev.wait_for(
            lambda m: m[0] == "shop/door/status" and b"offline" in m[1], timeout=15.0
        ), "no last will"
    finally:
        pub.client.loop_stop()
    ha.close()
    dev.close()
