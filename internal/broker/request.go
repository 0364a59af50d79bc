package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	plog "github.com/octofabric/octopus/internal/log"
)

// handlerFunc serves one request. It runs on the connection's read loop, so
// requests of one connection are applied in order (a producer's batches reach
// the log in the order it sent them). A handler that must wait (fsync, Fetch
// long-poll) returns r.later(fn): fn then runs on its own goroutine and its
// result is the response. A returned Go error closes the connection; Kafka
// errors travel as error codes inside the response.
type handlerFunc func(b *Broker, r *request) (kmsg.Response, error)

type handler struct {
	min, max int16
	fn       handlerFunc
}

// handlers is indexed by API key; each NN_<api>.go file registers its own.
var handlers [128]*handler

func register(key, min, max int16, fn handlerFunc) {
	if key < 0 || int(key) >= len(handlers) || handlers[key] != nil || min > max {
		panic(fmt.Sprintf("broker: bad registration of API key %d", key))
	}
	if r := kmsg.RequestForKey(key); r == nil || r.MaxVersion() < max {
		panic(fmt.Sprintf("broker: kmsg cannot encode API key %d v%d", key, max))
	}
	handlers[key] = &handler{min: min, max: max, fn: fn}
}

func lookupHandler(key int16) *handler {
	if key < 0 || int(key) >= len(handlers) {
		return nil
	}
	return handlers[key]
}

// request is one decoded request and what its handler attached.
type request struct {
	c        *conn
	ctx      context.Context // cancelled when the connection closes
	key      int16
	version  int16
	corr     int32
	clientID string
	kreq     kmsg.Request

	finish     func() (kmsg.Response, error) // set by later
	closeAfter bool                          // close the connection once the response is written
	views      []plog.View                   // record data spliced into a Fetch response
	waits      []<-chan struct{}             // Fetch long-poll: fire when data arrives
}

// later defers the response to fn, run off the read loop.
func (r *request) later(fn func() (kmsg.Response, error)) (kmsg.Response, error) {
	r.finish = fn
	return nil, nil
}

// header is the fixed start of every request: api key, version, correlation id.
const headerFixedLen = 8

var errMalformed = errors.New("malformed request")

// parseRequest decodes a request frame (without its size prefix) whose API
// key has a handler and whose version that handler serves.
func parseRequest(frame []byte) (r *request, err error) {
	defer func() {
		// kmsg readers check bounds; this is a last line of defence so
		// that no peer input can take the process down.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%w: decoder panic: %v", errMalformed, p)
		}
	}()
	if len(frame) < headerFixedLen+2 {
		return nil, fmt.Errorf("%w: %d-byte frame is shorter than a request header", errMalformed, len(frame))
	}
	r = &request{
		key:     int16(binary.BigEndian.Uint16(frame)),
		version: int16(binary.BigEndian.Uint16(frame[2:])),
		corr:    int32(binary.BigEndian.Uint32(frame[4:])),
	}
	kreq := kmsg.RequestForKey(r.key)
	if kreq == nil {
		return nil, fmt.Errorf("%w: unknown API key %d", errMalformed, r.key)
	}
	kreq.SetVersion(r.version)
	rest := frame[headerFixedLen:]
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if n >= 0 {
		if int(n) > len(rest) {
			return nil, fmt.Errorf("%w: client id runs past the frame", errMalformed)
		}
		r.clientID = string(rest[:n])
		rest = rest[n:]
	}
	if kreq.IsFlexible() {
		if rest, err = skipTags(rest); err != nil {
			return nil, err
		}
	}
	if err := kreq.ReadFrom(rest); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", errMalformed, kmsg.NameForKey(r.key), r.version, err)
	}
	r.kreq = kreq
	return r, nil
}

// skipTags skips a tagged-field section (KIP-482): a count, then per field a
// tag, a length and that many bytes, all unsigned varints.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad tagged field count", errMalformed)
	}
	b = b[n:]
	for ; count > 0; count-- {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errMalformed)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad tagged field size", errMalformed)
		}
		b = b[n+int(size):]
	}
	return b, nil
}
