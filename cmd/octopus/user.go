package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/pkg/client"
)

// newUserCmd is `octopus user`: local users (administrators only).
func newUserCmd() *cobra.Command {
	var f cliFlags
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage local users (administrators only)",
	}
	groupCmd(cmd)
	addCLIFlags(cmd, &f)
	var idem string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a local user and print its token (shown only once)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), client.UserRequest{Name: a[0], IdempotencyKey: idem})
			if err != nil {
				return err
			}
			if u.Token != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "The token is shown only this once: give it to the user, who can `octopus login` with it.")
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), u)
			}
			tok := u.Token
			if u.TokenRedacted {
				tok = "(redacted: a replay of an earlier request)"
			}
			return table(cmd.OutOrStdout(), [][]string{
				{"identity", u.Identity}, {"name", u.Name}, {"namespace", u.Namespace}, {"token", tok}})
		},
	}
	add.Flags().StringVar(&idem, "idempotency-key", "", "make a retry of this command create nothing new")
	cmd.AddCommand(add)
	return cmd
}
