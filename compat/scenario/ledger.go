package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxNotes bounds how many individual problems a result lists.
const maxNotes = 5

// ledger is the run's account of what was produced and what each member
// processed. Its mutex guards everything; members call it from the
// clients' goroutines.
type ledger struct {
	cfg Config

	mu        sync.Mutex
	sent      int              // records 0..sent-1 were handed to the producer
	produced  map[int]bool     // acknowledged (or, without acks, sent without error)
	acks      map[int]position // i → acknowledged position, where known
	seen      map[int][]sighting
	unseen    [2]int // records of each production not yet processed
	consumed  int
	bad       int
	notes     []string
	aParts    map[int32]bool // partitions A processed from
	aLeftAt   time.Time
	takenOver int
	handover  time.Duration
	members   []*Member
}

type position struct {
	partition int32
	offset    int64
}

func (p position) String() string { return fmt.Sprintf("p%d@%d", p.partition, p.offset) }

// sighting is one processing of a record.
type sighting struct {
	member string
	pos    position
}

func newLedger(cfg Config) *ledger {
	return &ledger{
		cfg:      cfg,
		produced: make(map[int]bool),
		acks:     make(map[int]position),
		seen:     make(map[int][]sighting),
		unseen:   [2]int{cfg.Records, cfg.More},
		aParts:   make(map[int32]bool),
	}
}

// Key and Value of record i.
func Key(i int) string   { return "key-" + strconv.Itoa(i) }
func Value(i int) string { return "value-" + strconv.Itoa(i) }

// sending notes that records up to to are about to be produced, so that a
// member may see them before the producer has its acknowledgements.
func (l *ledger) sending(to int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = max(l.sent, to)
}

func (l *ledger) expected(i int) *Record {
	return &Record{Partition: -1, Offset: -1, Key: Key(i), Value: Value(i), Headers: l.cfg.Headers(i)}
}

func (l *ledger) acked(recs []*Record, all bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.Key, "key-"))
		if r.Partition >= 0 {
			l.acks[i] = position{r.Partition, r.Offset}
			l.produced[i] = true
		} else if all {
			l.produced[i] = true
		}
	}
}

func (l *ledger) member(name string) *Member {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := &Member{Name: name, Config: l.cfg, l: l}
	l.members = append(l.members, m)
	return m
}

// left records that member A has closed.
func (l *ledger) left() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.aLeftAt = time.Now()
}

func (l *ledger) noteLocked(format string, args ...any) {
	if len(l.notes) < maxNotes {
		l.notes = append(l.notes, fmt.Sprintf(format, args...))
	}
}

// Member is one consumer in the group: A, B or the restarted C.
type Member struct {
	Name   string
	Config Config
	l      *ledger
	n      int // records processed; guarded by l.mu
}

// Process records that the member processed r. It returns false, and
// records nothing, when the member must not process r: A stops at
// LeaveAfter records, and what it did not process it must not commit.
func (m *Member) Process(r Record) bool {
	l := m.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.Name == "A" && m.n >= l.cfg.LeaveAfter {
		return false
	}
	m.n++
	l.consumed++
	pos := position{r.Partition, r.Offset}
	i, err := strconv.Atoi(strings.TrimPrefix(r.Key, "key-"))
	if err != nil || !strings.HasPrefix(r.Key, "key-") || i < 0 || i >= l.sent {
		l.bad++
		l.noteLocked("%s got an unexpected record at %v: key %q", m.Name, pos, r.Key)
		return true
	}
	want := l.expected(i)
	switch {
	case r.Value != want.Value:
		l.bad++
		l.noteLocked("record %d at %v: value %q, want %q", i, pos, r.Value, want.Value)
	case !slices.Equal(r.Headers, want.Headers):
		l.bad++
		l.noteLocked("record %d at %v: headers %v, want %v", i, pos, r.Headers, want.Headers)
	}
	if len(l.seen[i]) == 0 {
		l.unseen[m.batch(i)]--
	}
	l.seen[i] = append(l.seen[i], sighting{m.Name, pos})
	switch m.Name {
	case "A":
		l.aParts[r.Partition] = true
	case "B":
		if l.aParts[r.Partition] {
			if l.takenOver == 0 && !l.aLeftAt.IsZero() {
				l.handover = max(0, time.Since(l.aLeftAt))
			}
			l.takenOver++
		}
	}
	return true
}

func (m *Member) batch(i int) int {
	if i < m.l.cfg.Records {
		return 0
	}
	return 1
}

// Done reports whether the member has finished its part and must commit,
// close and return: A after LeaveAfter records, B once every one of the
// first Records records was processed (by A or B) and A has left, C once
// it has processed every one of the More records.
func (m *Member) Done() bool {
	l := m.l
	l.mu.Lock()
	defer l.mu.Unlock()
	switch m.Name {
	case "A":
		return m.n >= l.cfg.LeaveAfter || l.unseen[0] == 0
	case "B":
		return l.unseen[0] == 0 && !l.aLeftAt.IsZero()
	default:
		return l.unseen[1] == 0
	}
}

func (m *Member) count() int {
	m.l.mu.Lock()
	defer m.l.mu.Unlock()
	return m.n
}

func (l *ledger) result(err error) Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := Result{Client: l.cfg.Client, Produced: len(l.produced), Consumed: l.consumed, Bad: l.bad,
		TakenOver: l.takenOver, HandoverMS: l.handover.Milliseconds()}
	counts := map[string]int{}
	for _, m := range l.members {
		counts[m.Name] = m.n
	}
	res.A, res.B, res.C = counts["A"], counts["B"], counts["C"]

	// Positions: each record where it was acknowledged, or (without acks)
	// no two records at one position.
	ids := make([]int, 0, len(l.seen))
	for i := range l.seen {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	owner := make(map[position]int)
	for _, i := range ids {
		for _, s := range l.seen[i] {
			if ack, ok := l.acks[i]; ok {
				if s.pos != ack {
					res.Bad++
					l.noteLocked("record %d processed by %s at %v, acknowledged at %v", i, s.member, s.pos, ack)
				}
			} else if j, taken := owner[s.pos]; taken && j != i {
				res.Bad++
				l.noteLocked("records %d and %d both consumed at %v", j, i, s.pos)
			} else {
				owner[s.pos] = i
			}
		}
	}
	for _, i := range ids {
		if by := l.seen[i]; len(by) > 1 {
			res.Duplicates += len(by) - 1
			var who []string
			for _, s := range by {
				who = append(who, s.member)
			}
			l.noteLocked("record %d (%s) processed %d times, by %s", i, l.where(i), len(by), strings.Join(who, ","))
		}
	}
	var missing []int
	for i := 0; i < l.cfg.Records+l.cfg.More; i++ {
		if l.produced[i] && len(l.seen[i]) == 0 {
			missing = append(missing, i)
		}
	}
	res.Missing = len(missing)
	if len(missing) > 0 {
		l.noteLocked("missing records (first of %d): %s", len(missing), l.describe(missing))
	}

	if err == nil {
		switch {
		case res.A != l.cfg.LeaveAfter:
			err = fmt.Errorf("member A processed %d records, want %d", res.A, l.cfg.LeaveAfter)
		case res.TakenOver == 0:
			err = fmt.Errorf("no handover: after A left, B processed nothing on A's partitions %v", keys(l.aParts))
		case res.Duplicates > 0 || res.Missing > 0 || res.Bad > 0:
			err = fmt.Errorf("%d duplicates, %d missing, %d bad records", res.Duplicates, res.Missing, res.Bad)
		}
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.OK = err == nil
	res.Notes = strings.Join(l.notes, "; ")
	return res
}

func (l *ledger) where(i int) string {
	if p, ok := l.acks[i]; ok {
		return p.String()
	}
	return "unacknowledged position"
}

func (l *ledger) describe(ids []int) string {
	var parts []string
	for _, i := range ids[:min(len(ids), 5)] {
		parts = append(parts, fmt.Sprintf("%d (%s)", i, l.where(i)))
	}
	return strings.Join(parts, ", ")
}

func keys(m map[int32]bool) []int32 {
	var out []int32
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
