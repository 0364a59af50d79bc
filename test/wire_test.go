package test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// wireTimeout bounds every read and write on a raw connection.
const wireTimeout = 10 * time.Second

// wire is a raw Kafka connection: requests encoded with kmsg and framed
// here, so tests can also send what no client would.
type wire struct {
	t    *testing.T
	conn net.Conn
	corr int32
	f    *kmsg.RequestFormatter
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wireTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &wire{t: t, conn: conn, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("octopus-test-wire"))}
}

// writeRaw writes b as is.
func (w *wire) writeRaw(b []byte) {
	w.t.Helper()
	w.conn.SetWriteDeadline(time.Now().Add(wireTimeout))
	if _, err := w.conn.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// send frames and writes req at its version and returns its correlation id.
func (w *wire) send(req kmsg.Request) int32 {
	w.t.Helper()
	w.corr++
	w.writeRaw(w.f.AppendRequest(nil, req, w.corr))
	return w.corr
}

// recv reads one response frame, checks its correlation id and decodes the
// body into resp (whose version must be set).
func (w *wire) recv(corr int32, resp kmsg.Response) {
	w.t.Helper()
	w.conn.SetReadDeadline(time.Now().Add(wireTimeout))
	var size [4]byte
	if _, err := io.ReadFull(w.conn, size[:]); err != nil {
		w.t.Fatalf("read %T frame size: %v", resp, err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 64<<20 {
		w.t.Fatalf("%T frame of %d bytes", resp, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(w.conn, body); err != nil {
		w.t.Fatalf("read %T frame: %v", resp, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		w.t.Fatalf("%T: correlation id %d, want %d", resp, got, corr)
	}
	body = body[4:]
	// Flexible responses have a tag buffer in the header, except ApiVersions
	// whose response header is always v0.
	if resp.IsFlexible() && resp.Key() != 18 {
		if len(body) == 0 || body[0] != 0 {
			w.t.Fatalf("%T: response header tags % x, want none", resp, body[:min(len(body), 4)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		w.t.Fatalf("decode %T v%d: %v", resp, resp.GetVersion(), err)
	}
}

// request sends req and returns its decoded response.
func (w *wire) request(req kmsg.Request) kmsg.Response {
	w.t.Helper()
	corr := w.send(req)
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	w.recv(corr, resp)
	return resp
}

// apiVersions asks for the supported versions with ApiVersions v0.
func (w *wire) apiVersions() map[int16][2]int16 {
	w.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	resp := w.request(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 {
		w.t.Fatalf("ApiVersions v0: error code %d", resp.ErrorCode)
	}
	out := map[int16][2]int16{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out
}

// version picks the highest version of key both the broker and cap allow.
func (w *wire) version(key, limit int16) int16 {
	w.t.Helper()
	r, ok := w.apiVersions()[key]
	if !ok {
		w.t.Fatalf("broker does not advertise API key %d", key)
	}
	v := min(r[1], limit)
	if v < r[0] {
		w.t.Fatalf("broker serves API key %d at v%d..v%d, the test needs at most v%d", key, r[0], r[1], limit)
	}
	return v
}

// frameHeader returns a request frame that announces size bytes after the
// length prefix and holds a request header for key/version.
func frameHeader(size int32, key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(size))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, 0, 4, 't', 'e', 's', 't') // client id "test"
}

// assertServing checks that the broker at addr still answers a new client.
func assertServing(t *testing.T, addr string) {
	t.Helper()
	w := dialWire(t, addr)
	if v := w.apiVersions(); len(v) == 0 {
		t.Fatalf("ApiVersions from a new connection lists no API")
	}
	w.conn.Close()
}
