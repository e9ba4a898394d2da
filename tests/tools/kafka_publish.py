#!/usr/bin/env python3
"""Publishes JSON lines to a Kafka topic with confluent-kafka (PyPI), an ordinary client
that no one in this project wrote: the independent producer of the broker tests.

    kafka_publish.py --brokers 127.0.0.1:9092 --topic city.readings --partitions 3 \
        --create FILE [--rate N] [--key-field device]

Each line of FILE (`-` for stdin) becomes one message, keyed by the value of --key-field
(so a device's readings stay in order within a partition). Prints the number of messages
acknowledged by the broker on stdout; exits non-zero if any delivery failed.
"""
import argparse
import json
import re
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


STAMP = re.compile(rb'"ts":\s*-?\d+')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--create", action="store_true", help="create the topic first")
    ap.add_argument("--rate", type=float, default=0.0, help="messages per second (0: as fast as possible)")
    ap.add_argument("--key-field", default="device")
    ap.add_argument("--stamp-now", action="store_true",
                    help="replace each line's integer `ts` with the wall clock at publish (epoch ms)")
    ap.add_argument("file")
    args = ap.parse_args()

    if args.create:
        admin = AdminClient({"bootstrap.servers": args.brokers})
        futures = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)])
        for topic, f in futures.items():
            try:
                f.result(timeout=30)
            except Exception as e:  # an existing topic is fine
                if "TOPIC_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                    raise

    failed = []
    acked = [0]

    def delivered(err, _msg):
        if err is not None:
            failed.append(str(err))
        else:
            acked[0] += 1

    p = Producer({"bootstrap.servers": args.brokers, "linger.ms": 5, "acks": "all",
                  "enable.idempotence": False, "queue.buffering.max.messages": 1000000})
    src = sys.stdin if args.file == "-" else open(args.file, "rb")
    start = time.monotonic()
    n = 0
    for line in src:
        line = line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n").encode()
        if not line:
            continue
        if args.stamp_now:
            now = str(int(time.time() * 1000)).encode()
            line = STAMP.sub(b'"ts":' + now, line, count=1)
        key = None
        try:
            key = str(json.loads(line).get(args.key_field, "")).encode()
        except Exception:
            key = b"unparseable"
        while True:
            try:
                p.produce(args.topic, value=line, key=key, on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.01)
        n += 1
        if n % 1000 == 0:
            p.poll(0)
        if args.rate > 0:
            ahead = n / args.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    remaining = p.flush(120)
    if remaining or failed:
        print(f"undelivered: {remaining}, failed: {failed[:5]}", file=sys.stderr)
        sys.exit(1)
    print(acked[0])


if __name__ == "__main__":
    main()
