package invoke

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/octofabric/octopus/internal/trigger"
)

// The body is written by hand, not by encoding/json: one pass over the
// batch, no reflection, no intermediate structs, and exactly one
// allocation when the size estimate holds (it is an upper bound unless keys
// or header values need many escapes). Its shape is documented in
// docs/TRIGGERS_ACTIONS.md; keep the two in step.

// tsLayout is RFC 3339 with milliseconds; times are written in UTC, so the
// zone is always "Z".
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// encodeBody returns the JSON body of one call of b.
func encodeBody(b *trigger.Batch) []byte {
	return appendBody(make([]byte, 0, estimateBody(b)), b)
}

// estimateBody bounds the body's size for the common case: fixed field
// names, base64 growth (4/3) for every key and value, no escapes.
func estimateBody(b *trigger.Batch) int {
	n := 96 + len(b.TriggerID) + len(b.TriggerName) + len(b.ID)
	for i := range b.Records {
		r := &b.Records[i]
		n += 230 + len(r.Topic) + b64len(len(r.Key)) + b64len(len(r.Value))
		for _, h := range r.Headers {
			n += 52 + len(h.Key) + b64len(len(h.Value))
		}
	}
	return n
}

func b64len(n int) int { return (n + 2) / 3 * 4 }

// appendBody appends the JSON body of one call of b to dst.
func appendBody(dst []byte, b *trigger.Batch) []byte {
	dst = append(dst, `{"trigger":{"id":`...)
	dst = appendString(dst, validString(b.TriggerID))
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, validString(b.TriggerName))
	dst = append(dst, `},"delivery":`...)
	dst = appendString(dst, validString(b.ID))
	dst = append(dst, `,"attempt":`...)
	dst = strconv.AppendInt(dst, int64(b.Attempt), 10)
	dst = append(dst, `,"records":[`...)
	for i := range b.Records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendRecord(dst, &b.Records[i])
	}
	return append(dst, "]}"...)
}

func appendRecord(dst []byte, r *trigger.Record) []byte {
	dst = append(dst, `{"topic":`...)
	dst = appendString(dst, validString(r.Topic))
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	if r.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":null,"timestamp_ms":null`...)
	} else {
		dst = append(dst, `,"timestamp":"`...)
		dst = appendTime(dst, r.Timestamp)
		dst = append(dst, `","timestamp_ms":`...)
		dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
	}
	dst = append(dst, `,"key":`...)
	dst = appendText(dst, r.Key, `,"key_encoding":`)
	dst = append(dst, `,"value":`...)
	switch {
	case r.Value == nil:
		dst = append(dst, `null,"value_encoding":null`...)
	case validJSON(r.Value):
		dst = append(dst, r.Value...)
		dst = append(dst, `,"value_encoding":"json"`...)
	default:
		dst = appendBase64(dst, r.Value)
		dst = append(dst, `,"value_encoding":"base64"`...)
	}
	dst = append(dst, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendString(dst, validString(h.Key))
		dst = append(dst, `,"value":`...)
		dst = appendText(dst, h.Value, `,"value_encoding":`)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendText appends v as a JSON string when it is valid UTF-8, else in
// base64, or null for nil, then encField and the encoding's name.
func appendText(dst, v []byte, encField string) []byte {
	switch {
	case v == nil:
		dst = append(dst, "null"...)
		return append(append(dst, encField...), "null"...)
	case utf8.Valid(v):
		dst = appendString(dst, v)
		return append(append(dst, encField...), `"utf8"`...)
	default:
		dst = appendBase64(dst, v)
		return append(append(dst, encField...), `"base64"`...)
	}
}

func appendBase64(dst, v []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, v)
	return append(dst, '"')
}

// validString replaces invalid UTF-8 in names that Kafka calls strings but
// does not check (header keys); the common case costs one scan.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

const hexDigits = "0123456789abcdef"

// appendString appends s, which must be valid UTF-8, as a JSON string.
func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// formatTime is the body's timestamp format, also used by the dead-letter
// headers.
func formatTime(t time.Time) string { return string(appendTime(nil, t)) }

// appendTime appends t in UTC as tsLayout; by hand for four-digit years,
// since AppendFormat interprets the layout every time.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, tsLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}
