package main

// The client commands (login, whoami, user, key, topic, trigger, produce,
// consume) are clients of the REST API through the public SDK, pkg/client:
// one file per command group. This file holds what they share: the
// --server, --token and -o flags, the saved credentials, output and exit
// codes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/pkg/client"
)

// defaultServer is the server of the client commands when neither
// --server nor $OCTOPUS_SERVER is set: `octopus serve`'s default
// --http-listen.
const defaultServer = "http://127.0.0.1:8000"

// cliFlags are the flags every client command takes.
type cliFlags struct {
	server string
	token  string
	output string // table or json
}

// addCLIFlags adds --server, --token and -o to a client command and its
// subcommands.
func addCLIFlags(cmd *cobra.Command, f *cliFlags) {
	server := os.Getenv("OCTOPUS_SERVER")
	if server == "" {
		server = defaultServer
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", server, "the Octopus server's URL ($OCTOPUS_SERVER)")
	pf.StringVar(&f.token, "token", "", "a bearer token (default $OCTOPUS_TOKEN, else the one \"octopus login\" saved for --server)")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
}

// serverURL is --server without a trailing slash.
func (f *cliFlags) serverURL() string { return strings.TrimRight(f.server, "/") }

// check validates the flags (a usage error otherwise).
func (f *cliFlags) check() error {
	if f.output != "table" && f.output != "json" {
		return usageErrorf("-o must be table or json, not %q", f.output)
	}
	if !strings.HasPrefix(f.server, "http://") && !strings.HasPrefix(f.server, "https://") {
		return usageErrorf("--server must be an http:// or https:// URL, not %q", f.server)
	}
	return nil
}

// resolveToken is --token, else $OCTOPUS_TOKEN, else the saved token of
// the server.
func (f *cliFlags) resolveToken() (string, error) {
	if f.token != "" {
		return f.token, nil
	}
	if t := strings.TrimSpace(os.Getenv("OCTOPUS_TOKEN")); t != "" {
		return t, nil
	}
	creds, path, err := loadCredentials()
	if err != nil {
		return "", err
	}
	c, ok := creds.Servers[f.serverURL()]
	switch {
	case !ok || c.Token == "":
	case c.ExpiresAt.IsZero() || time.Until(c.ExpiresAt) > refreshMargin:
		return c.Token, nil
	case c.RefreshToken == "" || c.Provider == nil:
		return "", fmt.Errorf("the token saved for %s expired at %s: run `octopus login --server %s`",
			f.serverURL(), c.ExpiresAt.Local().Format(time.RFC3339), f.serverURL())
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := c.refresh(ctx, f.serverURL())
		if err != nil {
			return "", fmt.Errorf("the token saved for %s expired and could not be refreshed (%w): run `octopus login --server %s`",
				f.serverURL(), err, f.serverURL())
		}
		creds.Servers[f.serverURL()] = c
		if _, err := saveCredentials(creds); err != nil {
			return "", fmt.Errorf("saving the refreshed token: %w", err)
		}
		return c.Token, nil
	}
	return "", fmt.Errorf("no token for %s: run `octopus login --server %s`, or set --token or $OCTOPUS_TOKEN (looked in %s)",
		f.serverURL(), f.serverURL(), path)
}

// client returns an API client of --server with the resolved token.
func (f *cliFlags) client() (*client.Client, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	tok, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	return newAPIClient(f.serverURL(), tok), nil
}

func newAPIClient(server, token string) *client.Client {
	return client.New(server, token, client.WithUserAgent("octopus-cli"))
}

// credentials is the file `octopus login` writes: a token per server.
type credentials struct {
	Servers map[string]savedLogin `json:"servers"`
}

type savedLogin struct {
	Token    string    `json:"token"`
	Identity string    `json:"identity,omitempty"`
	SavedAt  time.Time `json:"saved_at"`
	// Set by the device-code flow: which of the provider's tokens Token
	// is ("access_token" or "id_token"), and how to refresh it.
	TokenKind    string                 `json:"token_kind,omitempty"`
	ExpiresAt    time.Time              `json:"expires_at,omitzero"`
	RefreshToken string                 `json:"refresh_token,omitempty"`
	Provider     *client.DeviceCodeInfo `json:"provider,omitempty"`
}

// refreshMargin is how long before its expiry a saved token is refreshed.
const refreshMargin = time.Minute

// refresh returns l with fresh tokens from its provider.
func (l savedLogin) refresh(ctx context.Context, server string) (savedLogin, error) {
	tok, err := newAPIClient(server, "").RefreshToken(ctx, *l.Provider, l.RefreshToken)
	if err != nil {
		return l, err
	}
	l.Token = tok.AccessToken
	if l.TokenKind == "id_token" {
		l.Token = tok.IDToken
	}
	if l.Token == "" {
		return l, fmt.Errorf("the provider's refresh answer has no %s", l.TokenKind)
	}
	l.RefreshToken, l.ExpiresAt, l.SavedAt = tok.RefreshToken, tok.Expiry, time.Now().UTC()
	return l, nil
}

// credentialsPath is $XDG_CONFIG_HOME/octopus/credentials.json, or
// ~/.config/octopus/credentials.json.
func credentialsPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no $XDG_CONFIG_HOME and no home directory: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "octopus", "credentials.json"), nil
}

// loadCredentials reads the credentials file; a missing file is empty.
func loadCredentials() (credentials, string, error) {
	c := credentials{Servers: map[string]savedLogin{}}
	path, err := credentialsPath()
	if err != nil {
		return c, "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, path, nil
	}
	if err != nil {
		return c, path, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, path, fmt.Errorf("%s: %w", path, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]savedLogin{}
	}
	return c, path, nil
}

// saveCredentials writes c with mode 0600 (directory 0700): to a
// temporary file, synced, then renamed over the old one.
func saveCredentials(c credentials) (string, error) {
	path, err := credentialsPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*.json")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows aligned in columns; the first row is the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// ts formats a time for a table; zero or nil is "-".
func ts(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// args wraps a cobra argument check so that its error is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// groupCmd finishes a command that only groups subcommands: without
// arguments it prints its help; an unknown subcommand is a usage error.
func groupCmd(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 {
			return usageErrorf("unknown command %q for %q", a[0], cmd.CommandPath())
		}
		return cmd.Help()
	}
	return cmd
}

// exitCode is the exit status for err: 2 for a usage error, else 1.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command ") {
		return 2
	}
	return 1
}

// jsonMarshal is json.Marshal without HTML escaping.
func jsonMarshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
