package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/invoke"
	"github.com/octofabric/octopus/pkg/client"
)

var whSecret = []byte("whsec-test")

func sig(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func signedHeader(secret []byte, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set(client.WebhookTimestampHeader, ts)
	h.Set(client.WebhookSignatureHeader, sig(secret, ts, body))
	return h
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	body := []byte(`{"records":[]}`)
	good := signedHeader(whSecret, now, body)
	ts := good.Get(client.WebhookTimestampHeader)
	with := func(k, v string) http.Header {
		h := good.Clone()
		h.Set(k, v)
		return h
	}
	rotated := good.Clone()
	rotated.Set(client.WebhookSignatureHeader, sig([]byte("new"), ts, body)+", "+good.Get(client.WebhookSignatureHeader))
	twoLines := good.Clone()
	twoLines.Set(client.WebhookSignatureHeader, sig([]byte("new"), ts, body))
	twoLines.Add(client.WebhookSignatureHeader, good.Get(client.WebhookSignatureHeader))

	for _, tc := range []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", whSecret, good, body, now, nil},
		{"clock 4 min behind", whSecret, good, body, now.Add(-4 * time.Minute), nil},
		{"clock 4 min ahead", whSecret, good, body, now.Add(4 * time.Minute), nil},
		{"rotation, comma-separated", whSecret, rotated, body, now, nil},
		{"rotation, two header lines", whSecret, twoLines, body, now, nil},
		{"uppercase hex", whSecret, with(client.WebhookSignatureHeader, "v1="+hexUpper(good.Get(client.WebhookSignatureHeader)[3:])), body, now, nil},
		{"tampered body", whSecret, good, []byte(`{"records":[{}]}`), now, client.ErrWebhookSignature},
		{"wrong secret", []byte("other"), good, body, now, client.ErrWebhookSignature},
		{"old timestamp", whSecret, good, body, now.Add(6 * time.Minute), client.ErrWebhookTimestamp},
		{"future timestamp", whSecret, good, body, now.Add(-6 * time.Minute), client.ErrWebhookTimestamp},
		{"timestamp changed", whSecret, with(client.WebhookTimestampHeader, strconv.FormatInt(now.Unix()+1, 10)), body, now, client.ErrWebhookSignature},
		{"no timestamp", whSecret, with(client.WebhookTimestampHeader, ""), body, now, client.ErrWebhookTimestamp},
		{"signed timestamp with sign", whSecret, with(client.WebhookTimestampHeader, "+"+ts), body, now, client.ErrWebhookTimestamp},
		{"no signature", whSecret, with(client.WebhookSignatureHeader, ""), body, now, client.ErrWebhookSignature},
		{"other scheme", whSecret, with(client.WebhookSignatureHeader, "v0="+good.Get(client.WebhookSignatureHeader)[3:]), body, now, client.ErrWebhookSignature},
		{"short signature", whSecret, with(client.WebhookSignatureHeader, good.Get(client.WebhookSignatureHeader)[:40]), body, now, client.ErrWebhookSignature},
	} {
		err := client.VerifyWebhook(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func hexUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestVerifyWebhookDefaultTolerance(t *testing.T) {
	now := time.Unix(1_780_000_000, 0)
	h := signedHeader(whSecret, now, nil)
	if err := client.VerifyWebhook(whSecret, h, nil, now.Add(4*time.Minute), 0); err != nil {
		t.Errorf("within the default tolerance: %v", err)
	}
	if err := client.VerifyWebhook(whSecret, h, nil, now.Add(time.Hour), 0); !errors.Is(err, client.ErrWebhookTimestamp) {
		t.Errorf("an hour late with the default tolerance: %v", err)
	}
}

// TestVerifyWebhookOfInvoker checks the receiver's side against what the
// trigger invoker really sends.
func TestVerifyWebhookOfInvoker(t *testing.T) {
	type call struct {
		header http.Header
		body   []byte
	}
	calls := make(chan call, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- call{r.Header.Clone(), body}
	}))
	defer srv.Close()

	sent := time.Now().Add(-10 * time.Minute)
	iv := invoke.New(invoke.Config{AllowPrivate: true, Now: func() time.Time { return sent }})
	defer iv.Close()
	d := trigger.Deployed{ID: "trg-9", Secret: whSecret, Spec: trigger.Spec{Action: trigger.Action{URL: srv.URL}}}
	b := &trigger.Batch{TriggerID: "trg-9", ID: "dlv-1", Attempt: 1, Records: []trigger.Record{{Topic: "t", Value: []byte(`{"a":1}`)}}}
	if err := iv.Handler(d).Handle(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	c := <-calls
	if err := client.VerifyWebhook(whSecret, c.header, c.body, sent.Add(time.Second), time.Minute); err != nil {
		t.Errorf("the invoker's call does not verify: %v", err)
	}
	tampered := append([]byte(nil), c.body...)
	tampered[len(tampered)-3] ^= 1
	if err := client.VerifyWebhook(whSecret, c.header, tampered, sent, time.Minute); !errors.Is(err, client.ErrWebhookSignature) {
		t.Errorf("tampered body: %v", err)
	}
	if err := client.VerifyWebhook([]byte("wrong"), c.header, c.body, sent, time.Minute); !errors.Is(err, client.ErrWebhookSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := client.VerifyWebhook(whSecret, c.header, c.body, time.Now(), 5*time.Minute); !errors.Is(err, client.ErrWebhookTimestamp) {
		t.Errorf("sent 10 minutes ago: %v", err)
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	now := time.Unix(1_780_000_000, 0)
	good := signedHeader(whSecret, now, []byte("{}"))
	f.Add(good.Get(client.WebhookTimestampHeader), good.Get(client.WebhookSignatureHeader), []byte("{}"))
	f.Add("", "", []byte(nil))
	f.Add("99999999999999999999", "v1=zz, v1=, =, v2=00", []byte("x"))
	f.Add("-1", ",,,v1=,"+good.Get(client.WebhookSignatureHeader), []byte("{}"))
	f.Fuzz(func(t *testing.T, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(client.WebhookTimestampHeader, ts)
		h.Set(client.WebhookSignatureHeader, sigs)
		err := client.VerifyWebhook(whSecret, h, body, now, time.Minute)
		if err == nil {
			// Accepting means one v1= part is the real signature.
			want := sig(whSecret, ts, body)[3:]
			found := false
			for _, p := range splitSigs(sigs) {
				if len(p) == 67 && p[:3] == "v1=" && hexEqualFold(p[3:], want) {
					found = true
				}
			}
			if !found {
				t.Errorf("accepted ts %q sigs %q", ts, sigs)
			}
		}
	})
}

func splitSigs(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func hexEqualFold(a, b string) bool {
	x, err1 := hex.DecodeString(a)
	y, err2 := hex.DecodeString(b)
	return err1 == nil && err2 == nil && hmac.Equal(x, y)
}
