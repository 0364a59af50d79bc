package invoke

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var raNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"3599", 3599 * time.Second},
		{"3600", time.Hour},
		{"86400", time.Hour},
		{"99999999999999999999999999", time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"5s", 0},
		{"soon", 0},
		{raNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{raNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		{raNow.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
		{"Wednesday, 06-May-26 07:10:09 GMT", 2 * time.Minute}, // RFC 850
		{"Wed May  6 07:08:19 2026", 10 * time.Second},         // asctime
		{"Wed, 06 May 2026 07:08:99 GMT", 0},
	} {
		if got := parseRetryAfter(tc.in, raNow); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "99999999999999999999", "Wed, 06 May 2026 07:10:09 GMT", "Wed May  6 07:08:19 2026", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, raNow); d < 0 || d > maxRetryAfter {
			t.Errorf("parseRetryAfter(%q) = %v, outside [0, %v]", s, d, maxRetryAfter)
		}
	})
}

func TestSnippet(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  plain  ", "plain"},
		{"a\r\n\tb\x00\x7fc", "a b c"},
		{"bad \xff\xfe utf8", "bad \uFFFD utf8"},
		{"cut é"[:len("cut é")-1], "cut"},
		{"cut ✓"[:len("cut ✓")-2], "cut"},
		{`{"error": "quota"}`, `{"error": "quota"}`},
	} {
		if got := snippet([]byte(tc.in)); got != tc.want {
			t.Errorf("snippet(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("✓", 1000)
	if s := snippet([]byte(long)[:maxSnippet]); !utf8.ValidString(s) || len(s) > maxSnippet {
		t.Errorf("snippet of %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
}

func TestRetryAfterOnlyOnRetryableAnswers(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader([]int{429, 503, 408, 400}[n-1])
	})
	h := newTestInvoker(t, Config{}).Handler(deployed(rc.URL))
	for i, want := range []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 0} {
		ce := callErr(t, h.Handle(t.Context(), testBatch(1)))
		if ce.RetryAfter != want {
			t.Errorf("answer %d: RetryAfter %v, want %v", i+1, ce.RetryAfter, want)
		}
	}
}
