package broker

import (
	"sync"
	"time"
)

// authFailures slows down repeated failed authentications from one address:
// the answer to a failure waits base, doubled for each earlier failure from
// the same host in the last minute, up to maxAuthDelay. Kafka waits a fixed
// connection.failed.authentication.delay.ms; the doubling makes password
// guessing from one address cost seconds per try.
//
// Concurrency: one mutex guards hosts.
type authFailures struct {
	base time.Duration

	mu    sync.Mutex
	hosts map[string]authFailure
}

type authFailure struct {
	count int
	last  time.Time
}

const (
	maxAuthDelay      = 5 * time.Second
	authFailureWindow = time.Minute
	maxTrackedHosts   = 100_000 // bounds memory under a spray of addresses
)

func newAuthFailures(base time.Duration) *authFailures {
	return &authFailures{base: base, hosts: make(map[string]authFailure)}
}

// fail records a failure from host and returns how long to wait before
// answering it.
func (f *authFailures) fail(host string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.hosts[host]
	if now.Sub(e.last) > authFailureWindow {
		e.count = 0
	}
	e.count++
	e.last = now
	if len(f.hosts) >= maxTrackedHosts {
		f.pruneLocked(now)
	}
	f.hosts[host] = e
	d := f.base
	for i := 1; i < e.count && d < maxAuthDelay; i++ {
		d *= 2
	}
	return min(d, maxAuthDelay)
}

// succeed forgets host's failures.
func (f *authFailures) succeed(host string) {
	f.mu.Lock()
	delete(f.hosts, host)
	f.mu.Unlock()
}

func (f *authFailures) pruneLocked(now time.Time) {
	for h, e := range f.hosts {
		if now.Sub(e.last) > authFailureWindow {
			delete(f.hosts, h)
		}
	}
	if len(f.hosts) >= maxTrackedHosts {
		clear(f.hosts) // all recent: start over rather than grow
	}
}
