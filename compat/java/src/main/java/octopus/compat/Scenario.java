package octopus.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The compatibility scenario (compat/README.md) with the Apache Kafka Java
 * client: Admin for the topic, a KafkaProducer with its defaults (acks=all,
 * idempotent), and two KafkaConsumers in threads with the default assignors
 * (range, cooperative-sticky; the classic group protocol) and
 * enable.auto.commit=false, committing exactly the processed offsets with
 * commitSync after each poll. Configured by COMPAT_* environment variables;
 * prints one JSON line and exits 0 only for a clean run. Under
 * COMPAT_SECURITY_PROTOCOL=SASL_SSL every client gets security.protocol,
 * sasl.mechanism, sasl.jaas.config (ScramLoginModule) and a PEM truststore.
 * COMPAT_DEBUG=1 logs the client at DEBUG to stderr.
 */
public final class Scenario {
    static final String CLIENT = "kafka-clients";
    static final int PARTITIONS = 3;
    static final int MAX_NOTES = 5;

    // Configuration, from the environment.
    static final String BOOTSTRAP = env("COMPAT_BOOTSTRAP", "127.0.0.1:9092");
    static final String TOPIC = env("COMPAT_TOPIC", "compat-" + CLIENT);
    static final String GROUP = env("COMPAT_GROUP", "compat-" + CLIENT + "-group");
    static final int RECORDS = Integer.parseInt(env("COMPAT_RECORDS", "300"));
    static final int MORE = Integer.parseInt(env("COMPAT_MORE", "100"));
    static final int LEAVE_AFTER = Integer.parseInt(env("COMPAT_LEAVE_AFTER", "50"));
    static final int TIMEOUT = Integer.parseInt(env("COMPAT_TIMEOUT", "120"));
    static final boolean DEBUG = "1".equals(System.getenv("COMPAT_DEBUG"));
    static final String SECURITY_PROTOCOL = env("COMPAT_SECURITY_PROTOCOL", "PLAINTEXT").toUpperCase();
    static final String SASL_MECHANISM = env("COMPAT_SASL_MECHANISM", "SCRAM-SHA-512").toUpperCase();
    static final String SASL_USERNAME = env("COMPAT_SASL_USERNAME", "");
    static final String SASL_PASSWORD = env("COMPAT_SASL_PASSWORD", "");
    static final String SSL_CA = env("COMPAT_SSL_CA", "");
    static final long STARTED = System.nanoTime();
    static final long DEADLINE = STARTED + TimeUnit.SECONDS.toNanos(TIMEOUT);

    static String env(String name, String def) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? def : v;
    }

    static long remainingMs() {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(DEADLINE - System.nanoTime()));
    }

    static void log(String msg) {
        System.err.printf("[%s %.3f] %s%n", CLIENT, (System.nanoTime() - STARTED) / 1e9, msg);
    }

    static List<String[]> headers(int i) {
        return List.of(new String[] {"seq", Integer.toString(i)}, new String[] {"client", CLIENT});
    }

    /** A record as produced or consumed; partition -1 until acknowledged. */
    static final class Rec {
        int partition = -1;
        long offset = -1;
        final String key;
        final String value;
        final List<String[]> headers;

        Rec(String key, String value, List<String[]> headers) {
            this.key = key;
            this.value = value;
            this.headers = headers;
        }
    }

    static String pos(int p, long o) {
        return "p" + p + "@" + o;
    }

    /** What was produced and what each member processed. */
    static final class Ledger {
        int sent;
        final Set<Integer> produced = new HashSet<>();
        final Map<Integer, long[]> acks = new HashMap<>();
        final TreeMap<Integer, List<Object[]>> seen = new TreeMap<>(); // i -> [member, partition, offset]
        final int[] unseen = {RECORDS, MORE};
        int consumed;
        int bad;
        final List<String> notes = new ArrayList<>();
        final Set<Integer> aParts = new TreeSet<>();
        long aLeftAt = -1;
        int takenOver;
        long handoverMs;
        final List<Member> members = new ArrayList<>();

        synchronized void note(String msg) {
            if (notes.size() < MAX_NOTES) {
                notes.add(msg);
            }
        }

        synchronized List<Rec> records(int lo, int hi) {
            sent = Math.max(sent, hi);
            List<Rec> out = new ArrayList<>();
            for (int i = lo; i < hi; i++) {
                out.add(new Rec("key-" + i, "value-" + i, headers(i)));
            }
            return out;
        }

        synchronized void acked(List<Rec> recs, boolean ok) {
            for (Rec r : recs) {
                int i = Integer.parseInt(r.key.substring(4));
                if (r.partition >= 0) {
                    acks.put(i, new long[] {r.partition, r.offset});
                    produced.add(i);
                } else if (ok) {
                    produced.add(i);
                }
            }
        }

        synchronized Member member(String name) {
            Member m = new Member(this, name);
            members.add(m);
            return m;
        }

        synchronized void left() {
            aLeftAt = System.nanoTime();
        }

        String where(int i) {
            long[] a = acks.get(i);
            return a == null ? "unacknowledged position" : pos((int) a[0], a[1]);
        }

        synchronized String result(String version, String err) {
            Map<String, Integer> counts = new HashMap<>();
            for (Member m : members) {
                counts.put(m.name, m.n);
            }
            int a = counts.getOrDefault("A", 0);
            int b = counts.getOrDefault("B", 0);
            int c = counts.getOrDefault("C", 0);
            int badTotal = bad;
            Map<String, Integer> owner = new HashMap<>();
            for (Map.Entry<Integer, List<Object[]>> e : seen.entrySet()) {
                int i = e.getKey();
                for (Object[] s : e.getValue()) {
                    int p = (Integer) s[1];
                    long o = (Long) s[2];
                    long[] ack = acks.get(i);
                    if (ack != null) {
                        if (ack[0] != p || ack[1] != o) {
                            badTotal++;
                            note("record " + i + " processed by " + s[0] + " at " + pos(p, o) + ", acknowledged at " + pos((int) ack[0], ack[1]));
                        }
                    } else if (owner.containsKey(pos(p, o)) && owner.get(pos(p, o)) != i) {
                        badTotal++;
                        note("records " + owner.get(pos(p, o)) + " and " + i + " both consumed at " + pos(p, o));
                    } else {
                        owner.put(pos(p, o), i);
                    }
                }
            }
            int duplicates = 0;
            for (Map.Entry<Integer, List<Object[]>> e : seen.entrySet()) {
                List<Object[]> by = e.getValue();
                if (by.size() > 1) {
                    duplicates += by.size() - 1;
                    StringBuilder who = new StringBuilder();
                    for (Object[] s : by) {
                        who.append(who.length() > 0 ? "," : "").append(s[0]);
                    }
                    note("record " + e.getKey() + " (" + where(e.getKey()) + ") processed " + by.size() + " times, by " + who);
                }
            }
            List<Integer> missing = new ArrayList<>();
            for (int i = 0; i < RECORDS + MORE; i++) {
                if (produced.contains(i) && !seen.containsKey(i)) {
                    missing.add(i);
                }
            }
            if (!missing.isEmpty()) {
                StringBuilder first = new StringBuilder();
                for (int i : missing.subList(0, Math.min(5, missing.size()))) {
                    first.append(first.length() > 0 ? ", " : "").append(i).append(" (").append(where(i)).append(")");
                }
                note("missing records (first of " + missing.size() + "): " + first);
            }
            if (err == null) {
                if (a != LEAVE_AFTER) {
                    err = "member A processed " + a + " records, want " + LEAVE_AFTER;
                } else if (takenOver == 0) {
                    err = "no handover: after A left, B processed nothing on A's partitions " + aParts;
                } else if (duplicates > 0 || !missing.isEmpty() || badTotal > 0) {
                    err = duplicates + " duplicates, " + missing.size() + " missing, " + badTotal + " bad records";
                }
            }
            StringBuilder j = new StringBuilder("{");
            field(j, "client", CLIENT).append(',');
            field(j, "version", version).append(',');
            j.append("\"produced\":").append(produced.size()).append(',');
            j.append("\"consumed\":").append(consumed).append(',');
            j.append("\"duplicates\":").append(duplicates).append(',');
            j.append("\"missing\":").append(missing.size()).append(',');
            j.append("\"ok\":").append(err == null).append(',');
            field(j, "error", err == null ? "" : err).append(',');
            j.append("\"bad\":").append(badTotal).append(',');
            j.append("\"a\":").append(a).append(",\"b\":").append(b).append(',');
            j.append("\"taken_over\":").append(takenOver).append(",\"c\":").append(c).append(',');
            j.append("\"handover_ms\":").append(handoverMs);
            if (!notes.isEmpty()) {
                j.append(',');
                field(j, "notes", String.join("; ", notes));
            }
            return j.append('}').toString();
        }
    }

    static StringBuilder field(StringBuilder j, String name, String value) {
        j.append('"').append(name).append("\":\"");
        for (char ch : value.toCharArray()) {
            switch (ch) {
                case '"' -> j.append("\\\"");
                case '\\' -> j.append("\\\\");
                case '\n' -> j.append("\\n");
                default -> {
                    if (ch < 0x20) {
                        j.append(String.format("\\u%04x", (int) ch));
                    } else {
                        j.append(ch);
                    }
                }
            }
        }
        return j.append('"');
    }

    /** One consumer in the group: A, B or the restarted C. */
    static final class Member {
        final Ledger l;
        final String name;
        int n; // guarded by l
        final Set<Integer> assignment = new HashSet<>(); // guarded by l

        Member(Ledger l, String name) {
            this.l = l;
            this.name = name;
        }

        void assigned(Collection<TopicPartition> parts) {
            synchronized (l) {
                parts.forEach(tp -> assignment.add(tp.partition()));
            }
        }

        void revoked(Collection<TopicPartition> parts) {
            synchronized (l) {
                parts.forEach(tp -> assignment.remove(tp.partition()));
            }
        }

        /** Records that the member processed r; false (and nothing recorded) when it must not. */
        boolean process(ConsumerRecord<String, String> r) {
            synchronized (l) {
                if (name.equals("A") && n >= LEAVE_AFTER) {
                    return false;
                }
                n++;
                l.consumed++;
                String at = pos(r.partition(), r.offset());
                String key = r.key() == null ? "" : r.key();
                int i = -1;
                if (key.startsWith("key-")) {
                    try {
                        i = Integer.parseInt(key.substring(4));
                    } catch (NumberFormatException e) {
                        i = -1;
                    }
                }
                if (i < 0 || i >= l.sent) {
                    l.bad++;
                    l.note(name + " got an unexpected record at " + at + ": key " + r.key());
                    return true;
                }
                List<String[]> got = new ArrayList<>();
                for (Header h : r.headers()) {
                    got.add(new String[] {h.key(), h.value() == null ? null : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8)});
                }
                if (!("value-" + i).equals(r.value())) {
                    l.bad++;
                    l.note("record " + i + " at " + at + ": value " + r.value() + ", want value-" + i);
                } else if (!sameHeaders(got, headers(i))) {
                    l.bad++;
                    l.note("record " + i + " at " + at + ": headers " + render(got) + ", want " + render(headers(i)));
                }
                if (!l.seen.containsKey(i)) {
                    l.unseen[i < RECORDS ? 0 : 1]--;
                    l.seen.put(i, new ArrayList<>());
                }
                l.seen.get(i).add(new Object[] {name, r.partition(), r.offset()});
                if (name.equals("A")) {
                    l.aParts.add(r.partition());
                } else if (name.equals("B") && l.aParts.contains(r.partition())) {
                    if (l.takenOver == 0 && l.aLeftAt >= 0) {
                        l.handoverMs = Math.max(0, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - l.aLeftAt));
                    }
                    l.takenOver++;
                }
                return true;
            }
        }

        boolean done() {
            synchronized (l) {
                return switch (name) {
                    case "A" -> n >= LEAVE_AFTER || l.unseen[0] == 0;
                    case "B" -> l.unseen[0] == 0 && l.aLeftAt >= 0;
                    default -> l.unseen[1] == 0;
                };
            }
        }
    }

    static boolean sameHeaders(List<String[]> a, List<String[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int k = 0; k < a.size(); k++) {
            if (!a.get(k)[0].equals(b.get(k)[0]) || !String.valueOf(a.get(k)[1]).equals(b.get(k)[1])) {
                return false;
            }
        }
        return true;
    }

    static String render(List<String[]> hs) {
        StringBuilder s = new StringBuilder("[");
        for (String[] h : hs) {
            s.append(s.length() > 1 ? " " : "").append(h[0]).append('=').append(h[1]);
        }
        return s.append(']').toString();
    }

    static Properties props() {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        p.put("client.id", "octopus-compat-" + CLIENT);
        switch (SECURITY_PROTOCOL) {
            case "PLAINTEXT" -> { }
            case "SASL_SSL" -> {
                p.put("security.protocol", SECURITY_PROTOCOL);
                p.put("sasl.mechanism", SASL_MECHANISM);
                p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                        + jaasEscape(SASL_USERNAME) + "\" password=\"" + jaasEscape(SASL_PASSWORD) + "\";");
                p.put("ssl.truststore.type", "PEM");
                p.put("ssl.truststore.location", SSL_CA);
            }
            default -> throw new IllegalArgumentException("COMPAT_SECURITY_PROTOCOL=" + SECURITY_PROTOCOL + ": the scenario supports PLAINTEXT and SASL_SSL");
        }
        return p;
    }

    /** s as the inside of a quoted JAAS option value. */
    static String jaasEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    static void createTopic() throws Exception {
        try (Admin admin = Admin.create(props())) {
            admin.createTopics(List.of(new NewTopic(TOPIC, PARTITIONS, (short) 1))).all().get(remainingMs(), TimeUnit.MILLISECONDS);
        }
    }

    static void produce(List<Rec> recs) throws Exception {
        Properties p = props();
        p.put("acks", "all");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            for (Rec r : recs) {
                RecordHeaders hs = new RecordHeaders();
                for (String[] h : r.headers) {
                    hs.add(h[0], h[1].getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                acks.add(producer.send(new ProducerRecord<>(TOPIC, null, r.key, r.value, hs)));
            }
            producer.flush();
            for (int k = 0; k < recs.size(); k++) {
                RecordMetadata md = acks.get(k).get(remainingMs(), TimeUnit.MILLISECONDS);
                recs.get(k).partition = md.partition();
                recs.get(k).offset = md.offset();
            }
        }
    }

    static void consume(Member m) {
        Properties p = props();
        p.put("group.id", GROUP);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) { // close() leaves the group
            consumer.subscribe(List.of(TOPIC), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    m.revoked(parts);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    m.assigned(parts);
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> parts) {
                    m.revoked(parts);
                }
            });
            while (!m.done()) {
                if (System.nanoTime() > DEADLINE) {
                    throw new IllegalStateException("member " + m.name + ": scenario timed out after " + TIMEOUT + "s");
                }
                Map<TopicPartition, OffsetAndMetadata> processed = new HashMap<>();
                boolean stopped = false;
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    stopped = stopped || !m.process(r);
                    if (!stopped) {
                        processed.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                }
                if (!processed.isEmpty()) {
                    consumer.commitSync(processed);
                }
            }
        }
    }

    /** A member's thread; its failure is the scenario's. */
    static Thread start(Member m, AtomicReference<String> failed) {
        Thread t = new Thread(() -> {
            try {
                consume(m);
            } catch (Throwable e) {
                failed.compareAndSet(null, e.toString());
                e.printStackTrace();
            }
        }, "member-" + m.name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void await(Thread t, AtomicReference<String> failed, String what) throws InterruptedException {
        t.join(remainingMs());
        if (failed.get() != null) {
            throw new IllegalStateException(what + ": " + failed.get());
        }
        if (t.isAlive()) {
            throw new IllegalStateException(what + ": timed out after " + TIMEOUT + "s");
        }
    }

    static void produceStep(Ledger l, int lo, int hi, String step) {
        List<Rec> recs = l.records(lo, hi);
        try {
            produce(recs);
        } catch (Exception e) {
            l.acked(recs, false);
            throw new IllegalStateException(step + ", produce " + (hi - lo) + ": " + e, e);
        }
        l.acked(recs, true);
        log("produced " + (hi - lo));
    }

    static void run(Ledger l) throws Exception {
        try {
            createTopic();
        } catch (Exception e) {
            throw new IllegalStateException("step 1, create topic: " + e, e);
        }
        log("created topic " + TOPIC);

        Member a = l.member("A");
        Member b = l.member("B");
        AtomicReference<String> failA = new AtomicReference<>();
        AtomicReference<String> failB = new AtomicReference<>();
        Thread ta = start(a, failA);
        Thread tb = start(b, failB);
        while (true) {
            synchronized (l) {
                Set<Integer> union = new HashSet<>(a.assignment);
                union.addAll(b.assignment);
                if (!a.assignment.isEmpty() && !b.assignment.isEmpty() && union.size() == PARTITIONS
                        && a.assignment.size() + b.assignment.size() == PARTITIONS) {
                    log("group stable: A " + a.assignment + ", B " + b.assignment);
                    break;
                }
            }
            if (failA.get() != null || failB.get() != null) {
                throw new IllegalStateException("step 2, members A and B join: " + (failA.get() != null ? "A: " + failA.get() : "B: " + failB.get()));
            }
            if (System.nanoTime() > DEADLINE) {
                throw new IllegalStateException("step 2, members A and B join: group not stable (A holds " + a.assignment + ", B holds " + b.assignment + ")");
            }
            Thread.sleep(50);
        }

        produceStep(l, 0, RECORDS, "step 2");
        await(ta, failA, "step 3, member A");
        l.left();
        log("A processed " + a.n + " and left");
        await(tb, failB, "step 3, member B");
        log("B processed " + b.n + " (" + l.takenOver + " on A's partitions)");

        produceStep(l, RECORDS, RECORDS + MORE, "step 4");
        Member c = l.member("C");
        AtomicReference<String> failC = new AtomicReference<>();
        await(start(c, failC), failC, "step 4, member C");
        log("C processed " + c.n);
    }

    /** The client's version, from the properties file in its jar. */
    static String clientVersion() {
        Properties v = new Properties();
        try (var in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in != null) {
                v.load(in);
            }
        } catch (java.io.IOException e) {
            return "unknown";
        }
        return v.getProperty("version", "unknown");
    }

    public static void main(String[] args) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", DEBUG ? "debug" : "warn");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        Ledger l = new Ledger();
        String err = null;
        try {
            run(l);
        } catch (Throwable e) {
            err = e.getMessage() != null ? e.getMessage() : e.toString();
            e.printStackTrace();
        }
        String line = l.result(clientVersion(), err);
        System.out.println(line);
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(line.contains("\"ok\":true") ? 0 : 1);
    }
}
