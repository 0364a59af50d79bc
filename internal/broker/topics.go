package broker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/octofabric/octopus/internal/fsutil"
	plog "github.com/octofabric/octopus/internal/log"
)

// topic is one topic and its partitions. The partitions slice only grows
// (CreatePartitions) and is replaced, never mutated, under Broker.mu.
type topic struct {
	name       string
	id         [16]byte
	configs    map[string]string // topic-level overrides, as given
	partitions []*partition
}

// partition is one partition of a topic and its log.
type partition struct {
	topic string
	index int32
	log   *plog.Log
}

// topicFile is the persisted form of a topic: DATADIR/topics/NAME.json.
type topicFile struct {
	Version    int               `json:"version"`
	Name       string            `json:"name"`
	ID         string            `json:"id"` // hex
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

const topicFileVersion = 1

func (b *Broker) topicPath(name string) string {
	return filepath.Join(b.cfg.DataDir, "topics", name+".json")
}

func (b *Broker) partitionDir(name string, i int32) string {
	return filepath.Join(b.cfg.DataDir, "logs", name+"-"+strconv.Itoa(int(i)))
}

// validateTopicName applies Kafka's rules: 1..249 characters of
// [a-zA-Z0-9._-], and not "." or "..".
func validateTopicName(name string) error {
	if name == "" {
		return errors.New("topic name is empty")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("topic name cannot be %q", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters, longer than 249", len(name))
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("topic name %q contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// collisionName maps '.' to '_' since metric names cannot tell them apart;
// Kafka refuses a topic that collides with an existing one this way.
func collisionName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// loadTopics opens every persisted topic and removes log directories that
// belong to no topic (left by a crash during delete or create).
func (b *Broker) loadTopics() error {
	entries, err := os.ReadDir(filepath.Join(b.cfg.DataDir, "topics"))
	if err != nil {
		return fmt.Errorf("broker: topics: %w", err)
	}
	var tfs []topicFile
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, fsutil.TempPrefix) {
			os.Remove(filepath.Join(b.cfg.DataDir, "topics", name))
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(b.cfg.DataDir, "topics", name))
		if err != nil {
			return fmt.Errorf("broker: topic file %s: %w", name, err)
		}
		var tf topicFile
		if err := json.Unmarshal(raw, &tf); err != nil {
			return fmt.Errorf("broker: topic file %s: %w", name, err)
		}
		if tf.Version != topicFileVersion || validateTopicName(tf.Name) != nil || tf.Partitions < 1 || tf.Name+".json" != name {
			return fmt.Errorf("broker: topic file %s: unsupported version %d or bad content", name, tf.Version)
		}
		tfs = append(tfs, tf)
	}

	// Open partitions in parallel: start-up time is dominated by them.
	type job struct {
		t *topic
		i int32
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p, err := b.openPartition(j.t, j.i)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					continue
				}
				j.t.partitions[j.i] = p
			}
		}()
	}
	for _, tf := range tfs {
		t := &topic{name: tf.Name, configs: tf.Configs, partitions: make([]*partition, tf.Partitions)}
		if raw, err := hex.DecodeString(tf.ID); err != nil || len(raw) != 16 || [16]byte(raw) == ([16]byte{}) {
			close(jobs)
			wg.Wait()
			return fmt.Errorf("broker: topic %s: bad id %q", tf.Name, tf.ID)
		}
		hex.Decode(t.id[:], []byte(tf.ID))
		b.topics[t.name] = t
		b.byID[t.id] = t
		for i := int32(0); i < tf.Partitions; i++ {
			jobs <- job{t, i}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	b.removeOrphanLogs()
	return nil
}

func (b *Broker) removeOrphanLogs() {
	entries, err := os.ReadDir(filepath.Join(b.cfg.DataDir, "logs"))
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		dash := strings.LastIndexByte(name, '-')
		if dash < 0 {
			continue
		}
		i, err := strconv.Atoi(name[dash+1:])
		t := b.topics[name[:dash]]
		if err == nil && t != nil && i < len(t.partitions) {
			continue
		}
		b.logger.Warn("removing log directory of no topic", "dir", name)
		os.RemoveAll(filepath.Join(b.cfg.DataDir, "logs", name))
	}
}

func (b *Broker) openPartition(t *topic, i int32) (*partition, error) {
	cfg, err := logConfig(b.cfg.Log, t.configs)
	if err != nil {
		return nil, fmt.Errorf("broker: topic %s: %w", t.name, err)
	}
	l, err := plog.Open(plog.OSFS, b.partitionDir(t.name, i), cfg, b.logger.With("topic", t.name, "partition", i))
	if err != nil {
		return nil, fmt.Errorf("broker: open %s-%d: %w", t.name, i, err)
	}
	return &partition{topic: t.name, index: i, log: l}, nil
}

func (b *Broker) saveTopic(t *topic) error {
	tf := topicFile{
		Version:    topicFileVersion,
		Name:       t.name,
		ID:         hex.EncodeToString(t.id[:]),
		Partitions: int32(len(t.partitions)),
		Configs:    t.configs,
	}
	raw, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(b.topicPath(t.name), append(raw, '\n'), 0o644)
}

// topicErr is a Kafka error code with a message for the response.
type topicErr struct {
	code int16
	msg  string
}

func (e *topicErr) Error() string { return e.msg }

func kafkaErr(err *kerr.Error, format string, args ...any) *topicErr {
	return &topicErr{code: err.Code, msg: fmt.Sprintf(format, args...)}
}

// createTopic creates a topic with n partitions (n <= 0: the default) and the
// given configs. validateOnly checks without creating.
func (b *Broker) createTopic(name string, n int32, configs map[string]string, validateOnly bool) (*topic, *topicErr) {
	if err := validateTopicName(name); err != nil {
		return nil, kafkaErr(kerr.InvalidTopicException, "%v", err)
	}
	if n == -1 {
		n = b.cfg.DefaultPartitions
	}
	if n < 1 {
		return nil, kafkaErr(kerr.InvalidPartitions, "number of partitions must be larger than 0")
	}
	if n > maxPartitionsPerTopic {
		return nil, kafkaErr(kerr.InvalidPartitions, "number of partitions %d is more than %d", n, maxPartitionsPerTopic)
	}
	if _, err := logConfig(b.cfg.Log, configs); err != nil {
		return nil, kafkaErr(kerr.InvalidConfig, "%v", err)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, kafkaErr(kerr.NotController, "broker is shutting down")
	}
	if _, ok := b.topics[name]; ok {
		return nil, kafkaErr(kerr.TopicAlreadyExists, "Topic '%s' already exists.", name)
	}
	cn := collisionName(name)
	for other := range b.topics {
		if collisionName(other) == cn {
			return nil, kafkaErr(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", name, other)
		}
	}
	if validateOnly {
		return nil, nil
	}
	t := &topic{name: name, configs: configs}
	for {
		rand.Read(t.id[:])
		if _, dup := b.byID[t.id]; !dup && t.id != ([16]byte{}) {
			break
		}
	}
	for i := int32(0); i < n; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			b.logger.Error("creating topic", "topic", name, "err", err)
			b.closePartitions(t.partitions, true)
			return nil, kafkaErr(kerr.KafkaStorageError, "%v", err)
		}
		t.partitions = append(t.partitions, p)
	}
	if err := b.saveTopic(t); err != nil {
		b.logger.Error("persisting new topic", "topic", name, "err", err)
		b.closePartitions(t.partitions, true)
		return nil, kafkaErr(kerr.KafkaStorageError, "persisting topic: %v", err)
	}
	b.topics[name] = t
	b.byID[t.id] = t
	b.metrics.partitions.Add(float64(n))
	b.logger.Info("topic created", "topic", name, "partitions", n)
	return t, nil
}

// maxPartitionsPerTopic bounds one request's allocation.
const maxPartitionsPerTopic = 10000

// deleteTopic removes the topic file first (the commit point), then its logs.
func (b *Broker) deleteTopic(t *topic) *topicErr {
	b.mu.Lock()
	if b.topics[t.name] != t {
		b.mu.Unlock()
		return kafkaErr(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	if err := os.Remove(b.topicPath(t.name)); err != nil {
		b.mu.Unlock()
		return kafkaErr(kerr.KafkaStorageError, "deleting topic: %v", err)
	}
	fsutil.SyncDir(filepath.Dir(b.topicPath(t.name)))
	delete(b.topics, t.name)
	delete(b.byID, t.id)
	parts := t.partitions
	b.mu.Unlock()
	b.metrics.partitions.Sub(float64(len(parts)))
	b.closePartitions(parts, true)
	b.logger.Info("topic deleted", "topic", t.name)
	return nil
}

// addPartitions grows t to n partitions.
func (b *Broker) addPartitions(t *topic, n int32, validateOnly bool) *topicErr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics[t.name] != t {
		return kafkaErr(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	have := int32(len(t.partitions))
	switch {
	case n < have:
		return kafkaErr(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", have, n)
	case n == have:
		return kafkaErr(kerr.InvalidPartitions, "Topic already has %d partitions.", have)
	case n > maxPartitionsPerTopic:
		return kafkaErr(kerr.InvalidPartitions, "number of partitions %d is more than %d", n, maxPartitionsPerTopic)
	}
	if validateOnly {
		return nil
	}
	parts := append([]*partition(nil), t.partitions...)
	for i := have; i < n; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			b.closePartitions(parts[have:], true)
			return kafkaErr(kerr.KafkaStorageError, "%v", err)
		}
		parts = append(parts, p)
	}
	old := t.partitions
	t.partitions = parts
	if err := b.saveTopic(t); err != nil {
		t.partitions = old
		b.closePartitions(parts[have:], true)
		return kafkaErr(kerr.KafkaStorageError, "persisting topic: %v", err)
	}
	b.metrics.partitions.Add(float64(n - have))
	return nil
}

// alterTopicConfigs replaces t's overrides with configs, persists them and
// applies them to every partition log.
func (b *Broker) alterTopicConfigs(t *topic, configs map[string]string, validateOnly bool) *topicErr {
	cfg, err := logConfig(b.cfg.Log, configs)
	if err != nil {
		return kafkaErr(kerr.InvalidConfig, "%v", err)
	}
	if validateOnly {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics[t.name] != t {
		return kafkaErr(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	old := t.configs
	t.configs = configs
	if err := b.saveTopic(t); err != nil {
		t.configs = old
		b.logger.Error("persisting topic configs", "topic", t.name, "err", err)
		return kafkaErr(kerr.KafkaStorageError, "persisting topic configs: %v", err)
	}
	for _, p := range t.partitions {
		p.log.SetConfig(cfg)
	}
	b.logger.Info("topic configs changed", "topic", t.name, "configs", configs)
	return nil
}

func (b *Broker) closePartitions(parts []*partition, remove bool) {
	for _, p := range parts {
		var err error
		if remove {
			err = p.log.Delete()
		} else {
			err = p.log.Close()
		}
		if err != nil {
			b.logger.Error("closing partition log", "topic", p.topic, "partition", p.index, "err", err)
		}
	}
}

// closeLogs closes every partition log; used at shutdown.
func (b *Broker) closeLogs() error {
	b.mu.Lock()
	var parts []*partition
	for _, t := range b.topics {
		for _, p := range t.partitions {
			if p != nil {
				parts = append(parts, p)
			}
		}
	}
	b.mu.Unlock()
	// Each Close may fsync; run a few at once so shutdown stays short
	// with many partitions.
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		work = make(chan *partition)
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if err := p.log.Close(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s-%d: %w", p.topic, p.index, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range parts {
		work <- p
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// lookupTopic returns the named topic, or nil.
func (b *Broker) lookupTopic(name string) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}

func (b *Broker) lookupTopicID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.byID[id]
}

// partitionsOf returns the current partitions of t.
func (b *Broker) partitionsOf(t *topic) []*partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return t.partitions
}

// lookupPartition returns the partition, or nil if the topic or index is unknown.
func (b *Broker) lookupPartition(name string, index int32) *partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	t := b.topics[name]
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		return nil
	}
	return t.partitions[index]
}

// sortedTopics returns every topic in name order.
func (b *Broker) sortedTopics() []*topic {
	b.mu.RLock()
	ts := make([]*topic, 0, len(b.topics))
	for _, t := range b.topics {
		ts = append(ts, t)
	}
	b.mu.RUnlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	return ts
}

func (b *Broker) allPartitions() []*partition {
	var out []*partition
	for _, t := range b.sortedTopics() {
		out = append(out, b.partitionsOf(t)...)
	}
	return out
}

func (b *Broker) partitionCount() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, t := range b.topics {
		n += len(t.partitions)
	}
	return n
}
