package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	plog "github.com/octofabric/octopus/internal/log"
)

// maxControlRequestBytes bounds every request but Produce. Decoding a request
// allocates a struct per array element, so a large frame of tiny elements
// could cost far more memory than its size; only Produce needs large frames.
const maxControlRequestBytes = 8 << 20

// conn is one client connection. The read loop decodes requests and runs
// their handlers in order; the write loop sends responses in the same order.
// pending entries flow from the first to the second through queue, whose
// capacity bounds the requests in progress.
type conn struct {
	b        *Broker
	nc       net.Conn
	raw      syscall.RawConn // non-nil on plaintext TCP: enables sendfile
	listener *Listener
	logger   *slog.Logger
	queue    chan *pending
	ctx      context.Context
	cancel   context.CancelFunc
	once     sync.Once

	// Identity, for ACLs. principal is set before the first request other
	// than ApiVersions and the SASL ones, on the read loop, and does not
	// change afterwards (a re-authentication must keep it).
	principal string
	host      string // client address as Kafka writes it in ACLs
	sasl      saslState
}

// pending is a response slot, filled by a handler (maybe later) and written
// by the write loop in request order.
type pending struct {
	req  *request
	done chan struct{}
	resp kmsg.Response
	raw  []byte // a SaslHandshake v0 token, written with only a size prefix
	err  error
}

func newConn(b *Broker, nc net.Conn, l *Listener) *conn {
	c := &conn{
		b:         b,
		nc:        nc,
		listener:  l,
		logger:    b.logger.With("remote", nc.RemoteAddr().String()),
		queue:     make(chan *pending, b.cfg.MaxInFlight),
		principal: anonymous,
		host:      javaHostAddress(nc.RemoteAddr()),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		if raw, err := tc.SyscallConn(); err == nil && !l.Protocol.UsesTLS() {
			c.raw = raw
		}
	}
	return c
}

func (c *conn) close() {
	c.once.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

func (c *conn) serve() {
	c.b.metrics.connections.Inc()
	defer c.b.metrics.connections.Dec()
	if err := c.secure(); err != nil {
		c.logger.Info("closing connection", "err", err)
		c.close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.queue)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) && c.ctx.Err() == nil {
		c.logger.Warn("closing connection", "err", err)
	}
	wg.Wait()
	c.close()
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var head [4 + headerFixedLen]byte
	for {
		if _, err := io.ReadFull(br, head[:4]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(head[:4]))
		if c.sasl.raw {
			if err := c.rawSaslToken(br, size); err != nil || c.sasl.failed {
				return err
			}
			continue
		}
		if size < headerFixedLen+2 || size > c.b.cfg.MaxRequestBytes {
			return fmt.Errorf("request frame of %d bytes is outside [%d, %d]", size, headerFixedLen+2, c.b.cfg.MaxRequestBytes)
		}
		if _, err := io.ReadFull(br, head[4:]); err != nil {
			return err
		}
		key := int16(binary.BigEndian.Uint16(head[4:]))
		version := int16(binary.BigEndian.Uint16(head[6:]))
		if key != 0 && size > maxControlRequestBytes {
			return fmt.Errorf("%s request of %d bytes exceeds %d", kmsg.NameForKey(key), size, maxControlRequestBytes)
		}
		h := lookupHandler(key)
		if h == nil {
			return fmt.Errorf("unknown or unsupported API key %d", key)
		}
		if err := c.admit(key, size); err != nil {
			return err
		}
		frame := frames.get(int(size))
		copy(frame, head[4:])
		if _, err := io.ReadFull(br, frame[headerFixedLen:]); err != nil {
			return err
		}
		if version < h.min || version > h.max {
			if key != apiVersionsKey {
				return fmt.Errorf("%s v%d is not supported (v%d-v%d)", kmsg.NameForKey(key), version, h.min, h.max)
			}
			// Kafka answers an unknown ApiVersions version with a v0
			// response listing what it supports, so the client can retry.
			corr := int32(binary.BigEndian.Uint32(frame[4:]))
			r := &request{c: c, ctx: c.ctx, key: key, version: 0, corr: corr}
			p := &pending{req: r, done: make(chan struct{}), resp: unsupportedApiVersions()}
			close(p.done)
			if !c.enqueue(p) {
				return nil
			}
			continue
		}
		r, err := parseRequest(frame)
		if err != nil {
			c.b.metrics.requestErrors.Inc()
			return err
		}
		r.c, r.ctx = c, c.ctx
		p := &pending{req: r, done: make(chan struct{})}
		if !c.enqueue(p) {
			return nil
		}
		c.b.metrics.requests.WithLabelValues(kmsg.NameForKey(key)).Inc()
		resp, err := h.fn(c.b, r)
		if key == produceKey {
			// Produce has copied its records into the log, and nothing
			// else aliases the frame (kmsg copies strings).
			frames.put(frame)
		}
		if r.finish == nil || err != nil {
			p.resp, p.err = resp, err
			close(p.done)
		} else {
			go func() {
				p.resp, p.err = r.finish()
				close(p.done)
			}()
		}
		if err != nil || r.closeAfter {
			return nil // the write loop logs it once, after earlier responses
		}
	}
}

// enqueue hands p to the write loop, waiting while MaxInFlight requests are
// in progress.
func (c *conn) enqueue(p *pending) bool {
	select {
	case c.queue <- p:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *conn) writeLoop() {
	w := &respWriter{c: c}
	failed := false
	for p := range c.queue {
		select {
		case <-p.done:
		case <-c.ctx.Done():
			<-p.done // handlers watch ctx, so this is prompt
		}
		if !failed {
			if p.err != nil {
				if c.ctx.Err() == nil {
					c.logger.Warn("closing connection", "api", kmsg.NameForKey(p.req.key), "err", p.err)
				}
				failed = true
				c.close()
			} else if p.resp != nil || p.raw != nil {
				if err := w.write(p); err != nil {
					if c.ctx.Err() == nil {
						c.logger.Debug("write failed", "err", err)
					}
					failed = true
					c.close()
				}
			}
		}
		for i := range p.req.views {
			p.req.views[i].Release()
		}
	}
}

// respWriter frames responses. Fetch responses carry record data as
// markers that are replaced by the file ranges of plog.Views, sent with
// sendfile(2) on plaintext TCP and copied otherwise.
type respWriter struct {
	c   *conn
	buf []byte
	tmp []byte
}

func (w *respWriter) write(p *pending) error {
	if p.raw != nil {
		b := binary.BigEndian.AppendUint32(w.buf[:0], uint32(len(p.raw)))
		w.buf = append(b, p.raw...)
		_, err := w.c.nc.Write(w.buf)
		return err
	}
	r := p.req
	resp := p.resp
	resp.SetVersion(r.version)
	b := append(w.buf[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(r.corr))
	// ApiVersions always answers with header v0 so any client can read it.
	if resp.IsFlexible() && r.key != apiVersionsKey {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	w.buf = b
	if len(r.views) == 0 {
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		w.c.b.metrics.bytesOut.Add(float64(len(b)))
		_, err := w.c.nc.Write(b)
		return err
	}
	return w.writeWithViews(b, r.views, resp.IsFlexible())
}

// Markers stand in for record data while a Fetch response is encoded: a
// process-random prefix and the view's index, which cannot collide with the
// few names and numbers that surround them.
var markerPrefix = func() [8]byte {
	var p [8]byte
	rand.Read(p[:])
	return p
}()

const markerLen = 16

func marker(i int) []byte {
	m := make([]byte, markerLen)
	copy(m, markerPrefix[:])
	binary.BigEndian.PutUint64(m[8:], uint64(i))
	return m
}

func (w *respWriter) writeWithViews(b []byte, views []plog.View, flexible bool) error {
	type piece struct {
		bytes []byte
		view  *plog.View
	}
	pieces := make([]piece, 0, 2*len(views)+1)
	total := 0
	pos, search := 0, 8 // markers lie after the size and correlation id
	for i := range views {
		m := marker(i)
		at := bytes.Index(b[search:], m)
		if at < 0 {
			return fmt.Errorf("fetch response: marker %d not found", i)
		}
		at += search
		var prefixAt int
		var prefix []byte
		n := views[i].Len()
		if flexible {
			if at < 1 || b[at-1] != markerLen+1 {
				return fmt.Errorf("fetch response: marker %d has no compact length", i)
			}
			prefixAt = at - 1
			prefix = binary.AppendUvarint(nil, uint64(n)+1)
		} else {
			if at < 4 || binary.BigEndian.Uint32(b[at-4:]) != markerLen {
				return fmt.Errorf("fetch response: marker %d has no length", i)
			}
			prefixAt = at - 4
			prefix = binary.BigEndian.AppendUint32(nil, uint32(n))
		}
		pieces = append(pieces, piece{bytes: b[pos:prefixAt]}, piece{bytes: prefix}, piece{view: &views[i]})
		total += prefixAt - pos + len(prefix) + n
		pos = at + markerLen
		search = pos
	}
	pieces = append(pieces, piece{bytes: b[pos:]})
	total += len(b) - pos
	binary.BigEndian.PutUint32(b, uint32(total-4))
	w.c.b.metrics.bytesOut.Add(float64(total))

	var out net.Buffers
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		_, err := out.WriteTo(w.c.nc)
		out = out[:0]
		return err
	}
	for _, p := range pieces {
		if p.view == nil {
			out = append(out, p.bytes)
			continue
		}
		if w.c.raw != nil {
			if sc, ok := p.view.File().(syscall.Conn); ok {
				if err := flush(); err != nil {
					return err
				}
				if err := sendFile(w.c.raw, sc, p.view.Pos(), p.view.Len()); err != nil {
					return err
				}
				continue
			}
		}
		var err error
		start := len(w.tmp)
		if w.tmp, err = p.view.AppendTo(w.tmp); err != nil {
			return err
		}
		out = append(out, w.tmp[start:])
	}
	err := flush()
	w.tmp = w.tmp[:0]
	return err
}

// sendFile copies n bytes at pos of src to the socket with sendfile(2),
// which leaves src's file offset alone, so views of one file may be sent by
// many connections at once.
func sendFile(dst syscall.RawConn, src syscall.Conn, pos int64, n int) error {
	frc, err := src.SyscallConn()
	if err != nil {
		return err
	}
	var srcFd int
	if err := frc.Control(func(fd uintptr) { srcFd = int(fd) }); err != nil {
		return err
	}
	// The view pins the file, so srcFd stays open while we use it.
	off, remain := pos, n
	var werr error
	err = dst.Write(func(fd uintptr) bool {
		for remain > 0 {
			w, err := unix.Sendfile(int(fd), srcFd, &off, min(remain, 1<<30))
			if w > 0 {
				remain -= w
			}
			switch {
			case err == unix.EAGAIN:
				return false // wait until the socket is writable
			case err == unix.EINTR:
				continue
			case err != nil:
				werr = err
				return true
			case w == 0:
				werr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// errorCode maps a log error to a Kafka error code.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, plog.ErrCorrupt):
		return kerr.CorruptMessage.Code
	case errors.Is(err, plog.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, plog.ErrUnsupportedMagic):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, plog.ErrMessageTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, plog.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, plog.ErrInvalidEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, plog.ErrInvalidTimestamp):
		return kerr.InvalidTimestamp.Code
	case errors.Is(err, plog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, plog.ErrClosed):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, plog.ErrStorage):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}
