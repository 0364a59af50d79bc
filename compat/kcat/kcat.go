// Package kcat runs the compatibility scenario (compat/scenario) with kcat,
// librdkafka's command-line client, as separate processes: `kcat -P` to
// produce and one `kcat -G` (librdkafka's KafkaConsumer with its default
// range/roundrobin assignors and automatic offset commits) per group
// member. kcat has no admin API, so the topic is created with franz-go's
// admin client, and it cannot put a different header on each record
// (`-H` applies to all), so every record carries client=kcat and the
// phase it was produced in. Member A is `kcat -G -c K`: it exits after K
// messages, committing their offsets as it closes; B and C are stopped
// with SIGTERM, on which kcat closes the consumer (commit, leave).
package kcat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/octofabric/octopus/compat/scenario"
)

// outputFormat is what each consumer prints per message: partition,
// offset, key, headers (n=v,…) and value.
const outputFormat = `%p\t%o\t%k\t%h\t%s\n`

// stopWait bounds how long kcat may take to close after SIGTERM.
const stopWait = 30 * time.Second

// Options configure a run.
type Options struct {
	Path  string    // kcat binary; "" = "kcat" on PATH
	Debug string    // librdkafka debug contexts (-d), e.g. "cgrp,protocol"
	Log   io.Writer // kcat's stderr; nil = kept only for errors
}

// Run runs the scenario with kcat.
func Run(ctx context.Context, cfg scenario.Config, o Options) scenario.Result {
	cfg.Client = "kcat"
	if o.Path == "" {
		o.Path = "kcat"
	}
	n := cfg.Records
	if n == 0 {
		n = 300
	}
	cfg.Headers = func(i int) []scenario.Header {
		return []scenario.Header{{Key: "client", Value: "kcat"}, {Key: "phase", Value: strconv.Itoa(1 + min(1, i/n))}}
	}
	version, err := Version(o.Path)
	if err == nil {
		err = cfg.Security.Validate() // the defaults, before the -X settings are made
	}
	if err != nil {
		return scenario.Result{Client: cfg.Client, Version: version, Error: err.Error()}
	}
	res := scenario.Run(ctx, cfg, version, &driver{o: o, cfg: cfg})
	res.Notes = strings.TrimPrefix(res.Notes+"; topic created by the harness (kcat has no admin API); one fixed header set per produce run (-H)", "; ")
	return res
}

var versionRE = regexp.MustCompile(`Version (\S+) .*librdkafka (\S+)`)

// Version is "kcat X (librdkafka Y)" from `kcat -V`.
func Version(path string) (string, error) {
	out, err := exec.Command(path, "-V").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s -V: %v: %s", path, err, out)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s -V: no version in %q", path, out)
	}
	return fmt.Sprintf("%s (librdkafka %s)", m[1], m[2]), nil
}

type driver struct {
	o   Options
	cfg scenario.Config
}

func (d *driver) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	return scenario.CreateTopic(ctx, d.cfg, topic, partitions)
}

// security is librdkafka's configuration for the run's security mode.
func security(s scenario.Security) []string {
	if !s.Secure() {
		return nil
	}
	return []string{
		"-X", "security.protocol=" + s.Protocol,
		"-X", "sasl.mechanisms=" + s.Mechanism,
		"-X", "sasl.username=" + s.Username,
		"-X", "sasl.password=" + s.Password,
		"-X", "ssl.ca.location=" + s.CAFile,
	}
}

// command is kcat with the broker, the security settings and args.
func (d *driver) command(ctx context.Context, args ...string) (*exec.Cmd, *tail) {
	args = append(append([]string{"-b", d.cfg.Bootstrap}, security(d.cfg.Security)...), args...)
	if d.o.Debug != "" {
		args = append([]string{"-d", d.o.Debug}, args...)
	}
	cmd := exec.CommandContext(ctx, d.o.Path, args...)
	stderr := &tail{}
	cmd.Stderr = stderr
	if d.o.Log != nil {
		cmd.Stderr = io.MultiWriter(stderr, d.o.Log)
	}
	cmd.WaitDelay = stopWait
	return cmd, stderr
}

// Produce pipes key<TAB>value lines into `kcat -P` with acks=all. kcat
// reports no offsets, so the records stay unacknowledged in the ledger,
// which then checks only that no two records share a position.
func (d *driver) Produce(ctx context.Context, topic string, recs []*scenario.Record) error {
	args := []string{"-P", "-t", topic, "-K", `\t`, "-X", "acks=all"}
	for _, h := range recs[0].Headers {
		args = append(args, "-H", h.Key+"="+h.Value)
	}
	var in bytes.Buffer
	for _, r := range recs {
		fmt.Fprintf(&in, "%s\t%s\n", r.Key, r.Value)
	}
	cmd, stderr := d.command(ctx, args...)
	cmd.Stdin = &in
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kcat -P: %v; stderr:\n%s", err, stderr)
	}
	if e := stderr.errors(); e != "" {
		return fmt.Errorf("kcat -P reported errors:\n%s", e)
	}
	return nil
}

// Consume runs one `kcat -G` process and feeds its output to m.
func (d *driver) Consume(ctx context.Context, m *scenario.Member) error {
	args := []string{"-G", m.Config.Group, "-X", "auto.offset.reset=earliest",
		"-f", outputFormat, "-u"}
	if m.Name == "A" {
		args = append(args, "-c", strconv.Itoa(m.Config.LeaveAfter))
	}
	args = append(args, m.Config.Topic)
	cmd, stderr := d.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	lines := make(chan error, 1)
	// Wait only after the last read: Wait closes the pipe, and a read still
	// in progress would fail with "file already closed" (os/exec).
	go func() {
		lines <- d.read(stdout, m)
		exited <- cmd.Wait()
	}()

	var readErr error
	stop := time.NewTicker(20 * time.Millisecond)
	defer stop.Stop()
	signalled := false
	for {
		select {
		case readErr = <-lines:
			lines = nil
			continue
		case err := <-exited:
			if lines != nil {
				readErr = <-lines
			}
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				return fmt.Errorf("kcat -G exited: %v; stderr:\n%s", err, stderr)
			case readErr != nil:
				return readErr
			case !m.Done():
				return fmt.Errorf("kcat -G exited before its part was done; stderr:\n%s", stderr)
			}
			if e := stderr.errors(); e != "" {
				return fmt.Errorf("kcat -G reported errors:\n%s", e)
			}
			return nil
		case <-stop.C:
			if !signalled && m.Name != "A" && m.Done() {
				cmd.Process.Signal(syscall.SIGTERM) // close: commit and leave
				signalled = true
			}
		}
	}
}

func (d *driver) read(r io.Reader, m *scenario.Member) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 5)
		if len(f) != 5 {
			return fmt.Errorf("kcat output %q: want 5 tab-separated fields", sc.Text())
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("kcat output %q: %v", sc.Text(), err)
		}
		rec := scenario.Record{Partition: int32(p), Offset: o, Key: f[2], Value: f[4]}
		if f[3] != "" {
			for _, kv := range strings.Split(f[3], ",") {
				k, v, _ := strings.Cut(kv, "=")
				rec.Headers = append(rec.Headers, scenario.Header{Key: k, Value: v})
			}
		}
		if !m.Process(rec) {
			return fmt.Errorf("member %s printed a record beyond its limit: %q", m.Name, sc.Text())
		}
	}
	return sc.Err()
}

// tail keeps a process's stderr (the last 64 KiB).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 64<<10 {
		t.buf = t.buf[len(t.buf)-64<<10:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// errors returns kcat's error lines ("% ERROR: …", "%3|…|FAIL|…").
func (t *tail) errors() string {
	var out []string
	for _, l := range strings.Split(t.String(), "\n") {
		if strings.Contains(l, "ERROR") || strings.HasPrefix(l, "%3|") || strings.HasPrefix(l, "%2|") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
