package sasl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"slices"
	"strings"
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
// persisted in two files: a snapshot (path, the v1 format below, rewritten
// atomically: tmp, fsync, rename, fsync dir) and a log beside it (path +
// ".log", an fsutil.Journal) of the changes made since. Open reads the
// snapshot and replays the log. A change is appended to the log and
// fsynced before it becomes visible; if that fails the change is not
// applied, the error is returned, and every later change fails with it too
// (the log's tail is unknown). When the log outgrows the snapshot
// (fsutil.Journal.ShouldCompact) or there is no snapshot yet, the snapshot
// is rewritten and the log emptied; a crash between the two is safe for the
// reason the ACL store gives (acl.Store): a record sets or removes whole
// credentials, so replaying it over a snapshot that already has it changes
// nothing.
//
// Concurrency: one RWMutex guards creds; writers hold it across the log
// append so the log's order is the order of the changes.
type Credentials struct {
	path string

	mu       sync.RWMutex
	creds    map[credKey]ScramCredential
	log      *fsutil.Journal
	baseSize int64 // bytes of the snapshot file, -1 while there is none
	dropped  int64 // bytes of a torn last log record Open cut off
	werr     error // sticky write error
}

// Snapshot file format, all integers big-endian:
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
//
// Log: fsutil.Journal frames (length, CRC-32C, version), one per change
// (an Upsert, a Delete, or all of an Alter); the payload of version 1 is
//
//	count   uint32  ≥ 1
//	count × change, applied in order:
//	    op uint8: 1 upsert, 2 delete
//	    upsert: a record as in the snapshot
//	    delete: userLen uint16, user, mech int8
const (
	credMagic      = "OCTOSCRM"
	credVersion    = 1
	credLogVersion = 1
	opUpsert       = 1
	opDelete       = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenCredentials loads the store at path and path + ".log". Missing files
// are an empty store (they are created on the first change); a file that
// fails to decode is an error, never silently discarded. A torn last log
// record — a change a crash interrupted, never acknowledged — is cut off
// (see DroppedTail).
func OpenCredentials(path string) (*Credentials, error) {
	c := &Credentials{path: path, creds: map[credKey]ScramCredential{}, baseSize: -1}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("sasl: reading credentials: %w", err)
	default:
		creds, err := decodeCredentials(b)
		if err != nil {
			return nil, fmt.Errorf("sasl: credentials file %s is corrupt: %w", path, err)
		}
		c.creds, c.baseSize = creds, int64(len(b))
	}
	c.log, c.dropped, err = fsutil.OpenJournal(path+".log", 0o600, func(v byte, p []byte) error {
		if v != credLogVersion {
			return fmt.Errorf("unsupported record version %d", v)
		}
		changes, err := decodeCredChanges(p)
		if err != nil {
			return err
		}
		applyChanges(c.creds, changes)
		return nil
	})
	switch {
	case errors.Is(err, fsutil.ErrJournalCorrupt):
		return nil, fmt.Errorf("sasl: credentials log %s.log is corrupt: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("sasl: reading credentials log: %w", err)
	}
	return c, nil
}

// DroppedTail is the size in bytes of the torn last log record
// OpenCredentials cut off, 0 if none.
func (c *Credentials) DroppedTail() int64 { return c.dropped }

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
	return c.commitChangesLocked([]CredentialChange{{User: user, Mech: mech, Cred: cred.clone()}})
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
	return c.commitChangesLocked([]CredentialChange{{User: user, Mech: mech, Delete: true}})
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

// commitChangesLocked logs changes and, once that is durable, applies them
// in place: readers wait on mu, so the map needs no copy.
func (c *Credentials) commitChangesLocked(changes []CredentialChange) error {
	if err := c.logLocked(changes); err != nil {
		return err
	}
	applyChanges(c.creds, changes)
	c.maybeCompactLocked()
	return nil
}

// logLocked appends changes to the log, durably, or fails for good.
func (c *Credentials) logLocked(changes []CredentialChange) error {
	if c.werr != nil {
		return c.werr
	}
	if err := c.log.Append(credLogVersion, encodeCredChanges(changes)); err != nil {
		c.werr = fmt.Errorf("sasl: writing credentials log (store now read-only): %w", err)
		return c.werr
	}
	return nil
}

func (c *Credentials) maybeCompactLocked() {
	if c.baseSize < 0 || c.log.ShouldCompact(c.baseSize) {
		c.compactLocked()
	}
}

// compactLocked rewrites the snapshot, then empties the log. The change
// that triggered it is durable in the log already, so a failure here does
// not fail that change; it sticks and fails the next one.
func (c *Credentials) compactLocked() {
	b := encodeCredentials(c.creds)
	if err := fsutil.WriteFileAtomic(c.path, b, 0o600); err != nil {
		c.werr = fmt.Errorf("sasl: writing credentials (store now read-only): %w", err)
		return
	}
	c.baseSize = int64(len(b))
	if err := c.log.Reset(); err != nil {
		c.werr = fmt.Errorf("sasl: truncating credentials log (store now read-only): %w", err)
	}
}

func sameCredential(a, b ScramCredential) bool {
	return a.Mechanism == b.Mechanism && a.Iterations == b.Iterations && bytes.Equal(a.Salt, b.Salt) &&
		bytes.Equal(a.StoredKey, b.StoredKey) && bytes.Equal(a.ServerKey, b.ServerKey)
}

func compareKeys(a, b credKey) int {
	if c := strings.Compare(a.user, b.user); c != 0 {
		return c
	}
	return int(a.mech) - int(b.mech)
}

// applyChanges applies changes to m in order. Upserting over an existing
// credential and deleting a missing one are fine: that is what replaying
// a log over a snapshot that already includes it does.
func applyChanges(m map[credKey]ScramCredential, changes []CredentialChange) {
	for _, ch := range changes {
		if ch.Delete {
			delete(m, credKey{ch.User, ch.Mech})
		} else {
			m[credKey{ch.User, ch.Mech}] = ch.Cred
		}
	}
}

func encodeCredentials(m map[credKey]ScramCredential) []byte {
	keys := make([]credKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted so the same content always encodes to the same bytes.
	slices.SortFunc(keys, compareKeys)
	b := make([]byte, 0, 64+len(m)*200)
	b = append(b, credMagic...)
	b = binary.BigEndian.AppendUint16(b, credVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendCredRecord(b, k, m[k])
	}
	return encodeCRC(b)
}

func appendCredRecord(b []byte, k credKey, v ScramCredential) []byte {
	b = appendUser(b, k)
	b = binary.BigEndian.AppendUint32(b, uint32(v.Iterations))
	b = binary.BigEndian.AppendUint16(b, uint16(len(v.Salt)))
	b = append(b, v.Salt...)
	b = append(b, byte(len(v.StoredKey)))
	b = append(b, v.StoredKey...)
	b = append(b, byte(len(v.ServerKey)))
	return append(b, v.ServerKey...)
}

func appendUser(b []byte, k credKey) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.user)))
	b = append(b, k.user...)
	return append(b, byte(k.mech))
}

// encodeCredChanges is the payload of a log record (credLogVersion).
func encodeCredChanges(changes []CredentialChange) []byte {
	b := make([]byte, 0, 4+len(changes)*200)
	b = binary.BigEndian.AppendUint32(b, uint32(len(changes)))
	for _, ch := range changes {
		k := credKey{ch.User, ch.Mech}
		if ch.Delete {
			b = appendUser(append(b, opDelete), k)
		} else {
			b = appendCredRecord(append(b, opUpsert), k, ch.Cred)
		}
	}
	return b
}

// decodeCredChanges parses a log record's payload; every change must be
// valid, and nothing may follow the last one.
func decodeCredChanges(p []byte) ([]CredentialChange, error) {
	r := &credReader{b: p}
	n := r.u32()
	// A change is at least 1+2+1+1 bytes (a delete of a 1-byte name).
	if r.err != nil || n == 0 || uint64(n) > uint64(len(r.b))/5 {
		return nil, fmt.Errorf("bad change count %d", n)
	}
	changes := make([]CredentialChange, n)
	for i := range changes {
		var err error
		switch op := r.u8(); op {
		case opUpsert:
			var k credKey
			k, changes[i].Cred, err = readCredRecord(r)
			changes[i].User, changes[i].Mech = k.user, k.mech
		case opDelete:
			changes[i].Delete = true
			changes[i].User, changes[i].Mech = r.user()
			switch {
			case r.err != nil:
				err = r.err
			case changes[i].User == "":
				err = errors.New("empty user")
			case !changes[i].Mech.valid():
				err = fmt.Errorf("unknown mechanism %d", changes[i].Mech)
			}
		default:
			err = fmt.Errorf("unknown op %d", op)
		}
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return changes, nil
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

func (r *credReader) user() (string, ScramMechanism) {
	user := string(r.take(r.u16()))
	return user, ScramMechanism(int8(r.u8()))
}

// readCredRecord reads and checks one record of the snapshot format.
func readCredRecord(r *credReader) (credKey, ScramCredential, error) {
	user, mech := r.user()
	iters := r.u32()
	var c ScramCredential
	c.Mechanism = mech
	c.Salt = append([]byte(nil), r.take(r.u16())...)
	c.StoredKey = append([]byte(nil), r.take(r.u8())...)
	c.ServerKey = append([]byte(nil), r.take(r.u8())...)
	if r.err != nil {
		return credKey{}, c, r.err
	}
	if iters > MaxScramIterations {
		return credKey{}, c, fmt.Errorf("iterations %d out of range", iters)
	}
	c.Iterations = int(iters)
	if user == "" {
		return credKey{}, c, errors.New("empty user")
	}
	if err := c.Validate(); err != nil {
		return credKey{}, c, err
	}
	return credKey{user, mech}, c, nil
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
		k, c, err := readCredRecord(r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
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
