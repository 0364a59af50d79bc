// Package broker is Octopus's embedded, single-node Kafka-wire broker.
//
// Concurrency model: the topic registry (topics.go) is guarded by one
// RWMutex, Broker.mu; partition logs synchronise themselves (internal/log).
// Each connection has one reader goroutine, one goroutine per in-flight
// request and one writer goroutine that writes responses in request order
// (conn.go). No lock is held while a handler waits (fsync, long-poll).
package broker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/octofabric/octopus/internal/auth/acl"
	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker/group"
	"github.com/octofabric/octopus/internal/fsutil"
	plog "github.com/octofabric/octopus/internal/log"
)

// Config is the broker's configuration. Zero fields take the defaults noted.
type Config struct {
	DataDir           string           // required
	Advertise         string           // host:port given to clients; "" = the listener's address
	Fsync             plog.FsyncPolicy // default plog.FsyncAlways
	FsyncInterval     time.Duration    // for FsyncInterval; default 1s
	DefaultPartitions int32            // partitions of auto-created topics; default 1
	AutoCreateTopics  bool             // create unknown topics named in Metadata requests
	MaxRequestBytes   int32            // largest request frame; default 100 MiB (socket.request.max.bytes)
	MaxInFlight       int              // requests a connection may have in progress; default 64
	RetentionCheck    time.Duration    // how often retention runs; default 5m
	Log               plog.Config      // defaults for every partition log (topic configs override)
	Groups            group.Config     // consumer-group coordinator; its Fsync follows Fsync
	Security          SecurityConfig   // authentication and ACLs; default none
	Logger            *slog.Logger     // default slog.Default()
}

func (c *Config) setDefaults() {
	if c.FsyncInterval <= 0 {
		c.FsyncInterval = time.Second
	}
	if c.DefaultPartitions <= 0 {
		c.DefaultPartitions = 1
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 100 << 20
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.RetentionCheck <= 0 {
		c.RetentionCheck = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Security.setDefaults()
	c.Log.Fsync = c.Fsync
	c.Log.FsyncInterval = c.FsyncInterval
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("broker: DataDir is required")
	}
	if c.Advertise != "" {
		if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
			return fmt.Errorf("broker: advertise %q: %w", c.Advertise, err)
		}
	}
	if c.DefaultPartitions < 0 {
		return errors.New("broker: DefaultPartitions must be positive")
	}
	return nil
}

// nodeID is this broker's id: a single node is always broker 0.
const nodeID int32 = 0

// Broker serves the Kafka protocol from one data directory.
type Broker struct {
	cfg       Config
	logger    *slog.Logger
	clusterID string
	metrics   *Metrics
	pids      *producerIDs
	groups    *group.Coordinator

	mu     sync.RWMutex // guards topics, byID, closed
	topics map[string]*topic
	byID   map[[16]byte]*topic
	closed bool

	creds     *sasl.Credentials         // SCRAM credentials, DATADIR/security
	authz     *acl.Store                // nil unless Security.Authorize
	mechs     map[string]sasl.Mechanism // SASL mechanisms offered
	mechNames []string                  // their names, in configured order
	failures  *authFailures

	lnMu      sync.Mutex
	listeners []net.Listener
	conns     sync.WaitGroup
	connSet   map[*conn]struct{}

	lock *os.File // flock on DATADIR/.lock, held until Close
	done chan struct{}
	bg   sync.WaitGroup
}

// New opens the data directory, recovering every partition log in it.
func New(cfg Config) (*Broker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:     cfg,
		logger:  cfg.Logger,
		metrics: newMetrics(),
		topics:  make(map[string]*topic),
		byID:    make(map[[16]byte]*topic),
		connSet: make(map[*conn]struct{}),
		done:    make(chan struct{}),
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "topics"), 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	b.lock = lock
	id, err := loadClusterID(cfg.DataDir)
	if err != nil {
		b.lock.Close()
		return nil, err
	}
	b.clusterID = id
	if err := b.openSecurity(); err != nil {
		b.lock.Close()
		return nil, err
	}
	if b.pids, err = openProducerIDs(filepath.Join(cfg.DataDir, "producer-ids")); err != nil {
		b.lock.Close()
		return nil, err
	}
	start := time.Now()
	if err := b.loadTopics(); err != nil {
		b.closeLogs()
		b.lock.Close()
		return nil, err
	}
	gcfg := cfg.Groups
	gcfg.Fsync = cfg.Fsync != plog.FsyncNever
	if gcfg.Logger == nil {
		gcfg.Logger = cfg.Logger
	}
	if b.groups, err = group.New(filepath.Join(cfg.DataDir, "groups"), gcfg); err != nil {
		b.closeLogs()
		b.lock.Close()
		return nil, err
	}
	b.logger.Info("data dir opened", "dir", cfg.DataDir, "topics", len(b.topics),
		"partitions", b.partitionCount(), "took", time.Since(start).Round(time.Microsecond))
	b.bg.Add(1)
	go b.retentionLoop()
	return b, nil
}

// ClusterID is the cluster id persisted in the data directory.
func (b *Broker) ClusterID() string { return b.clusterID }

// Metrics returns the broker's Prometheus collectors.
func (b *Broker) Metrics() *Metrics { return b.metrics }

// Serve accepts PLAINTEXT Kafka connections on ln until Close.
func (b *Broker) Serve(ln net.Listener) error {
	return b.ServeListener(ln, Listener{Protocol: Plaintext})
}

// ServeListener accepts Kafka connections on ln, secured as l says, until
// Close. Clients are told to reconnect to l.Advertise, else
// Config.Advertise, else ln's address.
func (b *Broker) ServeListener(ln net.Listener, l Listener) error {
	if l.Name == "" {
		l.Name = l.Protocol.String()
	}
	if err := l.validate(); err != nil {
		ln.Close()
		return err
	}
	if l.Advertise == "" {
		l.Advertise = b.cfg.Advertise
		if l.Advertise == "" {
			l.Advertise = ln.Addr().String()
		}
	}
	b.lnMu.Lock()
	if b.isClosed() {
		b.lnMu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	b.listeners = append(b.listeners, ln)
	b.lnMu.Unlock()

	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if b.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		c := newConn(b, nc, &l)
		b.lnMu.Lock()
		if b.isClosed() {
			b.lnMu.Unlock()
			nc.Close()
			continue
		}
		b.connSet[c] = struct{}{}
		b.conns.Add(1)
		b.lnMu.Unlock()
		go func() {
			defer b.conns.Done()
			c.serve()
			b.lnMu.Lock()
			delete(b.connSet, c)
			b.lnMu.Unlock()
		}()
	}
}

// Close stops listening, closes every connection, then flushes and closes
// every partition log. It is safe to call more than once.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.done)

	b.lnMu.Lock()
	for _, ln := range b.listeners {
		ln.Close()
	}
	for c := range b.connSet {
		c.close()
	}
	b.lnMu.Unlock()
	b.conns.Wait()
	b.bg.Wait()
	err := errors.Join(b.groups.Close(), b.closeLogs())
	b.lock.Close() // releases the flock
	return err
}

// lockDataDir takes an exclusive flock on DATADIR/.lock, so that a second
// broker cannot open the same logs; the kernel drops it if the process dies.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: lock data dir: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("broker: data dir %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("broker: lock data dir: %w", err)
	}
	return f, nil
}

func (b *Broker) isClosed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.closed
}

// advertised returns the host and port the connection's clients are told
// to connect to.
func (c *conn) advertised() (string, int32) {
	host, port, err := net.SplitHostPort(c.listener.Advertise)
	if err != nil {
		return "127.0.0.1", 9092
	}
	var p int32
	fmt.Sscan(port, &p)
	return host, p
}

func (b *Broker) retentionLoop() {
	defer b.bg.Done()
	t := time.NewTicker(b.cfg.RetentionCheck)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case now := <-t.C:
			for _, p := range b.allPartitions() {
				if err := p.log.EnforceRetention(now); err != nil && !errors.Is(err, plog.ErrClosed) {
					b.logger.Error("retention failed", "topic", p.topic, "partition", p.index, "err", err)
				}
			}
		}
	}
}

// loadClusterID reads the cluster id from DATADIR/cluster-id, creating it
// (tmp, fsync, rename, fsync dir) on first start.
func loadClusterID(dir string) (string, error) {
	path := filepath.Join(dir, "cluster-id")
	raw, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(raw))
		if id == "" {
			return "", fmt.Errorf("broker: %s is empty", path)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	var u [16]byte
	rand.Read(u[:])
	id := base64.RawURLEncoding.EncodeToString(u[:])
	if err := fsutil.WriteFileAtomic(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	return id, nil
}
