package sasl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/octofabric/octopus/internal/fsutil"
)

// ScramStore is what the PLAIN and SCRAM mechanisms need from a credential
// store. Lookup returns a copy the caller may keep.
type ScramStore interface {
	Lookup(user string, mech ScramMechanism) (ScramCredential, bool)
}

// ErrCredentialNotFound is returned by Delete for a missing credential
// (Kafka's RESOURCE_NOT_FOUND).
var ErrCredentialNotFound = errors.New("credential not found")

// ScramInfo is what DescribeUserScramCredentials reports per mechanism.
type ScramInfo struct {
	Mechanism  ScramMechanism
	Iterations int
}

type credKey struct {
	user string
	mech ScramMechanism
}

// Credentials is a durable SCRAM credential store held in memory and
// persisted in one file. Every change rewrites the whole file atomically
// (tmp, fsync, rename, fsync dir) before it becomes visible; if the write
// fails the change is not applied and the error is returned.
//
// Concurrency: one RWMutex guards creds; writers hold it across the file
// rewrite so the file order equals the change order.
type Credentials struct {
	path string

	mu    sync.RWMutex
	creds map[credKey]ScramCredential
}

// File format, all integers big-endian:
//
//	magic   [8]byte "OCTOSCRM"
//	version uint16  (1)
//	count   uint32
//	count × record:
//	    userLen uint16, user [userLen]byte,
//	    mech int8, iterations uint32,
//	    saltLen uint16, salt, storedKeyLen uint8, storedKey,
//	    serverKeyLen uint8, serverKey
//	crc     uint32  CRC-32C (Castagnoli) of every byte before it
const (
	credMagic   = "OCTOSCRM"
	credVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenCredentials loads the store at path. A missing file is an empty store
// (the file is created on the first change); a file that fails to decode is
// an error, never silently discarded.
func OpenCredentials(path string) (*Credentials, error) {
	c := &Credentials{path: path, creds: map[credKey]ScramCredential{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sasl: reading credentials: %w", err)
	}
	creds, err := decodeCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("sasl: credentials file %s is corrupt: %w", path, err)
	}
	c.creds = creds
	return c, nil
}

// Lookup implements ScramStore.
func (c *Credentials) Lookup(user string, mech ScramMechanism) (ScramCredential, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cred, ok := c.creds[credKey{user, mech}]
	if !ok {
		return ScramCredential{}, false
	}
	return cred.clone(), true
}

// Upsert stores cred for (user, mech), replacing any previous one.
// cred.Mechanism may be left zero; otherwise it must equal mech.
func (c *Credentials) Upsert(user string, mech ScramMechanism, cred ScramCredential) error {
	if err := checkUpsert(user, mech, &cred); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := maps.Clone(c.creds)
	next[credKey{user, mech}] = cred.clone()
	return c.commitLocked(next)
}

// checkUpsert validates a credential for (user, mech) and fills in its
// mechanism if left zero.
func checkUpsert(user string, mech ScramMechanism, cred *ScramCredential) error {
	if user == "" || len(user) > 0xFFFF {
		return errors.New("sasl: user name must be 1 to 65535 bytes")
	}
	if cred.Mechanism == 0 {
		cred.Mechanism = mech
	}
	if cred.Mechanism != mech {
		return fmt.Errorf("sasl: credential is for %s, not %s", cred.Mechanism, mech)
	}
	if err := cred.Validate(); err != nil {
		return fmt.Errorf("sasl: %w", err)
	}
	if len(cred.Salt) > 0xFFFF {
		return errors.New("sasl: salt longer than 65535 bytes")
	}
	return nil
}

// Delete removes the credential for (user, mech); ErrCredentialNotFound if
// there is none.
func (c *Credentials) Delete(user string, mech ScramMechanism) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := credKey{user, mech}
	if _, ok := c.creds[k]; !ok {
		return ErrCredentialNotFound
	}
	next := maps.Clone(c.creds)
	delete(next, k)
	return c.commitLocked(next)
}

// Describe reports mechanisms and iterations per user, sorted by mechanism.
// With no users it reports every user; named users without any credential
// are absent from the result (the broker answers RESOURCE_NOT_FOUND).
func (c *Credentials) Describe(users []string) map[string][]ScramInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var want map[string]bool
	if len(users) > 0 {
		want = make(map[string]bool, len(users))
		for _, u := range users {
			want[u] = true
		}
	}
	out := map[string][]ScramInfo{}
	for k, v := range c.creds {
		if want != nil && !want[k.user] {
			continue
		}
		out[k.user] = append(out[k.user], ScramInfo{Mechanism: k.mech, Iterations: v.Iterations})
	}
	for _, infos := range out {
		slices.SortFunc(infos, func(a, b ScramInfo) int { return int(a.Mechanism) - int(b.Mechanism) })
	}
	return out
}

// commitLocked writes next to disk and, only on success, makes it current.
func (c *Credentials) commitLocked(next map[credKey]ScramCredential) error {
	if err := fsutil.WriteFileAtomic(c.path, encodeCredentials(next), 0o600); err != nil {
		return fmt.Errorf("sasl: writing credentials: %w", err)
	}
	c.creds = next
	return nil
}

func encodeCredentials(m map[credKey]ScramCredential) []byte {
	keys := make([]credKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted so the same content always encodes to the same bytes.
	slices.SortFunc(keys, func(a, b credKey) int {
		if a.user != b.user {
			if a.user < b.user {
				return -1
			}
			return 1
		}
		return int(a.mech) - int(b.mech)
	})
	b := make([]byte, 0, 64+len(m)*200)
	b = append(b, credMagic...)
	b = binary.BigEndian.AppendUint16(b, credVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		v := m[k]
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.user)))
		b = append(b, k.user...)
		b = append(b, byte(k.mech))
		b = binary.BigEndian.AppendUint32(b, uint32(v.Iterations))
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.Salt)))
		b = append(b, v.Salt...)
		b = append(b, byte(len(v.StoredKey)))
		b = append(b, v.StoredKey...)
		b = append(b, byte(len(v.ServerKey)))
		b = append(b, v.ServerKey...)
	}
	return encodeCRC(b)
}

var errShort = errors.New("truncated")

// credReader reads the fixed-width fields of the file format; the first
// short read sticks in err.
type credReader struct {
	b   []byte
	err error
}

func (r *credReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *credReader) u8() int {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}
func (r *credReader) u16() int {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}
func (r *credReader) u32() uint32 {
	v := r.take(4)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func decodeCredentials(b []byte) (map[credKey]ScramCredential, error) {
	const hdr = len(credMagic) + 2 + 4
	if len(b) < hdr+4 {
		return nil, errShort
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if string(body[:len(credMagic)]) != credMagic {
		return nil, errors.New("bad magic")
	}
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("CRC-32C mismatch: stored %08x, computed %08x", sum, got)
	}
	r := &credReader{b: body[len(credMagic):]}
	if v := r.u16(); v != credVersion {
		return nil, fmt.Errorf("unsupported version %d", v)
	}
	n := r.u32()
	// Each record is at least 2+1+1+4+2+1+1 bytes; bounds the map size.
	if uint64(n) > uint64(len(r.b))/12 {
		return nil, fmt.Errorf("record count %d exceeds file size", n)
	}
	m := make(map[credKey]ScramCredential, n)
	for i := uint32(0); i < n; i++ {
		user := string(r.take(r.u16()))
		mech := ScramMechanism(int8(r.u8()))
		iters := r.u32()
		var c ScramCredential
		c.Mechanism = mech
		c.Salt = append([]byte(nil), r.take(r.u16())...)
		c.StoredKey = append([]byte(nil), r.take(r.u8())...)
		c.ServerKey = append([]byte(nil), r.take(r.u8())...)
		if r.err != nil {
			return nil, fmt.Errorf("record %d: %w", i, r.err)
		}
		if iters > MaxScramIterations {
			return nil, fmt.Errorf("record %d: iterations %d out of range", i, iters)
		}
		c.Iterations = int(iters)
		if user == "" {
			return nil, fmt.Errorf("record %d: empty user", i)
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		k := credKey{user, mech}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("record %d: duplicate credential", i)
		}
		m[k] = c
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return m, nil
}

// encodeCRC appends the CRC-32C trailer to body.
func encodeCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}
