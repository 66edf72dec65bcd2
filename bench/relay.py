"""The ingest benchmark's baseline (b): a bare MQTT relay that answers each chunk with an ack.

It subscribes like an ingest worker (the shared subscription, QoS 1) and publishes an empty
ack to the device's ack topic for every chunk: no parsing, no verification, no storage. Run as
its own process: ``python -m bench.relay --port PORT``.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from trace_protocol import topics

GROUP = "bench-relay"


def relay(port: int, stop: threading.Event) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-relay")
    client.max_queued_messages_set(1000)

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        c.subscribe(topics.shared_subscription(GROUP, topics.EVENTS), qos=1)

    def on_message(c: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # ocop/v1/dev/{dev}/events -> ocop/v1/dev/{dev}/ack
        c.publish(msg.topic[: -len(topics.EVENTS)] + topics.ACK, b"", qos=1)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    stop.wait()
    client.disconnect()
    client.loop_stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the broker's port on 127.0.0.1")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    relay(args.port, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
