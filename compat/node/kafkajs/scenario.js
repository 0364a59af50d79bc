// The compatibility scenario (compat/README.md) with kafkajs: the admin
// client for the topic, a producer with acks=-1 and kafkajs's default
// (Java-compatible murmur2) partitioner, and two consumers in this process
// with the default round-robin assignor, autoCommit off, and eachBatch
// resolving each processed message and committing exactly the processed
// offsets of each batch. The scenario is
// configured by COMPAT_* environment variables; it prints one JSON line and
// exits 0 only for a clean run. Under COMPAT_SECURITY_PROTOCOL=SASL_SSL the
// client gets ssl: { ca } and sasl: { mechanism: 'scram-sha-512', ... }.
// COMPAT_DEBUG=1 logs kafkajs at DEBUG to stderr.
'use strict'

const fs = require('fs')

const { Kafka, logLevel, Partitioners } = require('kafkajs')
const VERSION = require('kafkajs/package.json').version

const CLIENT = 'kafkajs'
const PARTITIONS = 3
const MAX_NOTES = 5

const env = process.env
const cfg = {
  bootstrap: env.COMPAT_BOOTSTRAP || '127.0.0.1:9092',
  topic: env.COMPAT_TOPIC || `compat-${CLIENT}`,
  group: env.COMPAT_GROUP || `compat-${CLIENT}-group`,
  records: Number(env.COMPAT_RECORDS || 300),
  more: Number(env.COMPAT_MORE || 100),
  leaveAfter: Number(env.COMPAT_LEAVE_AFTER || 50),
  timeout: Number(env.COMPAT_TIMEOUT || 120),
  debug: env.COMPAT_DEBUG === '1',
  securityProtocol: (env.COMPAT_SECURITY_PROTOCOL || 'PLAINTEXT').toUpperCase(),
  saslMechanism: (env.COMPAT_SASL_MECHANISM || 'SCRAM-SHA-512').toLowerCase(),
  saslUsername: env.COMPAT_SASL_USERNAME || '',
  saslPassword: env.COMPAT_SASL_PASSWORD || '',
  sslCA: env.COMPAT_SSL_CA || '',
}
const started = Date.now()
const headersOf = i => [['seq', String(i)], ['client', CLIENT]]

function log(msg) {
  process.stderr.write(`[${CLIENT} ${((Date.now() - started) / 1000).toFixed(3)}] ${msg}\n`)
}

// The ledger: what was produced and what each member processed.
const ledger = {
  sent: 0,
  produced: new Set(),
  acks: new Map(), // i -> [partition, offset]
  seen: new Map(), // i -> [[member, [partition, offset]]]
  unseen: [cfg.records, cfg.more],
  consumed: 0,
  bad: 0,
  notes: [],
  aParts: new Set(),
  aLeftAt: null,
  takenOver: 0,
  handover: 0,
  members: [],
}

function note(msg) {
  if (ledger.notes.length < MAX_NOTES) ledger.notes.push(msg)
}

const pos = p => `p${p[0]}@${p[1]}`
const where = i => (ledger.acks.has(i) ? pos(ledger.acks.get(i)) : 'unacknowledged position')

class Member {
  constructor(name) {
    this.name = name
    this.n = 0
    this.assignment = new Set()
    ledger.members.push(this)
  }

  // process records that the member processed rec; false (and nothing
  // recorded) when it must not: A stops at leaveAfter records.
  process(rec) {
    if (this.name === 'A' && this.n >= cfg.leaveAfter) return false
    this.n++
    ledger.consumed++
    const at = [rec.partition, rec.offset]
    const key = rec.key || ''
    const i = key.startsWith('key-') && /^\d+$/.test(key.slice(4)) ? Number(key.slice(4)) : -1
    if (i < 0 || i >= ledger.sent) {
      ledger.bad++
      note(`${this.name} got an unexpected record at ${pos(at)}: key ${JSON.stringify(rec.key)}`)
      return true
    }
    if (rec.value !== `value-${i}`) {
      ledger.bad++
      note(`record ${i} at ${pos(at)}: value ${JSON.stringify(rec.value)}, want "value-${i}"`)
    } else if (JSON.stringify(rec.headers) !== JSON.stringify(headersOf(i))) {
      ledger.bad++
      note(`record ${i} at ${pos(at)}: headers ${JSON.stringify(rec.headers)}, want ${JSON.stringify(headersOf(i))}`)
    }
    if (!ledger.seen.has(i)) {
      ledger.unseen[i < cfg.records ? 0 : 1]--
      ledger.seen.set(i, [])
    }
    ledger.seen.get(i).push([this.name, at])
    if (this.name === 'A') {
      ledger.aParts.add(rec.partition)
    } else if (this.name === 'B' && ledger.aParts.has(rec.partition)) {
      if (ledger.takenOver === 0 && ledger.aLeftAt !== null) ledger.handover = Math.max(0, Date.now() - ledger.aLeftAt)
      ledger.takenOver++
    }
    return true
  }

  done() {
    if (this.name === 'A') return this.n >= cfg.leaveAfter || ledger.unseen[0] === 0
    if (this.name === 'B') return ledger.unseen[0] === 0 && ledger.aLeftAt !== null
    return ledger.unseen[1] === 0
  }
}

function result(err) {
  const count = name => (ledger.members.find(m => m.name === name) || { n: 0 }).n
  const res = {
    client: CLIENT, version: VERSION,
    produced: ledger.produced.size, consumed: ledger.consumed,
    duplicates: 0, missing: 0, ok: false, error: '',
    bad: ledger.bad, a: count('A'), b: count('B'), taken_over: ledger.takenOver, c: count('C'),
    handover_ms: ledger.handover,
  }
  const ids = [...ledger.seen.keys()].sort((x, y) => x - y)
  const owner = new Map()
  for (const i of ids) {
    for (const [member, at] of ledger.seen.get(i)) {
      const ack = ledger.acks.get(i)
      if (ack) {
        if (ack[0] !== at[0] || ack[1] !== at[1]) {
          res.bad++
          note(`record ${i} processed by ${member} at ${pos(at)}, acknowledged at ${pos(ack)}`)
        }
      } else if (owner.has(pos(at)) && owner.get(pos(at)) !== i) {
        res.bad++
        note(`records ${owner.get(pos(at))} and ${i} both consumed at ${pos(at)}`)
      } else {
        owner.set(pos(at), i)
      }
    }
  }
  for (const i of ids) {
    const by = ledger.seen.get(i)
    if (by.length > 1) {
      res.duplicates += by.length - 1
      note(`record ${i} (${where(i)}) processed ${by.length} times, by ${by.map(s => s[0]).join(',')}`)
    }
  }
  const missing = []
  for (let i = 0; i < cfg.records + cfg.more; i++) {
    if (ledger.produced.has(i) && !ledger.seen.has(i)) missing.push(i)
  }
  res.missing = missing.length
  if (missing.length) {
    note(`missing records (first of ${missing.length}): ${missing.slice(0, 5).map(i => `${i} (${where(i)})`).join(', ')}`)
  }
  if (!err) {
    if (res.a !== cfg.leaveAfter) err = `member A processed ${res.a} records, want ${cfg.leaveAfter}`
    else if (res.taken_over === 0) err = `no handover: after A left, B processed nothing on A's partitions ${[...ledger.aParts]}`
    else if (res.duplicates || res.missing || res.bad) err = `${res.duplicates} duplicates, ${res.missing} missing, ${res.bad} bad records`
  }
  res.ok = !err
  res.error = err || ''
  if (ledger.notes.length) res.notes = ledger.notes.join('; ')
  return res
}

// kafkajs logs to stderr (its default logger writes to stdout, which
// carries the result line).
const logCreator = () => ({ namespace, level, label, log: entry }) => {
  const { message, ...extra } = entry
  process.stderr.write(`${new Date().toISOString()} ${label} [${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

let configError = null // reported as the scenario's error

// security is kafkajs's ssl and sasl settings for SASL_SSL, else none.
function security() {
  if (cfg.securityProtocol === 'PLAINTEXT') return {}
  if (cfg.securityProtocol !== 'SASL_SSL') {
    configError = `COMPAT_SECURITY_PROTOCOL=${cfg.securityProtocol}: the scenario supports PLAINTEXT and SASL_SSL`
    return {}
  }
  if (!cfg.saslUsername || !cfg.saslPassword || !cfg.sslCA) {
    configError = 'SASL_SSL needs COMPAT_SASL_USERNAME, COMPAT_SASL_PASSWORD and COMPAT_SSL_CA'
    return {}
  }
  let ca
  try {
    ca = fs.readFileSync(cfg.sslCA, 'utf-8')
  } catch (e) {
    configError = `COMPAT_SSL_CA: ${e.message}`
    return {}
  }
  return {
    ssl: { ca: [ca] },
    sasl: { mechanism: cfg.saslMechanism, username: cfg.saslUsername, password: cfg.saslPassword },
  }
}

const kafka = new Kafka({
  clientId: `octopus-compat-${CLIENT}`,
  brokers: [cfg.bootstrap],
  logLevel: cfg.debug ? logLevel.DEBUG : logLevel.WARN,
  logCreator,
  ...security(),
})

const deadline = started + cfg.timeout * 1000
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function until(what, cond, failed = () => null) {
  while (!cond()) {
    const f = failed()
    if (f) throw new Error(`${what}: ${f}`)
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${cfg.timeout}s`)
    await sleep(20)
  }
}

async function createTopic() {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      topics: [{ topic: cfg.topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    })
    if (!created) throw new Error(`topic ${cfg.topic} already existed`)
  } finally {
    await admin.disconnect()
  }
}

// produce sends records lo..hi-1 in one send with acks=-1. kafkajs
// acknowledges each partition's batch with its base offset; a record's
// offset is the base plus its place among the records sent to that
// partition, which the same partitioner decides.
async function produce(lo, hi) {
  ledger.sent = Math.max(ledger.sent, hi)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const messages = []
    for (let i = lo; i < hi; i++) {
      messages.push({ key: `key-${i}`, value: `value-${i}`, headers: Object.fromEntries(headersOf(i)) })
    }
    const partitioner = Partitioners.DefaultPartitioner()
    const partitionMetadata = [...Array(PARTITIONS).keys()].map(p => ({ partitionId: p, leader: 0 }))
    const placed = messages.map(message => partitioner({ topic: cfg.topic, partitionMetadata, message }))
    const acks = await producer.send({ topic: cfg.topic, acks: -1, messages })
    const base = new Map(acks.map(a => [a.partition, Number(a.baseOffset)]))
    const next = new Map()
    for (let j = 0; j < messages.length; j++) {
      const p = placed[j]
      if (!base.has(p)) throw new Error(`no acknowledgement for partition ${p}`)
      const k = next.get(p) || 0
      next.set(p, k + 1)
      ledger.acks.set(lo + j, [p, base.get(p) + k])
    }
    for (let i = lo; i < hi; i++) ledger.produced.add(i)
  } finally {
    await producer.disconnect()
  }
  log(`produced ${hi - lo}`)
}

// consume runs one member until its part is done, then disconnects it
// (leaving the group). It resolves to an error string, or null.
function consume(member) {
  const consumer = kafka.consumer({ groupId: cfg.group })
  let crashed = null
  consumer.on(consumer.events.CRASH, e => {
    crashed = `consumer crashed: ${e.payload.error && e.payload.error.message}`
  })
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const parts = (e.payload.memberAssignment || {})[cfg.topic] || []
    member.assignment = new Set(parts)
  })
  const run = (async () => {
    await consumer.connect()
    await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
        let last = null
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break
          const rec = {
            partition: batch.partition,
            offset: Number(message.offset),
            key: message.key === null ? null : message.key.toString(),
            value: message.value === null ? null : message.value.toString(),
            headers: Object.entries(message.headers || {}).map(([k, v]) => [k, v === undefined || v === null ? null : v.toString()]),
          }
          if (!member.process(rec)) break
          resolveOffset(message.offset) // advances the fetch position
          last = message.offset
        }
        if (last !== null) {
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }])
        }
      },
    })
    await until(`member ${member.name}`, () => member.done(), () => crashed)
    await consumer.disconnect()
    return crashed
  })()
  member.failed = () => crashed
  return run
}

const stable = (a, b) =>
  a.assignment.size > 0 && b.assignment.size > 0 &&
  [...a.assignment].every(p => !b.assignment.has(p)) &&
  new Set([...a.assignment, ...b.assignment]).size === PARTITIONS

async function step(what, promise) {
  try {
    return await promise
  } catch (e) {
    throw new Error(`${what}: ${e.message}`)
  }
}

async function scenario() {
  if (configError) throw new Error(configError)
  await step('step 1, create topic', createTopic())
  log(`created topic ${cfg.topic}`)

  const a = new Member('A')
  const b = new Member('B')
  const ra = consume(a)
  const rb = consume(b)
  ra.catch(() => {})
  rb.catch(() => {})
  await step('step 2, members A and B join', until('group not stable', () => stable(a, b), () => a.failed() || b.failed()))
  log(`group stable: A ${[...a.assignment]}, B ${[...b.assignment]}`)

  await step(`step 2, produce ${cfg.records}`, produce(0, cfg.records))
  let err = await step('step 3, member A', ra)
  if (err) throw new Error(`step 3, member A: ${err}`)
  ledger.aLeftAt = Date.now()
  log(`A processed ${a.n} and left`)
  err = await step('step 3, member B', rb)
  if (err) throw new Error(`step 3, member B: ${err}`)
  log(`B processed ${b.n} (${ledger.takenOver} on A's partitions)`)

  await step(`step 4, produce ${cfg.more} more`, produce(cfg.records, cfg.records + cfg.more))
  const c = new Member('C')
  err = await step('step 4, member C', consume(c))
  if (err) throw new Error(`step 4, member C: ${err}`)
  log(`C processed ${c.n}`)
}

function emit(res) {
  process.stdout.write(JSON.stringify(res) + '\n', () => process.exit(res.ok ? 0 : 1))
}

const timer = setTimeout(() => emit(result(`scenario timed out after ${cfg.timeout}s`)), cfg.timeout * 1000 + 5000)
scenario().then(
  () => { clearTimeout(timer); emit(result(null)) },
  e => { clearTimeout(timer); log(e.stack); emit(result(e.message)) },
)
