package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/pkg/client"
)

// newTopicCmd is `octopus topic`: topics, their grants and groups.
func newTopicCmd() *cobra.Command {
	var f cliFlags
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Manage topics and who may read or write them",
		Long: `Manage topics. A topic is named <namespace>.<name>; commands take the short
name (in your namespace) or the full name.`,
	}
	groupCmd(cmd)
	addCLIFlags(cmd, &f)
	cmd.AddCommand(newTopicCreateCmd(&f), newTopicListCmd(&f), newTopicDescribeCmd(&f),
		newTopicUpdateCmd(&f), newTopicDeleteCmd(&f), newTopicRecreateCmd(&f),
		newTopicGrantCmd(&f), newTopicRevokeCmd(&f), newTopicGrantsCmd(&f), newTopicGroupsCmd(&f))
	return cmd
}

// topicSettings are the flags of create and update.
type topicSettings struct {
	partitions int32
	retention  string
	configs    []string
}

func (s *topicSettings) add(cmd *cobra.Command, partitionsHelp string) {
	cmd.Flags().Int32Var(&s.partitions, "partitions", 0, partitionsHelp)
	cmd.Flags().StringVar(&s.retention, "retention", "", `how long records are kept: a duration (12h, 7d) or "forever"`)
	cmd.Flags().StringArrayVar(&s.configs, "config", nil, "a topic config as key=value (repeatable), e.g. cleanup.policy=compact")
}

// retentionMS reads --retention: nil if unset.
func (s *topicSettings) retentionMS() (*int64, error) {
	if s.retention == "" {
		return nil, nil
	}
	ms := int64(-1)
	if s.retention != "forever" && s.retention != "-1" {
		d, err := parseDuration(s.retention)
		if err != nil || d.Milliseconds() <= 0 {
			return nil, usageErrorf(`--retention %q: want a duration (12h, 7d) or "forever"`, s.retention)
		}
		ms = d.Milliseconds()
	}
	return &ms, nil
}

// splitConfig splits a --config key=value.
func splitConfig(kv string) (string, string, error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", usageErrorf("--config %q: want key=value", kv)
	}
	return k, v, nil
}

func newTopicCreateCmd(f *cliFlags) *cobra.Command {
	var s topicSettings
	var idem string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic in your namespace",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			req := client.TopicRequest{Name: a[0], Partitions: s.partitions, IdempotencyKey: idem}
			var err error
			if req.RetentionMS, err = s.retentionMS(); err != nil {
				return err
			}
			for _, kv := range s.configs {
				k, v, err := splitConfig(kv)
				if err != nil {
					return err
				}
				if req.Configs == nil {
					req.Configs = map[string]string{}
				}
				req.Configs[k] = v
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.CreateTopic(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printTopic(cmd, f, t)
		},
	}
	s.add(cmd, "the number of partitions (default: the server's, 1)")
	cmd.Flags().StringVar(&idem, "idempotency-key", "", "make a retry of this command create nothing new")
	return cmd
}

func newTopicListCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the topics you own or may use",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ts, err := c.ListTopics(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				if ts == nil {
					ts = []client.Topic{}
				}
				return printJSON(cmd.OutOrStdout(), ts)
			}
			rows := [][]string{{"NAME", "PARTITIONS", "OWNER", "ACCESS"}}
			for _, t := range ts {
				rows = append(rows, []string{t.Name, fmt.Sprint(t.Partitions), t.Owner, access(t)})
			}
			return table(cmd.OutOrStdout(), rows)
		},
	}
}

func newTopicDescribeCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic, its configs and (to its owner) its grants",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.GetTopic(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return printTopic(cmd, f, t)
		},
	}
}

func newTopicUpdateCmd(f *cliFlags) *cobra.Command {
	var s topicSettings
	var reset []string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a topic's partitions (only up), retention or configs",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var p client.TopicPatch
			if cmd.Flags().Changed("partitions") {
				p.Partitions = &s.partitions
			}
			var err error
			if p.RetentionMS, err = s.retentionMS(); err != nil {
				return err
			}
			for _, kv := range s.configs {
				k, v, err := splitConfig(kv)
				if err != nil {
					return err
				}
				if p.Configs == nil {
					p.Configs = map[string]*string{}
				}
				p.Configs[k] = &v
			}
			for _, k := range reset {
				if p.Configs == nil {
					p.Configs = map[string]*string{}
				}
				p.Configs[k] = nil
			}
			if p.Partitions == nil && p.RetentionMS == nil && p.Configs == nil {
				return usageErrorf("nothing to change: give --partitions, --retention, --config or --reset-config")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.UpdateTopic(cmd.Context(), a[0], p)
			if err != nil {
				return err
			}
			return printTopic(cmd, f, t)
		},
	}
	s.add(cmd, "the new number of partitions (only up)")
	cmd.Flags().StringArrayVar(&reset, "reset-config", nil, "reset a topic config to the default (repeatable)")
	return cmd
}

func newTopicDeleteCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic you own, with its records and grants",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DeleteTopic(cmd.Context(), a[0]); err != nil {
				return err
			}
			return done(cmd, f, map[string]any{"topic": a[0], "deleted": true}, "Deleted topic %s\n", a[0])
		},
	}
}

func newTopicRecreateCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "recreate NAME",
		Short: "Recreate a topic you own in the event plane (after it went missing there)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.RecreateTopic(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return printTopic(cmd, f, t)
		},
	}
}

func newTopicGrantCmd(f *cliFlags) *cobra.Command {
	var read, write bool
	cmd := &cobra.Command{
		Use:   "grant NAME IDENTITY",
		Short: "Let an identity read and/or write a topic you own",
		Long: `Grant sets what IDENTITY (as ` + "`octopus whoami`" + ` shows it, e.g. local:bob) may
do with the topic: --read, --write or both. It replaces an earlier grant.
The grantee consumes in groups of its own namespace.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !read && !write {
				return usageErrorf("give --read, --write or both (`octopus topic revoke` takes a grant away)")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			g, err := c.PutGrant(cmd.Context(), a[0], a[1], client.Access{Read: read, Write: write})
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), g)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Granted %s %s on %s\n", g.Identity, accessOf(g.Read, g.Write), a[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&read, "read", false, "may consume")
	cmd.Flags().BoolVar(&write, "write", false, "may produce")
	return cmd
}

func newTopicRevokeCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME IDENTITY",
		Short: "Take away an identity's access to a topic you own",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DeleteGrant(cmd.Context(), a[0], a[1]); err != nil {
				return err
			}
			return done(cmd, f, map[string]any{"topic": a[0], "identity": a[1], "revoked": true},
				"Revoked %s's access to %s\n", a[1], a[0])
		},
	}
}

func newTopicGrantsCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "grants NAME",
		Short: "List a topic's grants",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			gs, err := c.ListGrants(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				if gs == nil {
					gs = []client.Grant{}
				}
				return printJSON(cmd.OutOrStdout(), gs)
			}
			return table(cmd.OutOrStdout(), grantRows(gs))
		},
	}
}

func newTopicGroupsCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "groups NAME",
		Short: "List the consumer groups of a topic and their lag",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			gs, err := c.TopicGroups(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				if gs == nil {
					gs = []client.GroupLag{}
				}
				return printJSON(cmd.OutOrStdout(), gs)
			}
			rows := [][]string{{"GROUP", "STATE", "MEMBERS", "LAG"}}
			for _, g := range gs {
				rows = append(rows, []string{g.Group, g.State, fmt.Sprint(g.Members), fmt.Sprint(g.Lag)})
			}
			return table(cmd.OutOrStdout(), rows)
		},
	}
}

// printTopic prints one topic: JSON, or its fields, configs and grants.
func printTopic(cmd *cobra.Command, f *cliFlags, t client.Topic) error {
	w := cmd.OutOrStdout()
	if f.output == "json" {
		return printJSON(w, t)
	}
	rows := [][]string{
		{"name", t.Name}, {"namespace", t.Namespace}, {"owner", t.Owner}, {"access", access(t)},
		{"partitions", fmt.Sprint(t.Partitions)}, {"created_at", ts(&t.CreatedAt)}, {"updated_at", ts(&t.UpdatedAt)},
	}
	keys := make([]string, 0, len(t.Configs))
	for k := range t.Configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows = append(rows, []string{"config " + k, t.Configs[k]})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	if len(t.Grants) > 0 {
		fmt.Fprintln(w)
		return table(w, grantRows(t.Grants))
	}
	return nil
}

func grantRows(gs []client.Grant) [][]string {
	rows := [][]string{{"IDENTITY", "NAME", "ACCESS"}}
	for _, g := range gs {
		rows = append(rows, []string{g.Identity, orDash(g.Name), accessOf(g.Read, g.Write)})
	}
	return rows
}

// access is the caller's access to t for a table: owner, read, write, …
func access(t client.Topic) string {
	if t.Owned {
		return "owner"
	}
	return accessOf(t.Access.Read, t.Access.Write)
}

func accessOf(read, write bool) string {
	var a []string
	if read {
		a = append(a, "read")
	}
	if write {
		a = append(a, "write")
	}
	if len(a) == 0 {
		return "none"
	}
	return strings.Join(a, ",")
}

// done prints the outcome of a command without an answer body.
func done(cmd *cobra.Command, f *cliFlags, v any, format string, a ...any) error {
	if f.output == "json" {
		return printJSON(cmd.OutOrStdout(), v)
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), format, a...)
	return err
}
