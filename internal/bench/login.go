package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ModeLogin rows count SASL logins: Records is the number of completed
// logins, so records/s is logins per second, and Latency is per login.
const ModeLogin Mode = "login"

// LoginConfig describes a SASL login measurement: Connections goroutines
// each open a TCP connection, run SaslHandshake and the SaslAuthenticate
// exchange of Mechanism, then close, over and over for Duration. The
// client's side of SCRAM (PBKDF2 of the password, as every Kafka client
// computes it per login) runs in this process and shares the machine.
type LoginConfig struct {
	Brokers     []string // the first is used
	Mechanism   string   // SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN
	User, Pass  string
	Connections int           // default 4
	Duration    time.Duration // default 5 s

	Label    string
	Workload string // default "login <Mechanism> x<Connections>"
}

// Login measures SASL logins per second against a broker.
func Login(ctx context.Context, cfg LoginConfig) (Result, error) {
	if len(cfg.Brokers) == 0 {
		return Result{}, errors.New("bench: no brokers")
	}
	if cfg.Mechanism == "" {
		cfg.Mechanism = "SCRAM-SHA-512"
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	if cfg.Workload == "" {
		cfg.Workload = fmt.Sprintf("login %s x%d", cfg.Mechanism, cfg.Connections)
	}
	var mech sasl.Mechanism
	switch strings.ToUpper(cfg.Mechanism) {
	case "SCRAM-SHA-512":
		mech = scram.Auth{User: cfg.User, Pass: cfg.Pass}.AsSha512Mechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: cfg.User, Pass: cfg.Pass}.AsSha256Mechanism()
	case "PLAIN":
		mech = plain.Auth{User: cfg.User, Pass: cfg.Pass}.AsMechanism()
	default:
		return Result{}, fmt.Errorf("bench: login: unknown mechanism %q", cfg.Mechanism)
	}
	// One login first, so a wrong password fails fast instead of as errors.
	if err := loginOnce(ctx, cfg.Brokers[0], mech); err != nil {
		return Result{}, fmt.Errorf("bench: login: %w", err)
	}

	hist := NewHistogram()
	var logins, failures atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The clock, not only ctx, ends the run: a login that fails at
			// the deadline must not count before ctx's timer has fired.
			for ctx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				if err := loginOnce(ctx, cfg.Brokers[0], mech); err != nil {
					if ctx.Err() != nil || !time.Now().Before(end) {
						return
					}
					failures.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				hist.Record(time.Since(t0))
				logins.Add(1)
			}
		}()
	}
	wg.Wait()
	res := Result{
		Mode: ModeLogin, Label: cfg.Label, Workload: cfg.Workload, Clients: cfg.Connections,
		Records: logins.Load(), Errors: failures.Load(), Elapsed: time.Since(start),
		Latency: hist.Summary(),
	}
	if firstErr != nil {
		return res, fmt.Errorf("bench: login: %d failed, first: %w", failures.Load(), firstErr)
	}
	return res, nil
}

// loginOnce connects, authenticates with mech and closes.
func loginOnce(ctx context.Context, addr string, mech sasl.Mechanism) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	// Close with a reset: thousands of logins a second would otherwise fill
	// the ephemeral port range with TIME_WAIT sockets.
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	var corr int32
	roundTrip := func(req kmsg.Request) (kmsg.Response, error) {
		corr++
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("octopus-bench"))
		if _, err := nc.Write(f.AppendRequest(nil, req, corr)); err != nil {
			return nil, err
		}
		var size [4]byte
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return nil, err
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, body); err != nil {
			return nil, err
		}
		resp := req.ResponseKind()
		resp.SetVersion(req.GetVersion())
		body = body[4:] // correlation id
		if resp.IsFlexible() {
			body = body[1:] // header tags
		}
		return resp, resp.ReadFrom(body)
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(1)
	hs.Mechanism = mech.Name()
	resp, err := roundTrip(hs)
	if err != nil {
		return err
	}
	if code := resp.(*kmsg.SASLHandshakeResponse).ErrorCode; code != 0 {
		return fmt.Errorf("SaslHandshake error %d", code)
	}
	sess, msg, err := mech.Authenticate(ctx, addr)
	if err != nil {
		return err
	}
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SetVersion(1)
		req.SASLAuthBytes = msg
		resp, err := roundTrip(req)
		if err != nil {
			return err
		}
		ar := resp.(*kmsg.SASLAuthenticateResponse)
		if ar.ErrorCode != 0 {
			m := ""
			if ar.ErrorMessage != nil {
				m = *ar.ErrorMessage
			}
			return fmt.Errorf("SaslAuthenticate error %d: %s", ar.ErrorCode, m)
		}
		done, next, err := sess.Challenge(ar.SASLAuthBytes)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		msg = next
	}
}
