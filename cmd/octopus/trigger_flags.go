package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/octofabric/octopus/pkg/client"
)

// triggerSettings are the flags of `trigger create` and `trigger update`.
type triggerSettings struct {
	topics       []string
	url, method  string
	headers      []string
	filter       string
	batchSize    int
	batchWindow  string
	start        string
	concurrency  string
	ordering     string
	maxAttempts  int
	maxRecordAge string
	timeout      string
	deadLetter   string
	disabled     bool
	fromFile     string
}

func (s *triggerSettings) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&s.topics, "topic", nil, "a source topic, short or full (repeatable)")
	fl.StringVar(&s.url, "url", "", "the http(s) URL the trigger calls")
	fl.StringVar(&s.method, "method", "", "POST (default) or PUT")
	fl.StringArrayVar(&s.headers, "header", nil, "a header of every call as Name=value (repeatable; values are stored encrypted and never shown again)")
	fl.StringVar(&s.filter, "filter", "", `the filter: a JSON array of event patterns, or @FILE (e.g. '[{"value": {"status": ["failed"]}}]')`)
	fl.IntVar(&s.batchSize, "batch-size", 0, "records per call at most, 1 to 10000 (default 100)")
	fl.StringVar(&s.batchWindow, "batch-window", "", "how long a batch may wait to fill, e.g. 500ms (the default) or 0")
	fl.StringVar(&s.start, "start", "", "where a new trigger starts reading: earliest, latest (default) or an RFC 3339 time")
	fl.StringVar(&s.concurrency, "concurrency", "", "batches in flight per instance as MIN:MAX (default 1:10)")
	fl.StringVar(&s.ordering, "ordering", "", "partition (default: a partition's batches in order) or none")
	fl.IntVar(&s.maxAttempts, "max-attempts", 0, "calls of one batch at most, the first included (default 10)")
	fl.StringVar(&s.maxRecordAge, "max-record-age", "", `give up on a batch whose oldest record is older, e.g. 6h (the default), or "none"`)
	fl.StringVar(&s.timeout, "timeout", "", "the timeout of one call, e.g. 10s (the default)")
	fl.StringVar(&s.deadLetter, "dead-letter-topic", "", `where batches that failed for good go ("" in update removes it)`)
	fl.BoolVar(&s.disabled, "disabled", false, "create the trigger paused (update: --disabled=false enables)")
	fl.StringVar(&s.fromFile, "from-file", "", "read the trigger (create) or the change (update) from a JSON file in the API's shape; flags override it")
}

// readJSONArg reads a flag's JSON: the text itself, or @FILE.
func readJSONArg(flag, v string) (json.RawMessage, error) {
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, usageErrorf("--%s: %v", flag, err)
		}
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, usageErrorf("--%s: not JSON: %.60s", flag, b)
	}
	return json.RawMessage(b), nil
}

// readSpecFile decodes --from-file into dst, refusing unknown fields.
func readSpecFile(path string, dst any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return usageErrorf("--from-file: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return usageErrorf("--from-file %s: %v", path, err)
	}
	return nil
}

// kvs reads repeated Name=value flags into a map.
func kvs(flag string, list []string) (map[string]string, error) {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--%s %q: want Name=value", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}

// millis reads a duration flag as milliseconds; "0" is 0.
func millis(flag, v string) (int, error) {
	d, err := parseDuration(v)
	if err != nil || d < 0 || d%time.Millisecond != 0 {
		return 0, usageErrorf("--%s %q: want a duration such as 500ms, 10s or 0", flag, v)
	}
	return int(d / time.Millisecond), nil
}

// recordAge reads --max-record-age: a positive duration, or none (-1).
func recordAge(v string) (int64, error) {
	if v == "none" || v == "-1" {
		return -1, nil
	}
	d, err := parseDuration(v)
	if err != nil || d < time.Millisecond {
		return 0, usageErrorf(`--max-record-age %q: want a duration such as 6h, or "none"`, v)
	}
	return d.Milliseconds(), nil
}

// concurrencyFlag reads --concurrency MIN:MAX (or MAX).
func concurrencyFlag(v string) (*client.TriggerConcurrency, error) {
	lo, hi, both := strings.Cut(v, ":")
	c := &client.TriggerConcurrency{}
	var err1, err2 error
	if both {
		c.Min, err1 = strconv.Atoi(lo)
		c.Max, err2 = strconv.Atoi(hi)
	} else {
		c.Max, err1 = strconv.Atoi(lo)
	}
	if err1 != nil || err2 != nil || c.Min < 0 || c.Max < 1 {
		return nil, usageErrorf("--concurrency %q: want MIN:MAX, e.g. 1:10", v)
	}
	return c, nil
}

// request builds a create request from --from-file and the flags given.
func (s *triggerSettings) request(fl *pflag.FlagSet, name string) (client.TriggerRequest, error) {
	var r client.TriggerRequest
	if s.fromFile != "" {
		if err := readSpecFile(s.fromFile, &r); err != nil {
			return r, err
		}
	}
	r.Name = name
	p, err := s.patch(fl)
	if err != nil {
		return r, err
	}
	if p.Topics != nil {
		r.Topic, r.Topics = "", p.Topics
	}
	if p.Filter != nil {
		r.Filter = p.Filter
	}
	if a := p.Action; a != nil {
		setIf(&r.Action.URL, a.URL)
		setIf(&r.Action.Method, a.Method)
		setIf(&r.Action.TimeoutMs, a.TimeoutMs)
		if a.Headers != nil {
			r.Action.Headers = a.Headers
		}
	}
	setIf(&r.BatchSize, p.BatchSize)
	if p.BatchWindowMs != nil {
		r.BatchWindowMs = p.BatchWindowMs
	}
	setIf(&r.Start, p.Start)
	if p.Concurrency != nil {
		r.Concurrency = p.Concurrency
	}
	setIf(&r.Ordering, p.Ordering)
	if p.Retry != nil {
		if r.Retry == nil {
			r.Retry = &client.TriggerRetry{}
		}
		if p.Retry.MaxAttempts != 0 {
			r.Retry.MaxAttempts = p.Retry.MaxAttempts
		}
		if p.Retry.MaxRecordAgeMs != 0 {
			r.Retry.MaxRecordAgeMs = p.Retry.MaxRecordAgeMs
		}
	}
	setIf(&r.DeadLetterTopic, p.DeadLetterTopic)
	if p.Enabled != nil {
		r.Enabled = p.Enabled
	}
	if r.Topic == "" && len(r.Topics) == 0 {
		return r, usageErrorf("a trigger needs a source: give --topic (or topics in --from-file)")
	}
	if r.Action.URL == "" {
		return r, usageErrorf("a trigger needs a target: give --url (or action.url in --from-file)")
	}
	return r, nil
}

func setIf[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

// patch builds a change from the flags given (fl.Changed): nothing else is
// sent.
func (s *triggerSettings) patch(fl *pflag.FlagSet) (client.TriggerPatch, error) {
	var p client.TriggerPatch
	action := func() *client.TriggerActionPatch {
		if p.Action == nil {
			p.Action = &client.TriggerActionPatch{}
		}
		return p.Action
	}
	if fl.Changed("topic") {
		p.Topics = s.topics
	}
	if fl.Changed("url") {
		action().URL = &s.url
	}
	if fl.Changed("method") {
		action().Method = &s.method
	}
	if fl.Changed("header") {
		h, err := kvs("header", s.headers)
		if err != nil {
			return p, err
		}
		action().Headers = h
	}
	if fl.Changed("timeout") {
		ms, err := millis("timeout", s.timeout)
		if err != nil {
			return p, err
		}
		action().TimeoutMs = &ms
	}
	if fl.Changed("filter") {
		f, err := readJSONArg("filter", s.filter)
		if err != nil {
			return p, err
		}
		p.Filter = f
	}
	if fl.Changed("batch-size") {
		p.BatchSize = &s.batchSize
	}
	if fl.Changed("batch-window") {
		ms, err := millis("batch-window", s.batchWindow)
		if err != nil {
			return p, err
		}
		p.BatchWindowMs = &ms
	}
	if fl.Changed("start") {
		p.Start = &s.start
	}
	if fl.Changed("concurrency") {
		c, err := concurrencyFlag(s.concurrency)
		if err != nil {
			return p, err
		}
		p.Concurrency = c
	}
	if fl.Changed("ordering") {
		p.Ordering = &s.ordering
	}
	if fl.Changed("max-attempts") {
		p.Retry = &client.TriggerRetry{MaxAttempts: s.maxAttempts}
	}
	if fl.Changed("max-record-age") {
		ms, err := recordAge(s.maxRecordAge)
		if err != nil {
			return p, err
		}
		if p.Retry == nil {
			p.Retry = &client.TriggerRetry{}
		}
		p.Retry.MaxRecordAgeMs = ms
	}
	if fl.Changed("dead-letter-topic") {
		p.DeadLetterTopic = &s.deadLetter
	}
	if fl.Changed("disabled") {
		on := !s.disabled
		p.Enabled = &on
	}
	return p, nil
}

// filterValue reads test-filter's --value: JSON as it is, anything else
// as a plain string value.
func filterValue(v string) json.RawMessage {
	if t := bytes.TrimSpace([]byte(v)); json.Valid(t) {
		return t
	}
	b, _ := json.Marshal(v)
	return b
}

// fmtMs formats milliseconds for a table.
func fmtMs(ms int64) string {
	if ms < 0 {
		return "none"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
