package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/pkg/client"
)

// newTriggerCmd is `octopus trigger`: managed triggers.
func newTriggerCmd() *cobra.Command {
	var f cliFlags
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Manage triggers: call a web service with the matching records of topics",
		Long: `Manage triggers. A trigger reads topics you may read, keeps the records its
filter matches, and calls a web service with them in batches, retrying and
dead-lettering as its policy says. See docs/TRIGGERS.md.

  octopus trigger create failed-tasks --topic tasks --url https://example.org/hook \
    --filter '[{"value": {"status": ["failed"]}}]' --header X-Team=beamline`,
	}
	groupCmd(cmd)
	addCLIFlags(cmd, &f)
	cmd.AddCommand(newTriggerCreateCmd(&f), newTriggerListCmd(&f), newTriggerGetCmd(&f), newTriggerUpdateCmd(&f),
		newTriggerStateCmd(&f, "pause", "Pause a trigger where it is", (*client.Client).PauseTrigger),
		newTriggerStateCmd(&f, "resume", "Resume a paused trigger from where it stopped", (*client.Client).ResumeTrigger),
		newTriggerRotateCmd(&f), newTriggerDeleteCmd(&f), newTriggerLogsCmd(&f), newTriggerTestFilterCmd(&f))
	return cmd
}

const secretWarning = "Warning: the signing secret is shown only this once; the receiver needs it to check signatures (docs/TRIGGERS_ACTIONS.md)."

func newTriggerCreateCmd(f *cliFlags) *cobra.Command {
	var s triggerSettings
	var idem string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a trigger and print its signing secret (shown only once)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req, err := s.request(cmd.Flags(), a[0])
			if err != nil {
				return err
			}
			req.IdempotencyKey = idem
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.CreateTrigger(cmd.Context(), req)
			if err != nil {
				return err
			}
			if t.SigningSecret != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), secretWarning)
			}
			return printNewTrigger(cmd, f, t)
		},
	}
	s.add(cmd)
	cmd.Flags().StringVar(&idem, "idempotency-key", "", "make a retry of this command create nothing new (the retry shows no secret)")
	return cmd
}

func newTriggerListCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List your triggers",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ts, err := c.ListTriggers(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				if ts == nil {
					ts = []client.Trigger{}
				}
				return printJSON(cmd.OutOrStdout(), ts)
			}
			rows := [][]string{{"ID", "NAME", "STATE", "TOPICS", "URL", "VERSION"}}
			for _, t := range ts {
				rows = append(rows, []string{t.ID, t.Name, t.State, strings.Join(t.Topics, ","), t.Action.URL, fmt.Sprint(t.Version)})
			}
			return table(cmd.OutOrStdout(), rows)
		},
	}
}

func newTriggerGetCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a trigger and its state (header values are never shown)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.GetTrigger(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return printTrigger(cmd, f, t)
		},
	}
}

func newTriggerUpdateCmd(f *cliFlags) *cobra.Command {
	var s triggerSettings
	var name string
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Change some of a trigger's settings; the others stay",
		Long: `Change the settings given by flags (or in --from-file); the others stay.
--header replaces all headers; --filter null removes the filter;
--dead-letter-topic "" removes the dead-letter topic. The trigger restarts
with the change within seconds, from where it was.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var p client.TriggerPatch
			if s.fromFile != "" {
				if err := readSpecFile(s.fromFile, &p); err != nil {
					return err
				}
			}
			fp, err := s.patch(cmd.Flags())
			if err != nil {
				return err
			}
			mergePatch(&p, fp)
			if cmd.Flags().Changed("name") {
				p.Name = &name
			}
			if isEmptyPatch(p) {
				return usageErrorf("nothing to change: give a flag such as --url, --filter or --batch-size, or --from-file")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.UpdateTrigger(cmd.Context(), a[0], p)
			if err != nil {
				return err
			}
			return printTrigger(cmd, f, t)
		},
	}
	s.add(cmd)
	cmd.Flags().StringVar(&name, "name", "", "a new name")
	return cmd
}

// mergePatch sets in p every field that over gives.
func mergePatch(p *client.TriggerPatch, over client.TriggerPatch) {
	setPtr := func(dst **string, v *string) {
		if v != nil {
			*dst = v
		}
	}
	setInt := func(dst **int, v *int) {
		if v != nil {
			*dst = v
		}
	}
	if over.Topics != nil {
		p.Topics = over.Topics
	}
	if over.Filter != nil {
		p.Filter = over.Filter
	}
	if a := over.Action; a != nil {
		if p.Action == nil {
			p.Action = &client.TriggerActionPatch{}
		}
		setPtr(&p.Action.URL, a.URL)
		setPtr(&p.Action.Method, a.Method)
		setInt(&p.Action.TimeoutMs, a.TimeoutMs)
		if a.Headers != nil {
			p.Action.Headers = a.Headers
		}
	}
	setInt(&p.BatchSize, over.BatchSize)
	setInt(&p.BatchWindowMs, over.BatchWindowMs)
	setPtr(&p.Start, over.Start)
	if over.Concurrency != nil {
		p.Concurrency = over.Concurrency
	}
	setPtr(&p.Ordering, over.Ordering)
	if r := over.Retry; r != nil {
		if p.Retry == nil {
			p.Retry = &client.TriggerRetry{}
		}
		if r.MaxAttempts != 0 {
			p.Retry.MaxAttempts = r.MaxAttempts
		}
		if r.MaxRecordAgeMs != 0 {
			p.Retry.MaxRecordAgeMs = r.MaxRecordAgeMs
		}
	}
	setPtr(&p.DeadLetterTopic, over.DeadLetterTopic)
	if over.Enabled != nil {
		p.Enabled = over.Enabled
	}
}

func isEmptyPatch(p client.TriggerPatch) bool {
	return p.Name == nil && p.Topics == nil && p.Filter == nil && p.Action == nil && p.BatchSize == nil &&
		p.BatchWindowMs == nil && p.Start == nil && p.Concurrency == nil && p.Ordering == nil && p.Retry == nil &&
		p.DeadLetterTopic == nil && p.Enabled == nil
}

func newTriggerStateCmd(f *cliFlags, verb, short string, call func(*client.Client, context.Context, string) (client.Trigger, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := call(c, cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Trigger %s (%s) is %s\n", t.ID, t.Name, stateText(t))
			return nil
		},
	}
}

func newTriggerRotateCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret ID",
		Short: "Give a trigger a new signing secret and print it (shown only once)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.RotateTriggerSecret(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), secretWarning)
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), t)
			}
			return table(cmd.OutOrStdout(), [][]string{{"id", t.ID}, {"version", fmt.Sprint(t.Version)}, {"signing_secret", t.SigningSecret}})
		},
	}
}

func newTriggerDeleteCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a trigger; it stops within seconds",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DeleteTrigger(cmd.Context(), a[0]); err != nil {
				return err
			}
			return done(cmd, f, map[string]any{"id": a[0], "deleted": true}, "Deleted trigger %s\n", a[0])
		},
	}
}

func newTriggerLogsCmd(f *cliFlags) *cobra.Command {
	var q client.TriggerLogQuery
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Show a trigger's calls, newest first",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			invs, err := c.TriggerLogs(cmd.Context(), a[0], q)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if invs == nil {
					invs = []client.Invocation{}
				}
				return printJSON(cmd.OutOrStdout(), invs)
			}
			rows := [][]string{{"TIME", "STATUS", "HTTP", "ATTEMPT", "RECORDS", "TOPIC", "PARTITION", "OFFSETS", "LATENCY", "ERROR"}}
			for _, i := range invs {
				http := "-"
				if i.HTTPStatus != 0 {
					http = fmt.Sprint(i.HTTPStatus)
				}
				rows = append(rows, []string{ts(&i.Time), i.Status, http, fmt.Sprint(i.Attempt), fmt.Sprint(i.Records), i.Topic,
					fmt.Sprint(i.Partition), fmt.Sprintf("%d-%d", i.FirstOffset, i.LastOffset), fmt.Sprintf("%.1fms", i.LatencyMs), orDash(i.Error)})
			}
			return table(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&q.Status, "status", "", "only calls with this outcome: ok, retry, failed, dead_lettered or dropped")
	cmd.Flags().StringVar(&q.Since, "since", "", "only calls since: a duration before now (1h) or an RFC 3339 time")
	cmd.Flags().StringVar(&q.Until, "until", "", "only calls until: a duration before now or an RFC 3339 time")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "at most this many, 1 to 1000 (default 100)")
	return cmd
}

func newTriggerTestFilterCmd(f *cliFlags) *cobra.Command {
	var filter, value, key, topic string
	var headers []string
	cmd := &cobra.Command{
		Use:   "test-filter",
		Short: "Try a filter on a record: prints match or no match",
		Long: `Try a filter on a record before deploying it. --value is the record's value:
JSON, or else taken as a plain string. Exit status 0 whether or not it
matches; 1 (with the bad place in the filter) if the filter is invalid.

  octopus trigger test-filter --filter '[{"value": {"status": ["failed"]}}]' --value '{"status": "failed"}'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("filter") {
				return usageErrorf("give --filter JSON or --filter @FILE")
			}
			flt, err := readJSONArg("filter", filter)
			if err != nil {
				return err
			}
			req := client.FilterTestRequest{Filter: flt, Record: client.FilterTestRecord{Topic: topic}}
			if cmd.Flags().Changed("value") {
				req.Record.Value = filterValue(value)
			}
			if cmd.Flags().Changed("key") {
				req.Record.Key = &key
			}
			if req.Record.Headers, err = kvs("header", headers); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			match, err := c.TestFilter(cmd.Context(), req)
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]bool{"match": match})
			}
			if match {
				fmt.Fprintln(cmd.OutOrStdout(), "match")
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "no match")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&filter, "filter", "", "the filter: a JSON array of event patterns, or @FILE")
	cmd.Flags().StringVar(&value, "value", "", "the record's value: JSON, or a plain string")
	cmd.Flags().StringVar(&key, "key", "", "the record's key")
	cmd.Flags().StringVar(&topic, "topic", "", "the record's topic")
	cmd.Flags().StringArrayVar(&headers, "header", nil, "a record header as Name=value (repeatable)")
	return cmd
}

// stateText is a trigger's state for people.
func stateText(t client.Trigger) string {
	if t.StateReason != "" {
		return t.State + " (" + t.StateReason + ")"
	}
	return t.State
}

// printNewTrigger prints a trigger with its signing secret, if any.
func printNewTrigger(cmd *cobra.Command, f *cliFlags, t client.NewTrigger) error {
	if f.output == "json" {
		return printJSON(cmd.OutOrStdout(), t)
	}
	if t.SigningSecret != "" {
		fmt.Fprintf(cmd.OutOrStdout(), "signing_secret  %s\n", t.SigningSecret)
	} else {
		fmt.Fprintln(cmd.OutOrStdout(), "signing_secret  (not shown: the trigger existed already, or this is a replay)")
	}
	return printTrigger(cmd, f, t.Trigger)
}

// printTrigger prints one trigger: JSON, or its settings.
func printTrigger(cmd *cobra.Command, f *cliFlags, t client.Trigger) error {
	w := cmd.OutOrStdout()
	if f.output == "json" {
		return printJSON(w, t)
	}
	filter := "-"
	if len(t.Filter) > 0 {
		filter = string(t.Filter)
	}
	names := make([]string, 0, len(t.Action.Headers))
	for k := range t.Action.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	headers := "-"
	if len(names) > 0 {
		headers = strings.Join(names, ",") + " (values not shown)"
	}
	rows := [][]string{
		{"id", t.ID}, {"name", t.Name}, {"state", stateText(t)}, {"version", fmt.Sprint(t.Version)},
		{"topics", strings.Join(t.Topics, ",")}, {"filter", filter},
		{"url", t.Action.URL}, {"method", t.Action.Method}, {"headers", headers},
		{"timeout", fmtMs(int64(t.Action.TimeoutMs))},
		{"batch_size", fmt.Sprint(t.BatchSize)}, {"batch_window", fmtMs(int64(t.BatchWindowMs))},
		{"start", t.Start}, {"concurrency", fmt.Sprintf("%d:%d", t.Concurrency.Min, t.Concurrency.Max)},
		{"ordering", t.Ordering},
		{"retry", fmt.Sprintf("%s, max age %s, backoff %s to %s", plural(t.Retry.MaxAttempts, "attempt", "attempts"),
			fmtMs(t.Retry.MaxRecordAgeMs), fmtMs(int64(t.Retry.BackoffMinMs)), fmtMs(int64(t.Retry.BackoffMaxMs)))},
		{"dead_letter_topic", orDash(t.DeadLetterTopic)},
		{"created_at", ts(&t.CreatedAt)}, {"updated_at", ts(&t.UpdatedAt)},
	}
	return table(w, rows)
}
