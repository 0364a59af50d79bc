"""The compatibility scenario (compat/README.md) with kafka-python, the pure
Python client: KafkaAdminClient for the topic, a KafkaProducer with
acks=all, and two KafkaConsumers in threads with the default assignors and
enable_auto_commit=False, committing exactly the processed offsets after
each poll. Under SASL_SSL every client gets security_protocol,
sasl_mechanism, sasl_plain_username/password and an ssl_context trusting
the CA. COMPAT_DEBUG=1 logs the kafka package at DEBUG to stderr."""

import logging
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import compatlib  # noqa: E402
import kafka  # noqa: E402
from kafka import (ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer,  # noqa: E402
                   KafkaProducer, OffsetAndMetadata, TopicPartition)

CLIENT = "kafka-python"
VERSION = kafka.__version__


def conf(cfg, **extra):
    """The settings every client of the run shares."""
    c = {"bootstrap_servers": cfg.bootstrap, "client_id": "octopus-compat-" + CLIENT}
    if cfg.secure:
        c.update(security_protocol=cfg.security_protocol, sasl_mechanism=cfg.sasl_mechanism,
                 sasl_plain_username=cfg.sasl_username, sasl_plain_password=cfg.sasl_password,
                 ssl_context=cfg.ssl_context())
    c.update(extra)
    return c


def create_topic(cfg):
    adm = KafkaAdminClient(**conf(cfg))
    try:
        adm.create_topics({cfg.topic: {"num_partitions": compatlib.PARTITIONS, "replication_factor": 1}})
    finally:
        adm.close()


def produce(cfg, recs):
    p = KafkaProducer(**conf(cfg, acks="all"))
    try:
        futures = [(r, p.send(cfg.topic, key=r.key.encode(), value=r.value.encode(),
                              headers=[(k, v.encode()) for k, v in r.headers]))
                   for r in recs]
        p.flush(timeout=max(1.0, cfg.remaining()))
        for r, f in futures:
            md = f.get(timeout=max(1.0, cfg.remaining()))
            r.partition, r.offset = md.partition, md.offset
    finally:
        p.close()


class Listener(ConsumerRebalanceListener):
    def __init__(self, m):
        self.m = m

    def on_partitions_revoked(self, revoked):
        self.m.revoked([tp.partition for tp in revoked])

    def on_partitions_assigned(self, assigned):
        self.m.assigned([tp.partition for tp in assigned])


def consume(cfg, m):
    c = KafkaConsumer(**conf(cfg, group_id=cfg.group, auto_offset_reset="earliest", enable_auto_commit=False))
    c.subscribe([cfg.topic], listener=Listener(m))
    try:
        while not m.done():
            m.check_deadline()
            processed, stopped = {}, False
            for tp, msgs in c.poll(timeout_ms=200).items():
                for msg in msgs:
                    rec = compatlib.Record(msg.partition, msg.offset, compatlib.text(msg.key),
                                           compatlib.text(msg.value),
                                           [(k, compatlib.text(v)) for k, v in (msg.headers or [])])
                    stopped = stopped or not m.process(rec)
                    if not stopped:
                        processed[tp] = OffsetAndMetadata(msg.offset + 1, "", -1)
            if processed:
                c.commit(processed)
    finally:
        c.close(autocommit=False)  # leaves the group


if __name__ == "__main__":
    if os.environ.get("COMPAT_DEBUG") == "1":
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    compatlib.run(CLIENT, VERSION, create_topic, produce, consume)
