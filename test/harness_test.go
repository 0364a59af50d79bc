// Package test holds Octopus's black-box tests: real Kafka clients (franz-go,
// sarama, kcat) talk to the broker over TCP, both in-process and as a child
// `octopus serve` process, and the tests look only at what a client or an
// operator can see (records, error codes, logs, files in the data dir).
package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv"
)

// Timeouts for every wait in the harness. The child is built with -race when
// the tests are, which makes it several times slower to start and serve.
const (
	buildTimeout = 5 * time.Minute
	readyTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	killTimeout  = 10 * time.Second
)

var bin struct {
	once sync.Once
	dir  string // temp dir holding the binary; removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(groupMemberEnv); spec != "" {
		os.Exit(runGroupMember(spec)) // this process is a consumer for a group test
	}
	code := m.Run()
	testenv.StopKafka()
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

// octopusBinary builds ./cmd/octopus once per test run (with -race when the
// tests run with -race) and returns its path.
func octopusBinary(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "octopus-test-bin-")
		if bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "octopus")
		args := []string{"build", "-o", bin.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/octofabric/octopus/cmd/octopus")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			bin.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if bin.err != nil {
		t.Fatalf("building octopus: %v", bin.err)
	}
	return bin.path
}

// logSink collects log output (a child's stderr, an in-process broker's
// slog handler) so tests can search it and dump its tail on failure.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Lines returns the complete lines written so far.
func (s *logSink) Lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	} else {
		return nil
	}
	return strings.Split(text, "\n")
}

// Tail returns the last n lines, for failure messages.
func (s *logSink) Tail(n int) string {
	lines := s.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Grep returns the lines matching re.
func (s *logSink) Grep(re *regexp.Regexp) []string {
	var out []string
	for _, l := range s.Lines() {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// lineWriter calls onLine for every complete line written to it.
type lineWriter struct {
	mu     sync.Mutex
	buf    []byte
	onLine func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.onLine(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// child is an `octopus serve` process.
type child struct {
	t     *testing.T
	dir   string
	cmd   *exec.Cmd
	kafka string
	http  string
	logs  *logSink // stdout and stderr

	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

var (
	readyRE     = regexp.MustCompile(`\bmsg="?ready\b`)
	kafkaAddrRE = regexp.MustCompile(`\bkafka="?([0-9.]+:[0-9]+)`)
	httpAddrRE  = regexp.MustCompile(`\bhttp="?([0-9.]+:[0-9]+)`)
)

// startChild starts `octopus serve` on dir with loopback listeners on
// ephemeral ports plus args, and waits for its readiness line. t.Cleanup
// kills it if it is still running and reports any data race it printed.
func startChild(t *testing.T, dir string, args ...string) *child {
	t.Helper()
	path := octopusBinary(t)
	full := append([]string{"serve",
		"--data-dir", dir,
		"--kafka-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0",
	}, args...)
	c := &child{t: t, dir: dir, logs: new(logSink), done: make(chan struct{})}
	ready := make(chan [2]string, 1)
	var readyOnce sync.Once
	lw := &lineWriter{onLine: func(line string) {
		c.logs.Write([]byte(line + "\n"))
		if !readyRE.MatchString(line) {
			return
		}
		k, h := kafkaAddrRE.FindStringSubmatch(line), httpAddrRE.FindStringSubmatch(line)
		if k == nil || h == nil {
			return
		}
		readyOnce.Do(func() { ready <- [2]string{k[1], h[1]} })
	}}
	c.cmd = exec.Command(path, full...)
	c.cmd.Stdout = lw
	c.cmd.Stderr = lw
	c.cmd.Stdin = nil
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start octopus: %v", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		if !c.exited() {
			c.cmd.Process.Signal(syscall.SIGKILL)
			c.wait(killTimeout)
		}
		c.checkRaces()
		if t.Failed() {
			t.Logf("octopus serve %s: last log lines:\n%s", dir, c.logs.Tail(40))
		}
	})

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case addrs := <-ready:
		c.kafka, c.http = addrs[0], addrs[1]
	case <-c.done:
		t.Fatalf("octopus serve exited before ready (%v); log:\n%s", c.waitErr, c.logs.Tail(40))
	case <-timer.C:
		t.Fatalf("octopus serve not ready after %v; log:\n%s", readyTimeout, c.logs.Tail(40))
	}
	return c
}

// Addr is the Kafka listener's host:port.
func (c *child) Addr() string { return c.kafka }

// HTTPAddr is the HTTP listener's host:port.
func (c *child) HTTPAddr() string { return c.http }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-c.done:
		return true
	case <-timer.C:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (c *child) Kill() {
	c.t.Helper()
	if c.exited() {
		c.t.Fatalf("octopus serve had already exited (%v); log:\n%s", c.waitErr, c.logs.Tail(40))
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	if !c.wait(killTimeout) {
		c.t.Fatalf("octopus serve still running %v after SIGKILL", killTimeout)
	}
}

// Stop sends SIGTERM, waits for a graceful exit and asserts it exited 0.
func (c *child) Stop() {
	c.t.Helper()
	if c.exited() {
		c.t.Fatalf("octopus serve had already exited (%v); log:\n%s", c.waitErr, c.logs.Tail(40))
	}
	start := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if !c.wait(stopTimeout) {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.wait(killTimeout)
		c.t.Fatalf("octopus serve did not exit within %v of SIGTERM; log:\n%s", stopTimeout, c.logs.Tail(40))
	}
	if c.waitErr != nil {
		c.t.Errorf("octopus serve after SIGTERM (%v): %v; log:\n%s", time.Since(start).Round(time.Millisecond), c.waitErr, c.logs.Tail(40))
	}
	c.checkRaces()
}

func (c *child) checkRaces() {
	c.t.Helper()
	if strings.Contains(c.logs.String(), "WARNING: DATA RACE") {
		c.t.Errorf("octopus serve reported a data race:\n%s", c.logs.String())
	}
}

// httpGet fetches a path from the child's HTTP listener.
func (c *child) httpGet(path string) (int, string, error) {
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + c.http + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(body), err
}

// waitClosed reads from conn until the peer closes it, failing if it stays
// open longer than d or sends anything.
func waitClosed(conn net.Conn, d time.Duration) error {
	conn.SetReadDeadline(time.Now().Add(d))
	var buf [512]byte
	n, err := conn.Read(buf[:])
	switch {
	case n > 0:
		return fmt.Errorf("got %d bytes, want the connection closed", n)
	case err == nil:
		return errors.New("read returned nothing and no error")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("connection still open after %v", d)
	}
	return nil // io.EOF, ECONNRESET: closed
}
