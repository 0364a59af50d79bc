"""The compatibility scenario for the Python clients (compat/README.md).

compat/scenario (Go) is the reference; this module is the same ledger and
the same steps for the programs in compat/python/*/scenario.py. A client
program supplies three functions and calls run() or run_async():

    create_topic(cfg)          create cfg.topic with PARTITIONS partitions
    produce(cfg, recs)         send recs with acks=all; set each one's
                               partition and offset from its ack
    consume(cfg, member)       one group member: report assignments with
                               member.assigned()/member.revoked(), call
                               member.process(rec) per record (stop when it
                               returns False), commit exactly the processed
                               records after each batch, and when
                               member.done() commit, close (leave) and return

The scenario is configured by COMPAT_* environment variables (set by
test/compat_test.go) and prints one JSON line; the exit status is 0 only
for a clean run. Config.secure tells a program to connect with SASL_SSL:
SCRAM (cfg.sasl_mechanism, cfg.sasl_username, cfg.sasl_password) over TLS
trusting the PEM CA in cfg.ssl_ca; ssl_context() is that trust for the
clients that take an ssl.SSLContext.
"""

import asyncio
import json
import os
import ssl
import sys
import threading
import time
import traceback

PARTITIONS = 3
MAX_NOTES = 5


class Config:
    def __init__(self, client):
        env = os.environ
        self.client = client
        self.bootstrap = env.get("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
        self.topic = env.get("COMPAT_TOPIC", "compat-" + client)
        self.group = env.get("COMPAT_GROUP", "compat-" + client + "-group")
        self.records = int(env.get("COMPAT_RECORDS", "300"))
        self.more = int(env.get("COMPAT_MORE", "100"))
        self.leave_after = int(env.get("COMPAT_LEAVE_AFTER", "50"))
        self.timeout = float(env.get("COMPAT_TIMEOUT", "120"))
        self.debug = env.get("COMPAT_DEBUG", "0") == "1"
        self.deadline = time.monotonic() + self.timeout
        self.security_protocol = env.get("COMPAT_SECURITY_PROTOCOL", "PLAINTEXT").upper() or "PLAINTEXT"
        self.sasl_mechanism = env.get("COMPAT_SASL_MECHANISM", "SCRAM-SHA-512").upper() or "SCRAM-SHA-512"
        self.sasl_username = env.get("COMPAT_SASL_USERNAME", "")
        self.sasl_password = env.get("COMPAT_SASL_PASSWORD", "")
        self.ssl_ca = env.get("COMPAT_SSL_CA", "")
        if self.security_protocol not in ("PLAINTEXT", "SASL_SSL"):
            raise ValueError("COMPAT_SECURITY_PROTOCOL=%s: the scenario supports PLAINTEXT and SASL_SSL"
                             % self.security_protocol)
        if self.secure and not (self.sasl_username and self.sasl_password and self.ssl_ca):
            raise ValueError("SASL_SSL needs COMPAT_SASL_USERNAME, COMPAT_SASL_PASSWORD and COMPAT_SSL_CA")

    @property
    def secure(self):
        return self.security_protocol == "SASL_SSL"

    def ssl_context(self):
        """A client TLS context that trusts only the CA in ssl_ca and
        checks the broker's host name."""
        return ssl.create_default_context(cafile=self.ssl_ca)

    def headers(self, i):
        return [("seq", str(i)), ("client", self.client)]

    def remaining(self):
        return self.deadline - time.monotonic()


class Record:
    __slots__ = ("partition", "offset", "key", "value", "headers")

    def __init__(self, partition, offset, key, value, headers):
        self.partition, self.offset = partition, offset
        self.key, self.value, self.headers = key, value, headers


def text(b):
    """Decodes a key, value or header value (bytes or None) to str."""
    if b is None:
        return None
    return b.decode("utf-8", "replace") if isinstance(b, (bytes, bytearray)) else str(b)


class Ledger:
    """What was produced and what each member processed; thread-safe."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.sent = 0
        self.produced = set()
        self.acks = {}  # i -> (partition, offset)
        self.seen = {}  # i -> [(member, (partition, offset))]
        self.unseen = [cfg.records, cfg.more]
        self.consumed = 0
        self.bad = 0
        self.notes = []
        self.a_parts = set()
        self.a_left_at = None
        self.taken_over = 0
        self.handover = 0.0
        self.members = []

    def note(self, msg):
        if len(self.notes) < MAX_NOTES:
            self.notes.append(msg)

    def expected(self, i):
        return Record(-1, -1, "key-%d" % i, "value-%d" % i, self.cfg.headers(i))

    def records(self, lo, hi):
        with self.lock:
            self.sent = max(self.sent, hi)
        return [self.expected(i) for i in range(lo, hi)]

    def acked(self, recs, ok):
        with self.lock:
            for r in recs:
                i = int(r.key[4:])
                if r.partition is not None and r.partition >= 0:
                    self.acks[i] = (r.partition, r.offset)
                    self.produced.add(i)
                elif ok:
                    self.produced.add(i)

    def member(self, name):
        m = Member(self, name)
        with self.lock:
            self.members.append(m)
        return m

    def left(self):
        with self.lock:
            self.a_left_at = time.monotonic()

    def result(self, version, err):
        with self.lock:
            counts = {m.name: m.n for m in self.members}
            res = {
                "client": self.cfg.client, "version": version,
                "produced": len(self.produced), "consumed": self.consumed,
                "duplicates": 0, "missing": 0, "ok": False, "error": "",
                "bad": self.bad, "a": counts.get("A", 0), "b": counts.get("B", 0),
                "taken_over": self.taken_over, "c": counts.get("C", 0),
                "handover_ms": int(self.handover * 1000),
            }
            owner = {}
            for i in sorted(self.seen):
                for member, pos in self.seen[i]:
                    ack = self.acks.get(i)
                    if ack is not None:
                        if pos != ack:
                            res["bad"] += 1
                            self.note("record %d processed by %s at p%d@%d, acknowledged at p%d@%d"
                                      % (i, member, pos[0], pos[1], ack[0], ack[1]))
                    elif owner.get(pos, i) != i:
                        res["bad"] += 1
                        self.note("records %d and %d both consumed at p%d@%d" % (owner[pos], i, pos[0], pos[1]))
                    else:
                        owner[pos] = i
            for i in sorted(self.seen):
                by = self.seen[i]
                if len(by) > 1:
                    res["duplicates"] += len(by) - 1
                    self.note("record %d (%s) processed %d times, by %s"
                              % (i, self.where(i), len(by), ",".join(m for m, _ in by)))
            missing = [i for i in range(self.cfg.records + self.cfg.more)
                       if i in self.produced and i not in self.seen]
            res["missing"] = len(missing)
            if missing:
                self.note("missing records (first of %d): %s"
                          % (len(missing), ", ".join("%d (%s)" % (i, self.where(i)) for i in missing[:5])))
            if err is None:
                if res["a"] != self.cfg.leave_after:
                    err = "member A processed %d records, want %d" % (res["a"], self.cfg.leave_after)
                elif res["taken_over"] == 0:
                    err = "no handover: after A left, B processed nothing on A's partitions %s" % sorted(self.a_parts)
                elif res["duplicates"] or res["missing"] or res["bad"]:
                    err = "%d duplicates, %d missing, %d bad records" % (res["duplicates"], res["missing"], res["bad"])
            res["ok"] = err is None
            res["error"] = err or ""
            if self.notes:
                res["notes"] = "; ".join(self.notes)
            return res

    def where(self, i):
        ack = self.acks.get(i)
        return "p%d@%d" % ack if ack else "unacknowledged position"


class Member:
    """One consumer in the group: A, B or the restarted C."""

    def __init__(self, ledger, name):
        self.l = ledger
        self.cfg = ledger.cfg
        self.name = name
        self.n = 0
        self.assignment = set()

    def assigned(self, partitions):
        with self.l.lock:
            self.assignment |= set(partitions)

    def revoked(self, partitions):
        with self.l.lock:
            self.assignment -= set(partitions)

    def process(self, rec):
        """Records that the member processed rec; False (and nothing
        recorded) when it must not: A stops at leave_after records."""
        l = self.l
        with l.lock:
            if self.name == "A" and self.n >= l.cfg.leave_after:
                return False
            self.n += 1
            l.consumed += 1
            pos = (rec.partition, rec.offset)
            key = rec.key or ""
            try:
                i = int(key[4:]) if key.startswith("key-") else -1
            except ValueError:
                i = -1
            if i < 0 or i >= l.sent:
                l.bad += 1
                l.note("%s got an unexpected record at p%d@%d: key %r" % (self.name, pos[0], pos[1], rec.key))
                return True
            want = l.expected(i)
            if rec.value != want.value:
                l.bad += 1
                l.note("record %d at p%d@%d: value %r, want %r" % (i, pos[0], pos[1], rec.value, want.value))
            elif list(rec.headers) != want.headers:
                l.bad += 1
                l.note("record %d at p%d@%d: headers %r, want %r" % (i, pos[0], pos[1], list(rec.headers), want.headers))
            if i not in l.seen:
                l.unseen[0 if i < l.cfg.records else 1] -= 1
                l.seen[i] = []
            l.seen[i].append((self.name, pos))
            if self.name == "A":
                l.a_parts.add(rec.partition)
            elif self.name == "B" and rec.partition in l.a_parts:
                if l.taken_over == 0 and l.a_left_at is not None:
                    l.handover = max(0.0, time.monotonic() - l.a_left_at)
                l.taken_over += 1
            return True

    def done(self):
        l = self.l
        with l.lock:
            if self.name == "A":
                return self.n >= l.cfg.leave_after or l.unseen[0] == 0
            if self.name == "B":
                return l.unseen[0] == 0 and l.a_left_at is not None
            return l.unseen[1] == 0

    def check_deadline(self):
        if self.cfg.remaining() <= 0:
            raise TimeoutError("member %s: scenario timed out after %.0fs" % (self.name, self.cfg.timeout))


def stable(a, b):
    """Both members hold partitions, together all of them, none twice."""
    with a.l.lock:
        return (a.assignment and b.assignment and not (a.assignment & b.assignment)
                and len(a.assignment | b.assignment) == PARTITIONS)


def emit(res):
    """Prints the result line and exits at once: a member thread that is
    still stuck in a client call must not hold the process open."""
    print(json.dumps(res), flush=True)
    sys.stderr.flush()
    os._exit(0 if res["ok"] else 1)


def log(cfg, msg):
    print("[%s %.3f] %s" % (cfg.client, time.monotonic(), msg), file=sys.stderr, flush=True)


class _Thread(threading.Thread):
    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.error = fn, args, None

    def run(self):
        try:
            self.fn(*self.args)
        except BaseException as e:  # reported by the scenario
            self.error = "%s: %s" % (type(e).__name__, e)
            traceback.print_exc()


def _config(client, version):
    """The run's Config; a bad COMPAT_* setting is emitted as a failed
    result."""
    try:
        return Config(client)
    except ValueError as e:
        emit({"client": client, "version": version, "produced": 0, "consumed": 0,
              "duplicates": 0, "missing": 0, "ok": False, "error": str(e)})


def run(client, version, create_topic, produce, consume):
    """Runs the scenario with a thread per member and emits the result."""
    cfg = _config(client, version)
    ledger = Ledger(cfg)
    err = None
    try:
        _run_threads(cfg, ledger, create_topic, produce, consume)
    except Exception as e:
        err = str(e)
        traceback.print_exc()
    emit(ledger.result(version, err))


def _wait(cfg, t, what):
    t.join(max(0.0, cfg.remaining()))
    if t.is_alive():
        raise TimeoutError("%s: timed out" % what)
    if t.error:
        raise RuntimeError("%s: %s" % (what, t.error))


def _run_threads(cfg, ledger, create_topic, produce, consume):
    try:
        create_topic(cfg)
    except Exception as e:
        raise RuntimeError("step 1, create topic: %s" % e) from e
    log(cfg, "created topic " + cfg.topic)

    a, b = ledger.member("A"), ledger.member("B")
    ta, tb = _Thread(consume, cfg, a), _Thread(consume, cfg, b)
    ta.start()
    tb.start()
    while not stable(a, b):
        for t, m in ((ta, a), (tb, b)):
            if not t.is_alive():
                raise RuntimeError("step 2, member %s returned while joining: %s" % (m.name, t.error))
        if cfg.remaining() <= 0:
            raise TimeoutError("step 2, members A and B join: group not stable (A holds %s, B holds %s)"
                               % (sorted(a.assignment), sorted(b.assignment)))
        time.sleep(0.05)
    log(cfg, "group stable: A %s, B %s" % (sorted(a.assignment), sorted(b.assignment)))

    _produce(cfg, ledger, produce, 0, cfg.records, "step 2")
    _wait(cfg, ta, "step 3, member A")
    ledger.left()
    log(cfg, "A processed %d and left" % a.n)
    _wait(cfg, tb, "step 3, member B")
    log(cfg, "B processed %d (%d on A's partitions)" % (b.n, ledger.taken_over))

    _produce(cfg, ledger, produce, cfg.records, cfg.records + cfg.more, "step 4")
    c = ledger.member("C")
    tc = _Thread(consume, cfg, c)
    tc.start()
    _wait(cfg, tc, "step 4, member C")
    log(cfg, "C processed %d" % c.n)


def _produce(cfg, ledger, produce, lo, hi, step):
    recs = ledger.records(lo, hi)
    try:
        produce(cfg, recs)
    except Exception as e:
        ledger.acked(recs, False)
        raise RuntimeError("%s, produce %d: %s" % (step, hi - lo, e)) from e
    ledger.acked(recs, True)
    log(cfg, "produced %d" % (hi - lo))


def run_async(client, version, create_topic, produce, consume):
    """Runs the scenario on one asyncio loop (a task per member); the three
    functions are coroutines."""
    cfg = _config(client, version)
    ledger = Ledger(cfg)
    err = None
    try:
        asyncio.run(asyncio.wait_for(_run_tasks(cfg, ledger, create_topic, produce, consume),
                                     timeout=cfg.timeout))
    except asyncio.TimeoutError:
        err = "scenario timed out after %.0fs" % cfg.timeout
    except Exception as e:
        err = str(e)
        traceback.print_exc()
    emit(ledger.result(version, err))


async def _run_tasks(cfg, ledger, create_topic, produce, consume):
    try:
        await create_topic(cfg)
    except Exception as e:
        raise RuntimeError("step 1, create topic: %s" % e) from e
    log(cfg, "created topic " + cfg.topic)

    a, b = ledger.member("A"), ledger.member("B")
    ta = asyncio.create_task(consume(cfg, a))
    tb = asyncio.create_task(consume(cfg, b))
    while not stable(a, b):
        for t, m in ((ta, a), (tb, b)):
            if t.done():
                raise RuntimeError("step 2, member %s returned while joining: %r" % (m.name, t.exception()))
        await asyncio.sleep(0.05)
    log(cfg, "group stable: A %s, B %s" % (sorted(a.assignment), sorted(b.assignment)))

    await _produce_async(cfg, ledger, produce, 0, cfg.records, "step 2")
    await _await(ta, "step 3, member A")
    ledger.left()
    log(cfg, "A processed %d and left" % a.n)
    await _await(tb, "step 3, member B")
    log(cfg, "B processed %d (%d on A's partitions)" % (b.n, ledger.taken_over))

    await _produce_async(cfg, ledger, produce, cfg.records, cfg.records + cfg.more, "step 4")
    c = ledger.member("C")
    await _await(asyncio.create_task(consume(cfg, c)), "step 4, member C")
    log(cfg, "C processed %d" % c.n)


async def _await(task, what):
    try:
        await task
    except asyncio.CancelledError:
        raise
    except Exception as e:
        raise RuntimeError("%s: %s: %s" % (what, type(e).__name__, e)) from e


async def _produce_async(cfg, ledger, produce, lo, hi, step):
    recs = ledger.records(lo, hi)
    try:
        await produce(cfg, recs)
    except Exception as e:
        ledger.acked(recs, False)
        raise RuntimeError("%s, produce %d: %s" % (step, hi - lo, e)) from e
    ledger.acked(recs, True)
    log(cfg, "produced %d" % (hi - lo))
