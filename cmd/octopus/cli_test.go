package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octofabric/octopus/pkg/client"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "90m", want: now.Add(90 * time.Minute).Truncate(time.Second)},
		{in: "30d", want: now.Add(30 * 24 * time.Hour).Truncate(time.Second)},
		{in: "2031-05-06T07:08:09Z", want: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)},
		{in: "0s", bad: true},
		{in: "-1h", bad: true},
		{in: "xd", bad: true},
		{in: "tomorrow", bad: true},
	} {
		got, err := parseExpiry(c.in, now)
		if c.bad != (err != nil) || (!c.bad && !got.Equal(c.want)) {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v (bad %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestParseFrom(t *testing.T) {
	for in, want := range map[string]string{
		"earliest": "earliest", "latest": "latest", "42": "offset", "2030-01-02T03:04:05Z": "time",
		"-1": "", "yesterday": "",
	} {
		got, err := parseFrom(in)
		if (want == "") != (err != nil) || got.kind != want {
			t.Errorf("parseFrom(%q) = %+v, %v; want kind %q", in, got, err, want)
		}
		if err != nil && exitCode(err) != 2 {
			t.Errorf("parseFrom(%q): exit code %d, want 2", in, exitCode(err))
		}
	}
}

func TestRetention(t *testing.T) {
	for in, want := range map[string]int64{"forever": -1, "-1": -1, "12h": 43_200_000, "7d": 604_800_000, "bad": 0, "0s": 0} {
		s := topicSettings{retention: in}
		got, err := s.retentionMS()
		if want == 0 {
			if err == nil {
				t.Errorf("retention %q: no error", in)
			}
			continue
		}
		if err != nil || *got != want {
			t.Errorf("retention %q = %v, %v; want %d", in, got, err, want)
		}
	}
}

func TestFullName(t *testing.T) {
	k := client.NewKey{Key: client.Key{Username: "alice.k-abcdefabcdef"}}
	for in, want := range map[string]string{"events": "alice.events", "bob.events": "bob.events", "alice.x": "alice.x"} {
		if got := fullName(k, in); got != want {
			t.Errorf("fullName(%q) = %q, want %q", in, got, want)
		}
	}
	if keyNamespace(client.NewKey{}) != "" {
		t.Error("keyNamespace of an empty key")
	}
}

func TestExitCode(t *testing.T) {
	if exitCode(errors.New("boom")) != 1 || exitCode(usageErrorf("bad")) != 2 ||
		exitCode(errors.New(`unknown command "x" for "octopus"`)) != 2 || exitCode(&client.Error{Status: 404}) != 1 {
		t.Fatal("exit codes")
	}
}

// TestCredentials checks that tokens are saved per server, mode 0600, and
// resolved after --token and $OCTOPUS_TOKEN.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("OCTOPUS_TOKEN", "")
	f := cliFlags{server: "http://a:1/", output: "table"}
	if _, err := f.resolveToken(); err == nil {
		t.Fatal("a token with no credentials")
	}
	c, _, err := loadCredentials()
	if err != nil {
		t.Fatal(err)
	}
	c.Servers["http://a:1"] = savedLogin{Token: "ta"}
	c.Servers["http://b:2"] = savedLogin{Token: "tb"}
	path, err := saveCredentials(c)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "octopus", "credentials.json") {
		t.Fatalf("path %s", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	if tok, err := f.resolveToken(); err != nil || tok != "ta" {
		t.Fatalf("saved token: %q %v", tok, err)
	}
	t.Setenv("OCTOPUS_TOKEN", "env")
	if tok, _ := f.resolveToken(); tok != "env" {
		t.Fatalf("$OCTOPUS_TOKEN: %q", tok)
	}
	f.token = "flag"
	if tok, _ := f.resolveToken(); tok != "flag" {
		t.Fatalf("--token: %q", tok)
	}
	if err := (&cliFlags{server: "ftp://x", output: "table"}).check(); exitCode(err) != 2 {
		t.Fatalf("ftp server: %v", err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCredentials(); err == nil {
		t.Fatal("a corrupt credentials file loaded")
	}
}
