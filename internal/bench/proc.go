package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"
)

// userHZ is the unit of the times in /proc/PID/stat (USER_HZ, 100 on every
// Linux architecture Go supports).
const userHZ = 100

// sinceBoot returns the time since boot on CLOCK_BOOTTIME, the clock the
// kernel stamps process start times with.
func sinceBoot() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, fmt.Errorf("bench: clock_gettime: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// procStart returns when process pid started, as time since boot, from
// field 22 of /proc/PID/stat: 10 ms resolution, truncated.
func procStart(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: process %d: %w", pid, err)
	}
	// Field 2, the command name, is in parentheses and may hold spaces or
	// parentheses itself; fields 3 onwards follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3
	if len(f) <= startField {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ticks, err := strconv.ParseUint(f[startField], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat starttime: %w", pid, err)
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// Memory is what /proc/PID/status says about a process's resident memory,
// in bytes.
type Memory struct {
	RSS int64 // VmRSS: resident now
	HWM int64 // VmHWM: the most ever resident ("high water mark")
}

// ReadMemory reads VmRSS and VmHWM of process pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, fmt.Errorf("bench: process %d: %w", pid, err)
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads VmRSS and VmHWM (in kB, that is KiB) from the text of
// /proc/PID/status.
func parseStatus(r io.Reader) (Memory, error) {
	var m Memory
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{}, fmt.Errorf("bench: status %s: %q", key, rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("bench: status %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if seen != 2 {
		return Memory{}, errors.New("bench: status has no VmRSS and VmHWM (a kernel thread or a zombie?)")
	}
	return m, nil
}

// MemoryResults returns two memory rows for process pid, named
// "memory VmRSS <phase>" and "memory VmHWM <phase>", in MiB.
func MemoryResults(pid int, label, phase string) ([]Result, error) {
	m, err := ReadMemory(pid)
	if err != nil {
		return nil, err
	}
	mk := func(what string, b int64) Result {
		return Result{Mode: ModeMemory, Label: label, Workload: "memory " + what + " " + phase,
			Value: float64(b) / (1 << 20), Unit: "MiB"}
	}
	return []Result{mk("VmRSS", m.RSS), mk("VmHWM", m.HWM)}, nil
}

// ReadyConfig describes a start-to-ready measurement: poll Addr with
// ApiVersions until it answers, then report the time from the broker
// process's start (as the kernel recorded it) to that answer.
type ReadyConfig struct {
	Addr string // host:port of the broker
	// PID is the broker process; if 0, it is read from PIDFile once the
	// broker has answered (so a script can start the poller first and the
	// broker after it, and no early answer is missed).
	PID     int
	PIDFile string
	Timeout time.Duration // give up after this long (default 60 s)
	Poll    time.Duration // pause between attempts (default 5 ms)

	Label    string
	Workload string // default "start to ready"
}

// Ready waits for the broker at cfg.Addr to answer ApiVersions and returns
// a ready row whose Value is the milliseconds from the process's start to
// the first good answer; on failure it returns no row (a zero Result). The start time has the kernel's 10 ms resolution
// (truncated) and the answer is seen within one Poll of being possible, so
// the figure is good to about ±10 ms.
func Ready(ctx context.Context, cfg ReadyConfig) (Result, error) {
	if cfg.Addr == "" {
		return Result{}, errors.New("bench: ready: no address")
	}
	if cfg.PID == 0 && cfg.PIDFile == "" {
		return Result{}, errors.New("bench: ready: need a PID or a PID file")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	if cfg.Workload == "" {
		cfg.Workload = "start to ready"
	}
	res := Result{Mode: ModeReady, Label: cfg.Label, Workload: cfg.Workload, Unit: "ms"}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	var readyAt time.Duration
	var last error
	for {
		err := apiVersions(ctx, cfg.Addr, 2*time.Second)
		if err == nil {
			if readyAt, err = sinceBoot(); err != nil {
				return Result{}, err
			}
			break
		}
		last = err
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("bench: %s not ready after %v: %w", cfg.Addr, cfg.Timeout, last)
		case <-time.After(cfg.Poll):
		}
	}

	pid := cfg.PID
	for pid == 0 {
		b, err := os.ReadFile(cfg.PIDFile)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
				return Result{}, fmt.Errorf("bench: pid file %s: %w", cfg.PIDFile, err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("bench: no pid file %s: %w", cfg.PIDFile, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	start, err := procStart(pid)
	if err != nil {
		return Result{}, err
	}
	if readyAt < start {
		return Result{}, fmt.Errorf("bench: process %d started after %s answered: another process listens there", pid, cfg.Addr)
	}
	res.Value = float64(readyAt-start) / float64(time.Millisecond)
	return res, nil
}

// apiVersions sends one ApiVersions v3 request to addr on a new connection
// and succeeds if the answer has error code 0.
func apiVersions(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))

	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "octopus-bench"
	req.ClientSoftwareVersion = "1"
	const corr = 1
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("octopus-bench")).AppendRequest(nil, req, corr)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		return fmt.Errorf("bench: ApiVersions response of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint32(body); got != corr {
		return fmt.Errorf("bench: ApiVersions response for correlation id %d", got)
	}
	// The ApiVersions response header is never flexible: the body follows
	// the correlation id.
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if err := resp.ReadFrom(body[4:]); err != nil {
		// A broker that does not serve v3 answers in v0 with an error code;
		// that still means it is up, but say what it said.
		return fmt.Errorf("bench: ApiVersions response: %w", err)
	}
	if resp.ErrorCode != 0 {
		return fmt.Errorf("bench: ApiVersions error code %d", resp.ErrorCode)
	}
	return nil
}
