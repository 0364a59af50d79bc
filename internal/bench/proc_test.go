package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	// Lines from a real /proc/PID/status (Linux 6.x), trimmed.
	status := "Name:\toctopus\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1987644 kB\nVmSize:\t 1922108 kB\n" +
		"VmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\nRssAnon:\t   40000 kB\nThreads:\t12\n"
	m, err := parseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 65432<<10 || m.HWM != 123456<<10 {
		t.Fatalf("got %+v", m)
	}
	if _, err := parseStatus(strings.NewReader("Name:\tkthreadd\nState:\tS (sleeping)\n")); err == nil {
		t.Error("no error for a status without memory lines")
	}
	if _, err := parseStatus(strings.NewReader("VmRSS:\t12 MB\nVmHWM:\t13 kB\n")); err == nil {
		t.Error("no error for a unit other than kB")
	}
}

func TestMemoryResultsSelf(t *testing.T) {
	rs, err := MemoryResults(os.Getpid(), "self", "now")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Workload != "memory VmRSS now" || rs[1].Workload != "memory VmHWM now" ||
		rs[0].Value <= 0 || rs[1].Value < rs[0].Value || rs[0].Unit != "MiB" || rs[0].Mode != ModeMemory {
		t.Fatalf("got %+v", rs)
	}
}

// TestProcStart checks the start time of a process started now against the
// boot clock: it must lie within the kernel's 10 ms resolution (plus
// scheduling slack) of when it was started.
func TestProcStart(t *testing.T) {
	before, err := sinceBoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	after, _ := sinceBoot()
	start, err := procStart(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if start < before-10*time.Millisecond || start > after {
		t.Fatalf("start %v, not in [%v, %v]", start, before-10*time.Millisecond, after)
	}
	if _, err := procStart(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestReadyKfake(t *testing.T) {
	brokers := newKfake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The broker runs in this test process, so its start is the process's.
	pidFile := filepath.Join(t.TempDir(), "pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Ready(ctx, ReadyConfig{Addr: brokers[0], PIDFile: pidFile, Label: "kfake"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeReady || res.Workload != "start to ready" || res.Unit != "ms" || res.Value <= 0 {
		t.Fatalf("got %+v", res)
	}
	t.Log(res.Summary())

	// Nothing listens: bounded by the timeout.
	start := time.Now()
	if _, err := Ready(ctx, ReadyConfig{Addr: "127.0.0.1:1", PID: os.Getpid(), Timeout: 200 * time.Millisecond}); err == nil {
		t.Error("ready on a closed port")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timeout took %v", time.Since(start))
	}
}
