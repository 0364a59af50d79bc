package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a trigger's call (docs/TRIGGERS_ACTIONS.md).
const (
	WebhookTriggerHeader   = "X-Octopus-Trigger"
	WebhookDeliveryHeader  = "X-Octopus-Delivery"
	WebhookAttemptHeader   = "X-Octopus-Attempt"
	WebhookTimestampHeader = "X-Octopus-Timestamp"
	WebhookSignatureHeader = "X-Octopus-Signature"
)

// DefaultWebhookTolerance is how far a call's timestamp may be from the
// receiver's clock when VerifyWebhook is given no tolerance.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook; test for them with errors.Is.
var (
	ErrWebhookSignature = errors.New("octopus webhook: the signature does not match")
	ErrWebhookTimestamp = errors.New("octopus webhook: the timestamp is missing, malformed or outside the tolerance")
)

// maxSignatures bounds the signatures VerifyWebhook tries, so a forged
// header cannot make it compute without end.
const maxSignatures = 16

// VerifyWebhook checks that a trigger's call was signed with secret: the
// X-Octopus-Signature header must hold a v1= signature equal to the
// hex HMAC-SHA256 of X-Octopus-Timestamp "." body, and the timestamp must
// be within ±tolerance of now (replay protection; tolerance ≤ 0 means
// DefaultWebhookTolerance). The header may carry several comma-separated
// signatures (during a rotation of secrets); one match is enough. Pass the
// body exactly as received, before any decoding.
//
// secret is the key itself: the signing_secret that creating the trigger
// (or rotating its secret) answered, decoded from unpadded base64url
// (base64.RawURLEncoding).
//
// A receiver that holds several secrets (its own rotation) calls
// VerifyWebhook once per secret. Deduplicate deliveries by
// X-Octopus-Delivery: a batch is delivered at least once.
func VerifyWebhook(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	tsText := header.Get(WebhookTimestampHeader)
	ts, ok := parseUnix(tsText)
	if !ok {
		return ErrWebhookTimestamp
	}

	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tsText))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)

	matched, seen := false, 0
	var got [sha256.Size]byte
	for _, line := range header.Values(WebhookSignatureHeader) {
		for part := range strings.SplitSeq(line, ",") {
			if seen++; seen > maxSignatures {
				break
			}
			scheme, sig, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || scheme != "v1" || hex.DecodedLen(len(sig)) != len(got) {
				continue
			}
			if _, err := hex.Decode(got[:], []byte(sig)); err != nil {
				continue
			}
			// Every candidate is compared, in constant time each, so the
			// time taken says nothing about which one matched.
			if hmac.Equal(got[:], want) {
				matched = true
			}
		}
	}
	if !matched {
		return ErrWebhookSignature
	}

	skew := now.Sub(time.Unix(ts, 0))
	if skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: %s is %v away from this receiver's clock (tolerance %v)",
			ErrWebhookTimestamp, tsText, skew.Round(time.Second), tolerance)
	}
	return nil
}

// parseUnix reads decimal Unix seconds, digits only.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
