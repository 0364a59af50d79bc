package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/pkg/client"
)

// newKeyCmd is `octopus key`: the caller's Kafka keys.
func newKeyCmd() *cobra.Command {
	var f cliFlags
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage your Kafka keys (SASL/SCRAM credentials)",
	}
	groupCmd(cmd)
	addCLIFlags(cmd, &f)
	cmd.AddCommand(newKeyCreateCmd(&f), newKeyListCmd(&f), newKeyRevokeCmd(&f))
	return cmd
}

func newKeyCreateCmd(f *cliFlags) *cobra.Command {
	var desc, expires, idem string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a Kafka key and print its secret (shown only once)",
		Long: `Create a Kafka key. The secret is shown only this once. With -o json the
output is the whole key with ready-to-paste client settings; save it to a
file (mode 0600) for ` + "`octopus produce|consume --key FILE`" + `:

  octopus key create --description laptop -o json > key.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := client.KeyRequest{Description: desc, IdempotencyKey: idem}
			if expires != "" {
				t, err := parseExpiry(expires, time.Now())
				if err != nil {
					return usageError{err}
				}
				req.ExpiresAt = &t
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			if k.Secret != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "Warning: the secret is shown only this once; keep it safe (with -o json, in a file of mode 0600).")
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), k)
			}
			secret := k.Secret
			if k.SecretRedacted {
				secret = "(redacted: a replay of an earlier request)"
			}
			return table(cmd.OutOrStdout(), [][]string{
				{"id", k.ID},
				{"username", k.Username},
				{"secret", secret},
				{"sasl_mechanism", k.SASLMechanism},
				{"security_protocol", k.SecurityProtocol},
				{"bootstrap_servers", strings.Join(k.BootstrapServers, ",")},
				{"description", orDash(k.Description)},
				{"expires_at", ts(k.ExpiresAt)},
			})
		},
	}
	cmd.Flags().StringVar(&desc, "description", "", "what the key is for, e.g. the device")
	cmd.Flags().StringVar(&expires, "expires", "", "when the key expires: a duration (90m, 12h, 30d) or an RFC 3339 time; default never")
	cmd.Flags().StringVar(&idem, "idempotency-key", "", "make a retry of this command create nothing new (the retry shows no secret)")
	return cmd
}

func newKeyListCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List your keys (never their secrets)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			ks, err := c.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				if ks == nil {
					ks = []client.Key{}
				}
				return printJSON(cmd.OutOrStdout(), ks)
			}
			rows := [][]string{{"ID", "USERNAME", "DESCRIPTION", "CREATED", "EXPIRES"}}
			for _, k := range ks {
				rows = append(rows, []string{k.ID, k.Username, orDash(k.Description), ts(&k.CreatedAt), ts(k.ExpiresAt)})
			}
			return table(cmd.OutOrStdout(), rows)
		},
	}
}

func newKeyRevokeCmd(f *cliFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key: it can no longer log in, and its connections end",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.RevokeKey(cmd.Context(), a[0]); err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": a[0], "revoked": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked key %s\n", a[0])
			return nil
		},
	}
}

// parseExpiry reads --expires: an RFC 3339 time, or a duration from now
// (Go's syntax, plus whole days as "30d").
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--expires %q: want a positive duration (90m, 12h, 30d) or an RFC 3339 time (2030-01-02T15:04:05Z)", s)
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}

// parseDuration is time.ParseDuration that also takes whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
