#!/usr/bin/env python3
"""Prints every message of a Kafka topic (all partitions, from the beginning) as one line,
with confluent-kafka (PyPI): the independent consumer of the broker tests.

    kafka_consume.py --brokers 127.0.0.1:9092 --topic msec.alerts [--idle 5]

Stops after --idle seconds without a message; exits non-zero on a consumer error.
"""
import argparse
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--idle", type=float, default=5.0)
    args = ap.parse_args()
    c = Consumer({"bootstrap.servers": args.brokers, "group.id": "inspect-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})
    md = c.list_topics(args.topic, timeout=30)
    parts = md.topics[args.topic].partitions
    c.assign([TopicPartition(args.topic, p, 0) for p in parts])
    last = time.monotonic()
    out = sys.stdout.buffer
    while time.monotonic() - last < args.idle:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            print(m.error(), file=sys.stderr)
            sys.exit(1)
        out.write(m.value() + b"\n")
        last = time.monotonic()
    out.flush()


if __name__ == "__main__":
    main()
