package fabric

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/octofabric/octopus/internal/store"
)

// Kind classifies an Error; the REST layer turns it into an HTTP status
// (the status each kind stands for is in its comment).
type Kind int

const (
	// Invalid: the request is malformed or breaks a rule (400). Field
	// names the bad field.
	Invalid Kind = iota + 1
	// Unauthenticated: no or an unknown caller (401).
	Unauthenticated
	// Forbidden: the caller may not do this (403). Also the answer for a
	// topic in another namespace the caller has no access to, whether it
	// exists or not, so that existence never leaks.
	Forbidden
	// NotFound: the thing does not exist, and the caller could see it if
	// it did (404).
	NotFound
	// Conflict: the request clashes with existing state, such as a topic
	// of that name with another spec (409).
	Conflict
	// Unavailable: the metadata store or the event plane did not answer,
	// or answered unexpectedly (503); the request may succeed later.
	Unavailable
)

var kindNames = [...]string{"", "invalid", "unauthenticated", "forbidden", "not_found", "conflict", "unavailable"}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the one error type of Fabric's methods. Message is meant for
// the caller and never names another namespace's topics or the event
// plane's internals; Err, when set, is the underlying cause, for logs.
type Error struct {
	Kind    Kind
	Code    string // machine-readable, e.g. "invalid_name"
	Message string
	Field   string // for Invalid: the bad field, e.g. "name", "configs.retention.ms"
	Err     error  // the cause, for logs; not for the caller
}

func (e *Error) Error() string {
	s := e.Kind.String() + ": " + e.Code + ": " + e.Message
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err if it is or wraps an *Error, else 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func invalid(field, code, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func forbidden(code, format string, args ...any) *Error {
	return &Error{Kind: Forbidden, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(code, format string, args ...any) *Error {
	return &Error{Kind: NotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func conflict(code, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// storeErr wraps a metadata store failure that is not the caller's doing.
func storeErr(what string, err error) *Error {
	return &Error{Kind: Unavailable, Code: "store_unavailable", Message: what + ": the metadata store failed", Err: err}
}

// kafkaErr turns a failed event-plane call into an Error: a request
// problem Kafka reports (a bad config value, too many partitions) is
// Invalid, an existing topic Conflict, anything else Unavailable.
func kafkaErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.InvalidConfig:
			return &Error{Kind: Invalid, Code: "invalid_config", Field: "configs", Message: what + ": the event plane refused a config value", Err: err}
		case kerr.InvalidPartitions:
			return &Error{Kind: Invalid, Code: "invalid_partitions", Field: "partitions", Message: what + ": the event plane refused the partition count", Err: err}
		case kerr.InvalidTopicException:
			return &Error{Kind: Invalid, Code: "invalid_name", Field: "name", Message: what + ": the event plane refused the topic name", Err: err}
		case kerr.PolicyViolation, kerr.InvalidRequest:
			return &Error{Kind: Invalid, Code: "refused", Message: what + ": the event plane refused the request (" + ke.Message + ")", Err: err}
		case kerr.TopicAlreadyExists:
			return &Error{Kind: Conflict, Code: "topic_exists", Message: what + ": the topic exists in the event plane", Err: err}
		}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: Unavailable, Code: "canceled", Message: what + ": canceled", Err: err}
	}
	return &Error{Kind: Unavailable, Code: "event_plane_unavailable", Message: what + ": the event plane failed", Err: err}
}

// isStoreNotFound and friends test store sentinels.
func isStoreNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
func isStoreConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
