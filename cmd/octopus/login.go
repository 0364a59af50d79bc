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

	"github.com/octofabric/octopus/pkg/client"
)

// newLoginCmd is `octopus login`: get a token (device-code flow, or a
// pasted one), check it with GET /me and save it for the server.
func newLoginCmd() *cobra.Command {
	var f cliFlags
	var tokenFile string
	var device, paste bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a server: through the identity provider in a browser, or with a token",
		Long: `Login gets a token for --server, checks it (GET /api/v1/me) and saves it
in $XDG_CONFIG_HOME/octopus/credentials.json (else
~/.config/octopus/credentials.json), mode 0600. Later commands with the same
--server use it unless --token or $OCTOPUS_TOKEN is set.

The token is --token, else the file --token-file ("-" for stdin). Without
either, when the server's identity provider offers the OAuth device-code
flow (GET /api/v1/login) and standard input is a terminal (or --device is
given), login prints a URL and a code: open the URL in any browser, on any
machine, sign in and enter the code; login waits and saves the tokens,
refreshing them later when they expire. Otherwise it reads one line from
stdin (pasted at the prompt; --paste forces this). Local tokens come from
` + "`octopus user add`" + ` (the administrator's is DATA_DIR/admin.token).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if device && (paste || f.token != "" || tokenFile != "") {
				return usageErrorf("--device excludes --paste, --token and --token-file")
			}
			ctx := cmd.Context()
			login := savedLogin{Token: f.token}
			var err error
			switch {
			case login.Token != "":
			case tokenFile != "" && tokenFile != "-":
				var b []byte
				b, err = os.ReadFile(tokenFile)
				login.Token = strings.TrimSpace(string(b))
			case device || !paste && tokenFile == "" && isTerminal(os.Stdin):
				var info client.LoginInfo
				info, err = newAPIClient(f.serverURL(), "").LoginInfo(ctx)
				switch {
				case err != nil:
					return fmt.Errorf("asking %s how to log in: %w", f.serverURL(), err)
				case info.DeviceCode != nil:
					return deviceLogin(cmd, f, *info.DeviceCode)
				case device:
					return fmt.Errorf("%s offers no device-code login (its identity provider has none, or no client ID is configured); use --token or --paste", f.serverURL())
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Paste a token for %s: ", f.serverURL())
				login.Token, err = readLine(cmd.InOrStdin())
			default:
				login.Token, err = readLine(cmd.InOrStdin())
			}
			if err != nil {
				return fmt.Errorf("reading the token: %w", err)
			}
			if login.Token == "" {
				return errors.New("no token given")
			}
			me, err := newAPIClient(f.serverURL(), login.Token).Me(ctx)
			if err != nil {
				return fmt.Errorf("checking the token with %s: %w", f.serverURL(), err)
			}
			return saveLogin(cmd, f, login, me)
		},
	}
	addCLIFlags(cmd, &f)
	cmd.Flags().StringVar(&tokenFile, "token-file", "", `read the token from this file ("-": stdin)`)
	cmd.Flags().BoolVar(&device, "device", false, "log in through the identity provider (device-code flow), even without a terminal")
	cmd.Flags().BoolVar(&paste, "paste", false, "read a token from stdin even when the device-code flow is offered")
	return cmd
}

// deviceLogin runs the device-code flow and saves the token the server
// accepts: the access token, else the ID token (which one carries the
// audience the server checks depends on the provider).
func deviceLogin(cmd *cobra.Command, f cliFlags, info client.DeviceCodeInfo) error {
	ctx := cmd.Context()
	dl, err := newAPIClient(f.serverURL(), "").StartDeviceLogin(ctx, info)
	if err != nil {
		return err
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "To log in to %s, open\n\n    %s\n\nin a browser and enter the code\n\n    %s\n\n", f.serverURL(), dl.VerificationURI, dl.UserCode)
	if dl.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", dl.VerificationURIComplete)
	}
	if !dl.ExpiresAt.IsZero() {
		fmt.Fprintf(w, "Waiting until %s ...\n", dl.ExpiresAt.Local().Format(time.Kitchen))
	}
	tok, err := dl.Wait(ctx)
	if err != nil {
		return err
	}
	login, me, err := acceptedToken(cmd, f, tok, info)
	if err != nil {
		return err
	}
	return saveLogin(cmd, f, login, me)
}

// acceptedToken picks the token of tok that the server accepts.
func acceptedToken(cmd *cobra.Command, f cliFlags, tok client.Token, info client.DeviceCodeInfo) (savedLogin, client.Me, error) {
	var firstErr error
	for _, c := range []struct{ kind, token string }{{"access_token", tok.AccessToken}, {"id_token", tok.IDToken}} {
		if c.token == "" {
			continue
		}
		me, err := newAPIClient(f.serverURL(), c.token).Me(cmd.Context())
		if err == nil {
			return savedLogin{Token: c.token, TokenKind: c.kind, RefreshToken: tok.RefreshToken,
				ExpiresAt: tok.Expiry, Provider: &info}, me, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: %w", c.kind, err)
		}
	}
	if firstErr == nil {
		firstErr = errors.New("the provider returned no token")
	}
	return savedLogin{}, client.Me{}, fmt.Errorf("%s accepts none of the provider's tokens: %w", f.serverURL(), firstErr)
}

// saveLogin stores login for the server and reports it.
func saveLogin(cmd *cobra.Command, f cliFlags, login savedLogin, me client.Me) error {
	creds, _, err := loadCredentials()
	if err != nil {
		return err
	}
	login.Identity, login.SavedAt = me.Identity, time.Now().UTC()
	creds.Servers[f.serverURL()] = login
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
