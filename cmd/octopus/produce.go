package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLine is the longest line produce reads (a record's key and value).
const maxLine = 8 << 20

// newProduceCmd is `octopus produce TOPIC`: stdin's lines as records.
func newProduceCmd() *cobra.Command {
	var key keyFileFlag
	var output, sep string
	var asJSON bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce the lines of stdin to a topic, one record each",
		Long: `Produce reads stdin and sends each line as one record (acks=all, idempotent),
logging in to Kafka with a key file (--key or $OCTOPUS_KEY_FILE). A TOPIC
without a '.' is in the key's namespace. With --key-separator SEP a line
KEY SEP VALUE becomes a record with that key (a line without SEP has no
key); with --json each value must be JSON. It prints the number of records
produced.`,
		Example: `  octopus key create -o json > key.json
  printf 'a\nb\n' | octopus produce events --key key.json
  echo '7:{"t":21.5}' | octopus produce events --key key.json --key-separator : --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("-o must be table or json, not %q", output)
			}
			k, err := key.load()
			if err != nil {
				return err
			}
			topic := fullName(k, a[0])
			ctx, cancel := signalContext(cmd)
			defer cancel()
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive")
			}
			cl, err := kafkaLogin(ctx, k, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.RecordDeliveryTimeout(timeout))
			if err != nil {
				return err
			}
			defer cl.Close()
			n, err := produceLines(ctx, cl, bufio.NewReader(cmd.InOrStdin()), sep, asJSON)
			if err != nil {
				return fmt.Errorf("%w (%d records produced to %s)", err, n, topic)
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"topic": topic, "records": n})
			}
			noun := "records"
			if n == 1 {
				noun = "record"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Produced %d %s to %s\n", n, noun, topic)
			return nil
		},
	}
	key.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&sep, "key-separator", "", "split each line at the first SEP into the record's key and value")
	cmd.Flags().BoolVar(&asJSON, "json", false, "refuse a value that is not JSON")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up on a record not acknowledged in this time")
	return cmd
}

// produceLines produces each line of r and returns how many records the
// broker acknowledged. It stops at the first bad line or failed record.
func produceLines(ctx context.Context, cl *kgo.Client, r *bufio.Reader, sep string, asJSON bool) (int, error) {
	var (
		mu    sync.Mutex
		acked int
		perr  error
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return perr
	}
	var lineErr error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		if err := failed(); err != nil {
			break
		}
		var k, v []byte
		b := sc.Bytes()
		if sep != "" {
			if before, after, ok := bytes.Cut(b, []byte(sep)); ok {
				k, v = bytes.Clone(before), bytes.Clone(after)
			} else {
				v = bytes.Clone(b)
			}
		} else {
			v = bytes.Clone(b)
		}
		if asJSON && !json.Valid(v) {
			lineErr = fmt.Errorf("line %d: the value is not JSON", line)
			break
		}
		cl.Produce(ctx, &kgo.Record{Key: k, Value: v}, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if perr == nil {
					perr = err
				}
				return
			}
			acked++
		})
	}
	if err := sc.Err(); err != nil && lineErr == nil {
		lineErr = fmt.Errorf("reading stdin: %w", err)
	}
	if err := cl.Flush(ctx); err != nil && lineErr == nil {
		lineErr = err
	}
	mu.Lock()
	defer mu.Unlock()
	if perr != nil {
		return acked, perr
	}
	return acked, lineErr
}
