package test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMemberEnv makes the test binary run as one consumer-group member
// (see runGroupMember), so a test can SIGKILL a real client process.
const groupMemberEnv = "OCTOPUS_TEST_GROUP_MEMBER"

const (
	killGroup      = "kill-group"
	killTopic      = "kill-topic"
	killPartitions = 6
	// memberSession is the smallest session Kafka's defaults allow
	// (group.min.session.timeout.ms = 6000).
	memberSession = 6 * time.Second
)

// runGroupMember consumes killTopic in killGroup from the broker at spec,
// committing after every poll, and reports on stdout: "owns P,P,..." after
// every assignment change and "got VALUE" per record.
func runGroupMember(spec string) int {
	var mu sync.Mutex
	owned := map[int32]bool{}
	report := func() {
		var ps []string
		for p := range owned {
			ps = append(ps, strconv.Itoa(int(p)))
		}
		sort.Strings(ps)
		fmt.Printf("owns %s\n", strings.Join(ps, ","))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(spec), kgo.ConsumerGroup(killGroup), kgo.ConsumeTopics(killTopic),
		kgo.SessionTimeout(memberSession), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[killTopic] {
				owned[p] = true
			}
			report()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			cl.CommitMarkedOffsets(ctx)
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m[killTopic] {
				delete(owned, p)
			}
			report()
		}),
		kgo.AutoCommitMarks())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			fmt.Printf("got %s\n", r.Value)
			cl.MarkCommitRecords(r)
		})
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "commit:", err)
		}
	}
	return 0
}

// member is a group-member process and what it has reported.
type member struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	owns []string
	got  map[string]bool
	done chan struct{}
}

func startMember(t *testing.T, addr string) *member {
	t.Helper()
	m := &member{got: map[string]bool{}, done: make(chan struct{})}
	m.cmd = exec.Command(os.Args[0], "-test.run=^$")
	m.cmd.Env = append(os.Environ(), groupMemberEnv+"="+addr)
	m.cmd.Stderr = os.Stderr
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			m.mu.Lock()
			switch {
			case strings.HasPrefix(line, "owns "):
				m.owns = nil
				if s := strings.TrimPrefix(line, "owns "); s != "" {
					m.owns = strings.Split(s, ",")
				}
			case strings.HasPrefix(line, "got "):
				m.got[strings.TrimPrefix(line, "got ")] = true
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-m.done
		m.cmd.Wait()
	})
	return m
}

func (m *member) owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.owns...)
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// TestGroupMemberKilled: three member processes share six partitions; one
// is SIGKILLed; the survivors own all six once its session expires, consume
// everything produced afterwards, and the committed offsets survive a
// SIGKILL of the broker.
func TestGroupMemberKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	brk := startChild(t, dir, "--group-initial-rebalance-delay", "0s")
	adm := kadm.NewClient(newKgo(t, brk.Addr()))
	if _, err := adm.CreateTopic(ctx, killPartitions, 1, nil, killTopic); err != nil {
		t.Fatal(err)
	}
	ms := []*member{startMember(t, brk.Addr()), startMember(t, brk.Addr()), startMember(t, brk.Addr())}
	total := func(ms []*member) int {
		n := 0
		for _, m := range ms {
			select {
			case <-m.done:
				t.Fatalf("a member process exited early")
			default:
			}
			if len(m.owned()) == 0 {
				return -1
			}
			n += len(m.owned())
		}
		return n
	}
	defer func() {
		if t.Failed() {
			for i, m := range ms {
				t.Logf("member %d owns %v", i, m.owned())
			}
		}
	}()
	waitFor(t, time.Minute, "three members sharing six partitions", func() bool { return total(ms) == killPartitions })

	if err := ms[2].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, memberSession+30*time.Second, "the survivors to own every partition", func() bool { return total(ms[:2]) == killPartitions })
	t.Logf("partitions reassigned %v after SIGKILL (session timeout %v)", took.Round(time.Millisecond), memberSession)
	if took > memberSession+5*time.Second {
		t.Errorf("reassignment took %v, more than the %v session timeout plus 5 s for the rebalance", took, memberSession)
	}

	prod := newKgo(t, brk.Addr(), kgo.DefaultProduceTopic(killTopic))
	const n = 600
	for i := 0; i < n; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the survivors to consume every record", func() bool {
		seen := 0
		for i := 0; i < n; i++ {
			v := strconv.Itoa(i)
			ms[0].mu.Lock()
			a := ms[0].got[v]
			ms[0].mu.Unlock()
			ms[1].mu.Lock()
			b := ms[1].got[v]
			ms[1].mu.Unlock()
			if a || b {
				seen++
			}
		}
		return seen == n
	})
	// Commits follow each poll; wait until they cover every record.
	var committed int64
	waitFor(t, 30*time.Second, "commits covering every record", func() bool {
		offs, err := adm.FetchOffsets(ctx, killGroup)
		if err != nil {
			return false
		}
		committed = 0
		offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
		return committed == n
	})
	for _, m := range ms[:2] {
		m.cmd.Process.Kill()
	}

	brk.Kill() // acknowledged commits are on disk (--fsync always), so SIGKILL loses none
	brk = startChild(t, dir)
	adm = kadm.NewClient(newKgo(t, brk.Addr()))
	offs, err := adm.FetchOffsets(ctx, killGroup)
	if err != nil {
		t.Fatal(err)
	}
	var after int64
	offs.Each(func(o kadm.OffsetResponse) { after += o.At })
	if after != committed {
		t.Fatalf("committed offsets sum to %d after the restart, %d before", after, committed)
	}
}
