"""The compatibility scenario (compat/README.md) with aiokafka (asyncio):
AIOKafkaAdminClient for the topic, an AIOKafkaProducer with acks=all, and
two AIOKafkaConsumers on one event loop with the default assignor (round
robin) and enable_auto_commit=False, committing exactly the processed
offsets after each getmany. Under SASL_SSL every client gets
security_protocol, sasl_mechanism, sasl_plain_username/password and an
ssl_context from aiokafka.helpers.create_ssl_context(cafile=...).
COMPAT_DEBUG=1 logs the aiokafka package at DEBUG to stderr."""

import logging
import os
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import aiokafka  # noqa: E402
import compatlib  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.helpers import create_ssl_context  # noqa: E402

CLIENT = "aiokafka"
VERSION = aiokafka.__version__


def conf(cfg, **extra):
    """The settings every client of the run shares."""
    c = {"bootstrap_servers": cfg.bootstrap, "client_id": "octopus-compat-" + CLIENT}
    if cfg.secure:
        c.update(security_protocol=cfg.security_protocol, sasl_mechanism=cfg.sasl_mechanism,
                 sasl_plain_username=cfg.sasl_username, sasl_plain_password=cfg.sasl_password,
                 ssl_context=create_ssl_context(cafile=cfg.ssl_ca))
    c.update(extra)
    return c


async def create_topic(cfg):
    adm = AIOKafkaAdminClient(**conf(cfg))
    await adm.start()
    try:
        resp = await adm.create_topics([NewTopic(cfg.topic, compatlib.PARTITIONS, 1)])
        for te in resp.topic_errors:  # (topic, error_code[, error_message])
            if te[1]:
                raise RuntimeError("CreateTopics %s: error code %d %s" % (te[0], te[1], te[2] if len(te) > 2 else ""))
    finally:
        await adm.close()


async def produce(cfg, recs):
    p = AIOKafkaProducer(**conf(cfg, acks="all"))
    await p.start()
    try:
        futures = [(r, await p.send(cfg.topic, key=r.key.encode(), value=r.value.encode(),
                                    headers=[(k, v.encode()) for k, v in r.headers]))
                   for r in recs]
        for r, f in futures:
            md = await f
            r.partition, r.offset = md.partition, md.offset
    finally:
        await p.stop()


class Listener(ConsumerRebalanceListener):
    def __init__(self, m):
        self.m = m

    async def on_partitions_revoked(self, revoked):
        self.m.revoked([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned):
        self.m.assigned([tp.partition for tp in assigned])


async def consume(cfg, m):
    c = AIOKafkaConsumer(**conf(cfg, group_id=cfg.group, auto_offset_reset="earliest", enable_auto_commit=False))
    c.subscribe([cfg.topic], listener=Listener(m))
    await c.start()
    try:
        while not m.done():
            m.check_deadline()
            processed, stopped = {}, False
            for tp, msgs in (await c.getmany(timeout_ms=200)).items():
                for msg in msgs:
                    rec = compatlib.Record(msg.partition, msg.offset, compatlib.text(msg.key),
                                           compatlib.text(msg.value),
                                           [(k, compatlib.text(v)) for k, v in (msg.headers or [])])
                    stopped = stopped or not m.process(rec)
                    if not stopped:
                        processed[tp] = msg.offset + 1
            if processed:
                await c.commit(processed)
    finally:
        await c.stop()  # leaves the group


if __name__ == "__main__":
    if os.environ.get("COMPAT_DEBUG") == "1":
        logging.basicConfig(stream=sys.stderr, level=logging.DEBUG,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    compatlib.run_async(CLIENT, VERSION, create_topic, produce, consume)
