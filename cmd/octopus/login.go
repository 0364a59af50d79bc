package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newLoginCmd is `octopus login`: check a token with GET /me and save it
// for the server.
func newLoginCmd() *cobra.Command {
	var f cliFlags
	var tokenFile string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Save a token for a server (pasted on stdin or read from a file)",
		Long: `Login checks a token with the server (GET /api/v1/me) and saves it for
that server in $XDG_CONFIG_HOME/octopus/credentials.json (else
~/.config/octopus/credentials.json), mode 0600. Later commands with the same
--server use it unless --token or $OCTOPUS_TOKEN is set.

The token is --token, else the file --token-file ("-" for stdin), else one
line read from stdin (pasted at the prompt). Local tokens come from
` + "`octopus user add`" + ` (the administrator's is DATA_DIR/admin.token).

The OAuth device-code flow (logging in through an identity provider in a
browser) is not supported yet: get a token from the provider and paste it.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			tok := f.token
			var err error
			switch {
			case tok != "":
			case tokenFile != "" && tokenFile != "-":
				var b []byte
				b, err = os.ReadFile(tokenFile)
				tok = strings.TrimSpace(string(b))
			default:
				if tokenFile == "" && isTerminal(os.Stdin) {
					fmt.Fprintf(cmd.ErrOrStderr(), "Paste a token for %s: ", f.serverURL())
				}
				tok, err = readLine(cmd.InOrStdin())
			}
			if err != nil {
				return fmt.Errorf("reading the token: %w", err)
			}
			if tok == "" {
				return errors.New("no token given")
			}
			me, err := newAPIClient(f.serverURL(), tok).Me(cmd.Context())
			if err != nil {
				return fmt.Errorf("checking the token with %s: %w", f.serverURL(), err)
			}
			creds, _, err := loadCredentials()
			if err != nil {
				return err
			}
			creds.Servers[f.serverURL()] = savedLogin{Token: tok, Identity: me.Identity, SavedAt: time.Now().UTC()}
			path, err := saveCredentials(creds)
			if err != nil {
				return fmt.Errorf("saving the token: %w", err)
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"server": f.serverURL(), "me": me, "credentials": path})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s (namespace %s); token saved in %s\n",
				f.serverURL(), me.Identity, me.Namespace, path)
			return nil
		},
	}
	addCLIFlags(cmd, &f)
	cmd.Flags().StringVar(&tokenFile, "token-file", "", `read the token from this file ("-": stdin)`)
	return cmd
}

// newWhoamiCmd is `octopus whoami`: GET /me.
func newWhoamiCmd() *cobra.Command {
	var f cliFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the identity and namespace of the token",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			me, err := c.Me(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printJSON(cmd.OutOrStdout(), me)
			}
			return table(cmd.OutOrStdout(), [][]string{
				{"identity", me.Identity}, {"name", me.Name}, {"namespace", me.Namespace},
				{"admin", fmt.Sprint(me.Admin)}})
		},
	}
	addCLIFlags(cmd, &f)
	return cmd
}

// readLine returns the first line of r, trimmed.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
