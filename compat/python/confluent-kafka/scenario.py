"""The compatibility scenario (compat/README.md) with confluent-kafka, the
Python binding of librdkafka (bundled in the wheel): AdminClient for the
topic, a Producer with acks=all and delivery callbacks, and two Consumers
in threads with librdkafka's default assignors (range, roundrobin) and
enable.auto.commit=false, committing exactly the processed offsets after
each batch. Under SASL_SSL every client gets librdkafka's security.protocol,
sasl.mechanisms, sasl.username, sasl.password and ssl.ca.location.
COMPAT_DEBUG=1 adds librdkafka's debug=cgrp,protocol log."""

import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import compatlib  # noqa: E402
import confluent_kafka  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

CLIENT = "confluent-kafka"
_v = confluent_kafka.version()  # a (str, int) tuple in older releases, a str in newer ones
VERSION = "%s (librdkafka %s)" % (_v[0] if isinstance(_v, tuple) else _v, confluent_kafka.libversion()[0])


def conf(cfg, **extra):
    c = {"bootstrap.servers": cfg.bootstrap, "client.id": "octopus-compat-" + CLIENT}
    if cfg.secure:
        c.update({"security.protocol": cfg.security_protocol, "sasl.mechanisms": cfg.sasl_mechanism,
                  "sasl.username": cfg.sasl_username, "sasl.password": cfg.sasl_password,
                  "ssl.ca.location": cfg.ssl_ca})
    if cfg.debug:
        c["debug"] = "cgrp,protocol"
    c.update(extra)
    return c


def create_topic(cfg):
    adm = AdminClient(conf(cfg))  # must outlive the futures
    futures = adm.create_topics(
        [NewTopic(cfg.topic, num_partitions=compatlib.PARTITIONS, replication_factor=1)])
    for f in futures.values():
        f.result(timeout=max(1.0, cfg.remaining()))


def produce(cfg, recs):
    p = Producer(conf(cfg, acks="all"))
    failed = []

    def delivered(rec):
        def cb(err, msg):
            if err is not None:
                failed.append("%s: %s" % (rec.key, err))
            else:
                rec.partition, rec.offset = msg.partition(), msg.offset()
        return cb

    for r in recs:
        p.produce(cfg.topic, key=r.key, value=r.value, headers=r.headers, on_delivery=delivered(r))
        p.poll(0)
    left = p.flush(max(1.0, cfg.remaining()))
    if left:
        raise RuntimeError("%d records not acknowledged" % left)
    if failed:
        raise RuntimeError("delivery failed: %s" % "; ".join(failed[:5]))


def consume(cfg, m):
    c = Consumer(conf(cfg, **{"group.id": cfg.group, "auto.offset.reset": "earliest",
                              "enable.auto.commit": False}))
    c.subscribe([cfg.topic],
                on_assign=lambda _, parts: m.assigned([p.partition for p in parts]),
                on_revoke=lambda _, parts: m.revoked([p.partition for p in parts]))
    try:
        while not m.done():
            m.check_deadline()
            processed, stopped = {}, False
            for msg in c.consume(num_messages=100, timeout=0.2):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                rec = compatlib.Record(msg.partition(), msg.offset(), compatlib.text(msg.key()),
                                       compatlib.text(msg.value()),
                                       [(k, compatlib.text(v)) for k, v in (msg.headers() or [])])
                stopped = stopped or not m.process(rec)
                if not stopped:
                    processed[msg.partition()] = msg.offset() + 1
            if processed:
                c.commit(offsets=[TopicPartition(cfg.topic, p, o) for p, o in processed.items()],
                         asynchronous=False)
    finally:
        c.close()  # leaves the group


if __name__ == "__main__":
    compatlib.run(CLIENT, VERSION, create_topic, produce, consume)
