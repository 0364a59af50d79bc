package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/pkg/client"
)

// newConsumeCmd is `octopus consume TOPIC`.
func newConsumeCmd() *cobra.Command {
	var (
		key    keyFileFlag
		output string
		o      consumeOpts
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic",
		Long: `Consume prints the values of a topic's records, one a line (with -o json, a
JSON object a line with topic, partition, offset, timestamp, key, value and
headers), logging in to Kafka with a key file (--key or $OCTOPUS_KEY_FILE).
A TOPIC or GROUP without a '.' is in the key's namespace.

--from says where to start: earliest (the default), latest, an offset (in
every partition) or an RFC 3339 time. In a --group, it applies only where
the group has committed nothing, and what is printed is committed. Without
--follow consume stops at the end the topic had when it started; with
--follow it waits for more until --max records or Ctrl-C.`,
		Example: `  octopus consume events --key key.json --from earliest --max 10
  octopus consume alice.events --key bob.json --group readers --follow -o json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("-o must be table or json, not %q", output)
			}
			from, err := parseFrom(o.fromFlag)
			if err != nil {
				return err
			}
			if o.max < 0 {
				return usageErrorf("--max must be >= 0")
			}
			o.from = from
			k, err := key.load()
			if err != nil {
				return err
			}
			o.topic = fullName(k, a[0])
			if o.group != "" {
				o.group = fullName(k, o.group)
			}
			o.json = output == "json"
			ctx, cancel := signalContext(cmd)
			defer cancel()
			return consume(ctx, k, o, cmd.OutOrStdout())
		},
	}
	key.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table (values) or json (a record a line)")
	cmd.Flags().StringVar(&o.group, "group", "", "consume in this consumer group, committing what is printed")
	cmd.Flags().StringVar(&o.fromFlag, "from", "earliest", "where to start: earliest, latest, an OFFSET or an RFC 3339 time")
	cmd.Flags().BoolVar(&o.follow, "follow", false, "wait for new records instead of stopping at the end")
	cmd.Flags().IntVar(&o.max, "max", 0, "stop after this many records (0: no limit)")
	return cmd
}

type consumeOpts struct {
	topic, group, fromFlag string
	from                   startAt
	follow, json           bool
	max                    int
}

// startAt is a parsed --from.
type startAt struct {
	kind   string // earliest, latest, offset, time
	offset int64
	time   time.Time
}

func parseFrom(s string) (startAt, error) {
	switch s {
	case "earliest", "latest":
		return startAt{kind: s}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return startAt{kind: "offset", offset: n}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return startAt{kind: "time", time: t}, nil
	}
	return startAt{}, usageErrorf("--from %q: want earliest, latest, an offset (>= 0) or an RFC 3339 time", s)
}

// kgoOffset is where a partition without a committed offset starts.
func (s startAt) kgoOffset() kgo.Offset {
	switch s.kind {
	case "latest":
		return kgo.NewOffset().AtEnd()
	case "offset":
		return kgo.NewOffset().At(s.offset)
	case "time":
		return kgo.NewOffset().AfterMilli(s.time.UnixMilli())
	}
	return kgo.NewOffset().AtStart()
}

// consume prints o.topic's records to w.
func consume(ctx context.Context, k client.NewKey, o consumeOpts, w io.Writer) error {
	opts := []kgo.Opt{kgo.ConsumeTopics(o.topic), kgo.ConsumeResetOffset(o.from.kgoOffset())}
	if o.group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.AutoCommitMarks())
	}
	cl, err := kafkaLogin(ctx, k, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var todo map[int32]int64 // without --follow: partition → the last offset to read
	if !o.follow {
		if todo, err = endOf(ctx, kadm.NewClient(cl), o); err != nil {
			return err
		}
	}
	n := 0
	finished := func() bool {
		return (o.max > 0 && n >= o.max) || (!o.follow && len(todo) == 0)
	}
	defer func() {
		if o.group != "" {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = cl.CommitMarkedOffsets(cctx)
		}
	}()
	for !finished() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: a normal end of --follow
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("%s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for it := fs.RecordIter(); !it.Done() && !finished(); {
			r := it.Next()
			if err := printRecord(w, r, o.json); err != nil {
				return err
			}
			n++
			if o.group != "" {
				cl.MarkCommitRecords(r)
			}
			if last, ok := todo[r.Partition]; ok && r.Offset >= last {
				delete(todo, r.Partition)
			}
		}
	}
	return nil
}

// endOf returns, for each partition with records to read from where
// consume starts, the offset of its last record when consume started.
func endOf(ctx context.Context, adm *kadm.Client, o consumeOpts) (map[int32]int64, error) {
	ends, err := adm.ListEndOffsets(ctx, o.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.topic, err)
	}
	if len(ends[o.topic]) == 0 {
		return nil, fmt.Errorf("%s: no such topic, or the key may not read it", o.topic)
	}
	starts, err := startsOf(ctx, adm, o)
	if err != nil {
		return nil, err
	}
	var committed kadm.OffsetResponses
	if o.group != "" {
		if committed, err = adm.FetchOffsets(ctx, o.group); err != nil {
			return nil, fmt.Errorf("group %s: %w", o.group, err)
		}
	}
	todo := map[int32]int64{}
	for p, e := range ends[o.topic] {
		start := int64(-1)
		if c, ok := committed.Lookup(o.topic, p); ok && c.Err == nil && c.At >= 0 {
			start = c.At
		} else if s, ok := starts[p]; ok {
			start = s
		}
		if start < 0 || start > e.Offset {
			start = e.Offset
		}
		if start < e.Offset {
			todo[p] = e.Offset - 1
		}
	}
	return todo, nil
}

// startsOf is where --from starts in each partition (-1: unknown).
func startsOf(ctx context.Context, adm *kadm.Client, o consumeOpts) (map[int32]int64, error) {
	var l kadm.ListedOffsets
	var err error
	switch o.from.kind {
	case "latest":
		l, err = adm.ListEndOffsets(ctx, o.topic)
	case "time":
		l, err = adm.ListOffsetsAfterMilli(ctx, o.from.time.UnixMilli(), o.topic)
	default:
		l, err = adm.ListStartOffsets(ctx, o.topic)
	}
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.topic, err)
	}
	out := map[int32]int64{}
	for p, x := range l[o.topic] {
		out[p] = x.Offset
		if o.from.kind == "offset" && o.from.offset > x.Offset {
			out[p] = o.from.offset
		}
	}
	return out, nil
}

// jsonRecord is a record in -o json. Key and value are strings, or base64
// with Encoding "base64" when either is not UTF-8.
type jsonRecord struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp time.Time    `json:"timestamp"`
	Key       *string      `json:"key"`
	Value     string       `json:"value"`
	Encoding  string       `json:"encoding,omitempty"`
	Headers   []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func printRecord(w io.Writer, r *kgo.Record, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprintf(w, "%s\n", r.Value)
		return err
	}
	enc := func(b []byte) string { return string(b) }
	jr := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(),
		Headers: []jsonHeader{}}
	if !utf8.Valid(r.Key) || !utf8.Valid(r.Value) {
		enc = base64.StdEncoding.EncodeToString
		jr.Encoding = "base64"
	}
	if r.Key != nil {
		s := enc(r.Key)
		jr.Key = &s
	}
	jr.Value = enc(r.Value)
	for _, h := range r.Headers {
		jr.Headers = append(jr.Headers, jsonHeader{Key: h.Key, Value: string(h.Value)})
	}
	b, err := jsonMarshal(jr)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
