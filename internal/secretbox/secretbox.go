// Package secretbox seals small secrets that the control plane must keep
// but never show again — a trigger's action header values and its signing
// secret — so that a copy of the metadata database (a backup, a replica, a
// stolen disk) does not give them away.
//
// A Box holds one 256-bit key and seals with AES-256-GCM. A sealed value is
//
//	version (1 byte, 1) | nonce (12 random bytes) | ciphertext and tag
//
// and its associated data is the version byte and the caller's context
// (e.g. "trigger:trg_…\x00header:X-Token"), so a sealed value copied to
// another row or field does not open there. Random 96-bit nonces are safe
// for far more than the 2^32 seals per key NIST allows for them; the
// control plane seals a few values per trigger change.
//
// The key lives in a file of 32 bytes (LoadOrCreate makes one, mode 0600,
// in the data directory) or, for several Octopus instances on one
// PostgreSQL database, which must share it, in $OCTOPUS_SECRET_KEY as
// base64 (FromBase64). Losing the key loses the sealed values: triggers
// then report that their secrets cannot be opened, and their owners set
// the headers and rotate the signing secret again.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/octofabric/octopus/internal/fsutil"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// version1 is the first byte of every value sealed by this package.
const version1 = 1

const nonceSize = 12

// Overhead is how much longer a sealed value is than its plaintext.
const Overhead = 1 + nonceSize + 16

// ErrOpen means a sealed value did not open: it was sealed with another
// key or for another place (associated data), or it is damaged.
var ErrOpen = errors.New("secretbox: cannot open: wrong key, wrong place or damaged")

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box with key, which must be KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: the key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// FromBase64 returns a Box with the key s encodes: 32 bytes in standard or
// URL-safe base64, padded or not (e.g. `head -c 32 /dev/urandom | base64`).
func FromBase64(s string) (*Box, error) {
	key, err := decodeKey(s)
	if err != nil {
		return nil, err
	}
	return New(key)
}

func decodeKey(s string) ([]byte, error) {
	s = string(bytes.TrimSpace([]byte(s)))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("secretbox: the key decodes to %d bytes, want %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("secretbox: the key is not base64")
}

// Load returns a Box with the key in the file at path: 32 bytes, or their
// base64 on one line.
func Load(path string) (*Box, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	key := b
	if len(b) != KeySize {
		if key, err = decodeKey(string(b)); err != nil {
			return nil, fmt.Errorf("secretbox: key file %s: want %d bytes or their base64: %w", path, KeySize, err)
		}
	}
	return New(key)
}

// LoadOrCreate is Load, except that a missing file is first created with
// a new random key: written atomically (a crash leaves no half key), mode
// 0600, in a directory created with mode 0700 if needed. A data directory
// belongs to one Octopus instance, so nothing else creates it meanwhile.
func LoadOrCreate(path string) (*Box, error) {
	box, err := Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return box, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	if err := fsutil.WriteFileAtomic(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("secretbox: creating key file: %w", err)
	}
	return New(key)
}

// Seal returns plaintext sealed for the place ad names.
func (b *Box) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = version1
	rand.Read(out[1 : 1+nonceSize])
	return b.aead.Seal(out, out[1:1+nonceSize], plaintext, adWith(version1, ad))
}

// Open returns the plaintext of sealed if it was sealed by this key for
// the place ad names, else ErrOpen.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != version1 {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], adWith(version1, ad))
	if err != nil {
		return nil, ErrOpen
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// SealString is Seal of a string, encoded as unpadded base64url for JSON.
func (b *Box) SealString(plaintext, ad string) string {
	return base64.RawURLEncoding.EncodeToString(b.Seal([]byte(plaintext), []byte(ad)))
}

// OpenString opens what SealString sealed.
func (b *Box) OpenString(sealed, ad string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", ErrOpen
	}
	pt, err := b.Open(raw, []byte(ad))
	return string(pt), err
}

// adWith binds the format version into the associated data.
func adWith(version byte, ad []byte) []byte {
	return append([]byte{version}, ad...)
}
