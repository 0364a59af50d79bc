package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/octofabric/octopus/compat/franzgo"
	"github.com/octofabric/octopus/compat/ibmsarama"
	"github.com/octofabric/octopus/compat/kafkago"
	kcatcompat "github.com/octofabric/octopus/compat/kcat"
	"github.com/octofabric/octopus/compat/scenario"
)

// The compatibility matrix: every client runs the scenario of
// compat/README.md against its own `octopus serve` child process, once in
// each security mode (compatModes): PLAINTEXT, and SASL_SSL with the
// SCRAM-SHA-512 administrator that --tls-auto creates.
// OCTOPUS_WRITE_COMPAT=1 writes the results to docs/COMPATIBILITY.md;
// OCTOPUS_COMPAT_DEBUG=1 turns on the clients' protocol and group debug
// logs, shown when a client fails; OCTOPUS_COMPAT_LOGDIR=DIR keeps each
// client's whole log in DIR/<client>[-<mode>].log; OCTOPUS_COMPAT_CLIENTS=a,b
// runs only those clients and OCTOPUS_COMPAT_SECURITY=PLAINTEXT|SASL_SSL
// only that mode.

// compatTimeout bounds one client's whole scenario.
const compatTimeout = 150 * time.Second

// compatMode is a security mode of the matrix: how the child broker
// listens and how the clients connect.
type compatMode struct {
	name  string   // subtest name and OCTOPUS_COMPAT_SECURITY value
	label string   // in docs/COMPATIBILITY.md
	args  []string // `octopus serve` flags beyond the common ones
	// secure: the first listener is SASL_SSL and the clients log in as the
	// administrator of DATA_DIR/admin.properties.
	secure bool
}

// compatModes are run for every client. The SASL_SSL broker also has the
// loopback PLAINTEXT listener startChild asks for, after SASL_SSL; the
// clients only know the SASL_SSL one.
var compatModes = []compatMode{
	{name: "PLAINTEXT", label: "PLAINTEXT"},
	{name: "SASL_SSL", label: "SASL_SSL SCRAM-SHA-512", args: []string{"--listener", "SASL_SSL://127.0.0.1:0", "--tls-auto"}, secure: true},
}

// compatClient is a client of the matrix.
type compatClient struct {
	name, lang string
	// module is a Go client's module path: test binaries carry no
	// dependency versions, so the version comes from `go list -m`.
	module string
	// missing says what runtime dependency is absent, or "".
	missing func(root string) string
	// knownBug, if set, says why a failed run is a known bug of this
	// client version rather than Octopus's, or "". The run still shows as
	// failing in docs/COMPATIBILITY.md, with the reason, but does not fail
	// the test; any other failure does.
	knownBug func(mode compatMode, res scenario.Result) string
	// run runs the scenario; it returns the result and the client's log
	// (its stderr, or debug output), shown if it fails.
	run func(ctx context.Context, root string, cfg scenario.Config, debug bool) (scenario.Result, string)
}

// compatRow is a finished client in one mode, for the generated document.
type compatRow struct {
	client  compatClient
	mode    compatMode
	res     scenario.Result
	skipped string
	broker  []string // problems the broker-side check found
	known   string   // a failure's known client bug (compatClient.knownBug)
	log     string   // the client's log
	elapsed time.Duration
}

var compatClients = []compatClient{
	{name: "franz-go", lang: "Go", module: franzgo.Module, run: func(ctx context.Context, _ string, cfg scenario.Config, debug bool) (scenario.Result, string) {
		var log logSink
		return franzgo.Run(ctx, cfg, debugWriter(&log, debug)), log.String()
	}},
	{name: "sarama", lang: "Go", module: ibmsarama.Module, run: func(ctx context.Context, _ string, cfg scenario.Config, debug bool) (scenario.Result, string) {
		var log logSink
		return ibmsarama.Run(ctx, cfg, debugWriter(&log, debug)), log.String()
	}},
	{name: "kafka-go", lang: "Go", module: kafkago.Module, run: func(ctx context.Context, _ string, cfg scenario.Config, debug bool) (scenario.Result, string) {
		var log logSink
		return kafkago.Run(ctx, cfg, debugWriter(&log, debug)), log.String()
	}},
	{name: "kcat", lang: "C (librdkafka)",
		missing:  func(string) string { return lookPath("kcat", "scripts/install-test-deps.sh") },
		knownBug: librdkafkaScramNonce,
		run: func(ctx context.Context, _ string, cfg scenario.Config, debug bool) (scenario.Result, string) {
			var log logSink
			o := kcatcompat.Options{Log: &log}
			if debug {
				o.Debug = "cgrp,protocol"
			}
			return kcatcompat.Run(ctx, cfg, o), log.String()
		}},
	pythonClient("confluent-kafka", "confluent_kafka", "confluent-kafka"),
	pythonClient("kafka-python", "kafka", "kafka-python"),
	pythonClient("aiokafka", "aiokafka", "aiokafka"),
	{name: "kafkajs", lang: "JavaScript (Node.js)",
		missing: func(root string) string {
			if m := lookPath("node", "Node.js 18 or later"); m != "" {
				return m
			}
			return needFile(root, "compat/node/node_modules/kafkajs/package.json")
		},
		run: func(ctx context.Context, root string, cfg scenario.Config, debug bool) (scenario.Result, string) {
			return runProgram(ctx, cfg, debug, filepath.Join(root, "compat/node"), "node", "kafkajs/scenario.js")
		}},
	{name: "kafka-clients", lang: "Java",
		missing: func(root string) string {
			if m := lookPath("java", "a Java 17 runtime"); m != "" {
				return m
			}
			return needBuild(root, "compat/java/src/main/java/octopus/compat/Scenario.java", "compat/java/target/classes/octopus/compat/Scenario.class")
		},
		run: func(ctx context.Context, root string, cfg scenario.Config, debug bool) (scenario.Result, string) {
			return runProgram(ctx, cfg, debug, filepath.Join(root, "compat/java"),
				"java", "-cp", "target/classes:target/lib/*", "octopus.compat.Scenario")
		}},
}

// pythonClient runs compat/python/<dir>/scenario.py in the venv that
// scripts/install-compat-deps.sh makes.
func pythonClient(name, module, dir string) compatClient {
	return compatClient{name: name, lang: "Python",
		missing: func(root string) string {
			py := filepath.Join(root, "compat/python/.venv/bin/python")
			if m := needFile(root, "compat/python/.venv/bin/python"); m != "" {
				return m
			}
			if out, err := exec.Command(py, "-c", "import "+module).CombinedOutput(); err != nil {
				return fmt.Sprintf("python module %s not installed in compat/python/.venv (run scripts/install-compat-deps.sh): %v: %s", module, err, out)
			}
			return ""
		},
		run: func(ctx context.Context, root string, cfg scenario.Config, debug bool) (scenario.Result, string) {
			return runProgram(ctx, cfg, debug, filepath.Join(root, "compat/python"),
				".venv/bin/python", dir+"/scenario.py")
		}}
}

// librdkafkaScramNonce recognises librdkafka's SCRAM bug: before 2.6.1 it
// sends the client nonce twice in the client-final message (client nonce +
// the combined nonce; confluentinc/librdkafka#4895). RFC 5802 requires the
// combined nonce exactly; Apache Kafka 4 and Octopus refuse it ("nonce
// mismatch"), Kafka 3.8.1–3.9 accepted it. Debian's kcat is linked with an
// older librdkafka; confluent-kafka's wheel bundles a fixed one.
func librdkafkaScramNonce(mode compatMode, res scenario.Result) string {
	if !mode.secure || !strings.Contains(res.Error, "nonce mismatch") {
		return ""
	}
	m := regexp.MustCompile(`librdkafka (\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(res.Version)
	if m == nil {
		return ""
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	if v[0] > 2 || v[0] == 2 && (v[1] > 6 || v[1] == 6 && v[2] >= 1) {
		return ""
	}
	return fmt.Sprintf("SCRAM login refused, \"SCRAM-SHA-512 authentication failed: nonce mismatch\": librdkafka %s.%s.%s repeats the client nonce in the client-final message, a known bug fixed in librdkafka 2.6.1 (confluentinc/librdkafka#4895); RFC 5802, Apache Kafka 4 and Octopus refuse that message", m[1], m[2], m[3])
}

func lookPath(bin, hint string) string {
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Sprintf("%s not on PATH (install: %s)", bin, hint)
	}
	return ""
}

func needFile(root, rel string) string {
	if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
		return fmt.Sprintf("%s missing (run scripts/install-compat-deps.sh)", rel)
	}
	return ""
}

// needBuild is needFile for a build output, which must also be newer than
// its source: a stale Scenario.class would run an old scenario.
func needBuild(root, src, out string) string {
	if m := needFile(root, out); m != "" {
		return m
	}
	si, err1 := os.Stat(filepath.Join(root, src))
	oi, err2 := os.Stat(filepath.Join(root, out))
	if err1 == nil && err2 == nil && si.ModTime().After(oi.ModTime()) {
		return fmt.Sprintf("%s is older than %s (run scripts/install-compat-deps.sh)", out, src)
	}
	return ""
}

// debugWriter is s when debugging, else a nil io.Writer (not a nil
// *logSink, which the clients would take for a writer).
func debugWriter(s *logSink, debug bool) io.Writer {
	if !debug {
		return nil
	}
	return s
}

// runProgram runs a client program in dir with the scenario in COMPAT_*
// variables and parses the JSON line it prints last.
func runProgram(ctx context.Context, cfg scenario.Config, debug bool, dir string, argv ...string) (scenario.Result, string) {
	bin := argv[0]
	if strings.HasPrefix(bin, ".") {
		bin = filepath.Join(dir, bin)
	}
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"COMPAT_BOOTSTRAP="+cfg.Bootstrap,
		"COMPAT_TOPIC="+cfg.Topic,
		"COMPAT_GROUP="+cfg.Group,
		"COMPAT_RECORDS="+strconv.Itoa(cfg.Records),
		"COMPAT_MORE="+strconv.Itoa(cfg.More),
		"COMPAT_LEAVE_AFTER="+strconv.Itoa(cfg.LeaveAfter),
		"COMPAT_TIMEOUT="+strconv.Itoa(int(cfg.Timeout.Seconds())),
		"COMPAT_DEBUG="+map[bool]string{true: "1", false: "0"}[debug],
	)
	cmd.Env = append(cmd.Env, cfg.Security.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()

	var res scenario.Result
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil {
		res = scenario.Result{Error: fmt.Sprintf("no result line (%v): %v; stdout: %q", err, jerr, tail(stdout.String(), 5))}
	} else if err != nil && res.OK {
		res.OK, res.Error = false, fmt.Sprintf("printed ok but exited: %v", err)
	} else if err == nil && !res.OK {
		res.Error += " (and exited 0)"
	}
	return res, stderr.String()
}

func TestCompat(t *testing.T) {
	if testing.Short() {
		t.Skip("the client compatibility matrix is not run with -short")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	only, onlyModes := envSet("OCTOPUS_COMPAT_CLIENTS"), envSet("OCTOPUS_COMPAT_SECURITY")
	debug := os.Getenv("OCTOPUS_COMPAT_DEBUG") == "1"
	start := time.Now()

	// rows[client][mode] are written by the parallel subtests and read
	// after t.Run("clients") has returned, which waits for all of them.
	rows := make([][]*compatRow, len(compatClients))
	for i := range rows {
		rows[i] = make([]*compatRow, len(compatModes))
	}
	t.Run("clients", func(t *testing.T) {
		for j, mode := range compatModes {
			if len(onlyModes) > 0 && !onlyModes[mode.name] {
				continue
			}
			t.Run(mode.name, func(t *testing.T) {
				t.Parallel()
				for i, c := range compatClients {
					if len(only) > 0 && !only[c.name] {
						continue
					}
					row := &compatRow{client: c, mode: mode}
					row.res.Error = "no result: the test failed before the client finished (see the test log)"
					rows[i][j] = row
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						began := time.Now()
						defer func() { row.elapsed = time.Since(began) }()
						if c.missing != nil {
							if why := c.missing(root); why != "" {
								row.skipped = why
								if os.Getenv("CI") != "" {
									t.Fatalf("%s: runtime dependency missing under CI: %s", c.name, why)
								}
								t.Skipf("%s: %s", c.name, why)
							}
						}
						runCompat(t, root, row, debug)
					})
				}
			})
		}
	})

	var done []*compatRow // client by client, each in every mode
	for _, byMode := range rows {
		for _, r := range byMode {
			if r != nil {
				done = append(done, r)
			}
		}
	}
	took := time.Since(start)
	for _, line := range compatSummary(done) {
		t.Logf("summary: %s", line)
	}
	t.Logf("the matrix took %s", took.Round(100*time.Millisecond))
	if os.Getenv("OCTOPUS_WRITE_COMPAT") == "1" && (len(only) > 0 || len(onlyModes) > 0) {
		t.Logf("OCTOPUS_WRITE_COMPAT: not writing docs/COMPATIBILITY.md from a partial run (OCTOPUS_COMPAT_CLIENTS or OCTOPUS_COMPAT_SECURITY is set)")
	} else if os.Getenv("OCTOPUS_WRITE_COMPAT") == "1" {
		path := filepath.Join(root, "docs/COMPATIBILITY.md")
		if err := os.WriteFile(path, []byte(compatDoc(done, took, root)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// envSet is the comma-separated names in the environment variable.
func envSet(name string) map[string]bool {
	set := map[string]bool{}
	for _, n := range strings.Split(os.Getenv(name), ",") {
		if n = strings.TrimSpace(n); n != "" {
			set[n] = true
		}
	}
	return set
}

// runCompat runs row's client against a fresh child broker in row's mode,
// checks from the broker's side what the client says it did, and fills in
// the row.
func runCompat(t *testing.T, root string, row *compatRow, debug bool) {
	dir := t.TempDir()
	b := startChild(t, dir, append([]string{"--group-initial-rebalance-delay", "0s", "--auto-create-topics=false"}, row.mode.args...)...)
	addr := b.Addr()
	var sec scenario.Security // PLAINTEXT
	if row.mode.secure {
		// As an operator would: the bootstrap address, the administrator
		// and the CA from DATA_DIR/admin.properties.
		p := readServeAdminProps(t, dir)
		addr = p.props["bootstrap.servers"]
		sec = scenario.Security{
			Protocol:  p.props["security.protocol"],
			Mechanism: p.props["sasl.mechanism"],
			Username:  p.user,
			Password:  p.password,
			CAFile:    p.props["ssl.truststore.location"],
		}
		if err := sec.Validate(); err != nil || !sec.Secure() {
			t.Fatalf("admin.properties does not describe a SASL_SSL SCRAM-SHA-512 client (%v):\n%s", err, p.raw)
		}
	}
	row.res, row.broker, row.log = runCompatAt(t, root, row.client, sec, debug, addr)
	if !row.res.OK && row.client.knownBug != nil {
		row.known = row.client.knownBug(row.mode, row.res)
	}
	if !row.res.OK && row.known == "" {
		hint := ""
		if !debug {
			hint = " (rerun with OCTOPUS_COMPAT_DEBUG=1 for the client's protocol log)"
		}
		t.Errorf("%s failed: %s\nnotes: %s\nclient log (last 80 lines)%s:\n%s", row.client.name, row.res.Error, row.res.Notes, hint, tail(row.log, 80))
	} else if row.known != "" {
		t.Logf("%s failed, a known client bug: %s\nerror: %s", row.client.name, row.known, row.res.Error)
	}
}

// runCompatAt runs one client against the broker at addr, connecting as
// sec says.
func runCompatAt(t *testing.T, root string, c compatClient, sec scenario.Security, debug bool, addr string) (scenario.Result, []string, string) {
	cfg := scenario.Config{
		Bootstrap:   addr,
		Security:    sec,
		Topic:       "compat-" + c.name,
		Group:       "compat-" + c.name + "-group",
		Records:     300,
		More:        100,
		LeaveAfter:  50,
		CreateTopic: true,
		Timeout:     compatTimeout - 10*time.Second,
		Logf:        t.Logf,
	}
	ctx, cancel := context.WithTimeout(context.Background(), compatTimeout)
	defer cancel()
	res, log := c.run(ctx, root, cfg, debug)
	if dir := os.Getenv("OCTOPUS_COMPAT_LOGDIR"); dir != "" {
		name := c.name
		if sec.Secure() {
			name += "-" + sec.Protocol
		}
		path := filepath.Join(dir, name+".log")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Error(err)
		} else if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("client log: %s", path)
	}
	if res.Client == "" {
		res.Client = c.name
	}
	if c.module != "" && (res.Version == "" || res.Version == "unknown") {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", c.module).Output()
		if err != nil {
			t.Errorf("go list -m %s: %v", c.module, err)
		}
		res.Version = strings.TrimSpace(string(out))
	}
	line, _ := json.Marshal(res)
	t.Logf("result: %s", line)

	broker := brokerCheck(t, addr, cfg, res)
	for _, p := range broker {
		t.Errorf("broker-side check: %s", p)
	}
	if res.OK && debug {
		t.Logf("client log (last 20 lines):\n%s", tail(log, 20))
	}
	return res, broker, log
}

// brokerCheck compares the topic's end offsets and the group's committed
// offsets and state with the client's report: everything produced is
// committed, and the group is empty. It connects as the client did
// (cfg.Security).
func brokerCheck(t *testing.T, addr string, cfg scenario.Config, res scenario.Result) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts, err := cfg.Security.KgoOpts()
	if err != nil {
		return []string{fmt.Sprintf("broker-side client: %v", err)}
	}
	adm := kadm.NewClient(newKgo(t, addr, opts...))
	var problems []string
	ends, err := adm.ListEndOffsets(ctx, cfg.Topic)
	if err != nil {
		return []string{fmt.Sprintf("ListEndOffsets: %v", err)}
	}
	var total int64
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			problems = append(problems, fmt.Sprintf("end offset of %s[%d]: %v", o.Topic, o.Partition, o.Err))
		}
		end[o.Partition] = o.Offset
		total += o.Offset
	})
	if len(end) != scenario.Partitions {
		problems = append(problems, fmt.Sprintf("topic has %d partitions, want %d", len(end), scenario.Partitions))
	}
	if int(total) != res.Produced {
		problems = append(problems, fmt.Sprintf("topic holds %d records, the client reports %d produced", total, res.Produced))
	}
	if !res.OK {
		return problems // the rest only holds for a run that finished
	}
	committed, err := adm.FetchOffsets(ctx, cfg.Group)
	if err != nil {
		return append(problems, fmt.Sprintf("OffsetFetch: %v", err))
	}
	for p, e := range end {
		o, ok := committed.Lookup(cfg.Topic, p)
		if !ok || o.At != e {
			problems = append(problems, fmt.Sprintf("%s[%d]: committed %d (found %v), end offset %d", cfg.Topic, p, o.At, ok, e))
		}
	}
	groups, err := adm.DescribeGroups(ctx, cfg.Group)
	if err != nil {
		return append(problems, fmt.Sprintf("DescribeGroups: %v", err))
	}
	if g := groups[cfg.Group]; g.State != "Empty" || len(g.Members) != 0 {
		problems = append(problems, fmt.Sprintf("group %s is %s with %d members after every member closed, want Empty", cfg.Group, g.State, len(g.Members)))
	}
	return problems
}

// compatDoc renders docs/COMPATIBILITY.md.
func compatDoc(rows []*compatRow, took time.Duration, root string) string {
	var b strings.Builder
	race := ""
	if raceEnabled {
		race = " -race"
	}
	commit := "unknown commit"
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = "commit " + strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			commit += " with uncommitted changes"
		}
	}
	fmt.Fprintf(&b, `# Client compatibility

<!-- Generated by TestCompat (test/compat_test.go). Do not edit: rerun the
command below and commit the result. -->

Generated %s by
`+"`OCTOPUS_WRITE_COMPAT=1 go test%s -count=1 -run TestCompat ./test/`"+`
(%s/%s, %s, Octopus %s) in %s.

Every client ran the same scenario (specified in `+"`compat/README.md`"+`)
twice, each time against its own
`+"`octopus serve --group-initial-rebalance-delay 0s`"+` child process:

- **PLAINTEXT**: a loopback PLAINTEXT listener, no authentication;
- **SASL_SSL SCRAM-SHA-512**: `+"`--listener SASL_SSL://127.0.0.1:0 --tls-auto`"+`;
  the client trusts the generated `+"`DATA_DIR/tls/ca.crt`"+` and logs in as the
  administrator whose SCRAM-SHA-512 credential `+"`octopus serve`"+` creates,
  reading the address, user, password and CA from `+"`DATA_DIR/admin.properties`"+`
  (authorization is on; the administrator is a super user).

The scenario:

1. create a topic with 3 partitions through the client's admin API;
2. start two consumers A and B in one group and wait until both hold
   partitions, then produce 300 records with keys and headers (acks=all)
   and keep the acknowledged partition and offset of each;
3. A processes 50 records, commits exactly those and closes (leaving the
   group); B, committing after each batch, must be handed A's partitions
   and process the rest;
4. with both closed, produce 100 more; a new consumer C in the same group
   must receive exactly those 100, resuming from the committed offsets;
5. every record processed exactly once, at its acknowledged position, with
   its key, value and headers; then, from the broker's side, the group's
   committed offsets equal the end offsets and the group is Empty.

%s
| Client | Language | Version | Security | Result | Notes |
|---|---|---|---|---|---|
`, time.Now().UTC().Format("2006-01-02 15:04 MST"), race, runtime.GOOS, runtime.GOARCH, runtime.Version(), commit, took.Round(time.Second),
		"- "+strings.Join(compatSummary(rows), ".\n- ")+".\n")
	for _, r := range rows {
		result, notes := "pass", ""
		switch {
		case r.skipped != "":
			result, notes = "not run", r.skipped
		case !r.res.OK || len(r.broker) > 0:
			result = "**FAIL**"
			notes = r.res.Error
			if r.known != "" { // the whole error is in the test log
				result = "**FAIL** (client bug)"
				notes = r.known
			}
			if r.res.Notes != "" {
				notes += "; " + r.res.Notes
			}
			for _, p := range r.broker {
				notes += "; broker-side check: " + p
			}
		default:
			notes = fmt.Sprintf("A %d, B %d (%d on A's partitions, the first %d ms after A closed), C %d",
				r.res.A, r.res.B, r.res.TakenOver, r.res.HandoverMS, r.res.C)
			if r.res.Notes != "" {
				notes += "; " + r.res.Notes
			}
		}
		notes += fmt.Sprintf(" (%s)", r.elapsed.Round(100*time.Millisecond))
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.client.name, r.client.lang, mdCell(r.res.Version), r.mode.label, result, mdCell(notes))
	}
	b.WriteString(`
A handover waits for the client to learn of the rebalance: its next
heartbeat (every 3 s by default in most clients) or, in clients that
heartbeat between fetches or add partitions only between fetches (kafkajs,
franz-go), the end of an in-flight fetch long-poll (5 s by default).

Versions are pinned: the Go clients in go.mod, the Python packages in
compat/python/requirements.txt, kafkajs in compat/node/package-lock.json,
the Java client in compat/java/pom.xml; kcat is Debian's package.
scripts/install-compat-deps.sh installs them.
`)
	return b.String()
}

// compatSummary is, per mode, how many clients passed, failed and were
// not run.
func compatSummary(rows []*compatRow) []string {
	var out []string
	for _, m := range compatModes {
		var n, pass, fail, known, skip int
		for _, r := range rows {
			if r.mode.name != m.name {
				continue
			}
			n++
			switch {
			case r.skipped != "":
				skip++
			case r.res.OK && len(r.broker) == 0:
				pass++
			default:
				fail++
				if r.known != "" && len(r.broker) == 0 {
					known++
				}
			}
		}
		if n == 0 {
			continue
		}
		line := fmt.Sprintf("%s: %d of %d clients pass", m.label, pass, n)
		if fail > 0 {
			line += fmt.Sprintf(", %d fail", fail)
			if known > 0 {
				line += fmt.Sprintf(" (%d of them a known client bug)", known)
			}
		}
		if skip > 0 {
			line += fmt.Sprintf(", %d not run", skip)
		}
		out = append(out, line)
	}
	return out
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
