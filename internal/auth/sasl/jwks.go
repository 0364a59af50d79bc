package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// minRSABits is the smallest RSA modulus accepted from a JWKS.
const minRSABits = 2048

// JWKS is a parsed set of public verification keys (RFC 7517). Only
// asymmetric signature keys are kept: RSA and EC (P-256, P-384, P-521);
// "oct" keys and keys marked "use":"enc" are skipped, so an HMAC secret can
// never verify a token.
type JWKS struct {
	keys []jwk
}

type jwk struct {
	kid string
	alg string // optional; when set the token's alg must equal it
	pub any    // *rsa.PublicKey or *ecdsa.PublicKey
}

type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS parses a JWKS JSON document ({"keys":[...]}). A key that is
// malformed is an error; a set with no usable key is an error.
func ParseJWKS(doc []byte) (*JWKS, error) {
	var set struct {
		Keys []jwkJSON `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("sasl: JWKS: %w", err)
	}
	out := &JWKS{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var pub any
		var err error
		switch k.Kty {
		case "RSA":
			pub, err = parseRSAJWK(k)
		case "EC":
			pub, err = parseECJWK(k)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sasl: JWKS key %d (kid %q): %w", i, k.Kid, err)
		}
		out.keys = append(out.keys, jwk{kid: k.Kid, alg: k.Alg, pub: pub})
	}
	if len(out.keys) == 0 {
		return nil, errors.New("sasl: JWKS has no RSA or EC signature key")
	}
	return out, nil
}

// LoadJWKSFile reads and parses a JWKS document from a file.
func LoadJWKSFile(path string) (*JWKS, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sasl: JWKS: %w", err)
	}
	return ParseJWKS(b)
}

func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

func parseRSAJWK(k jwkJSON) (*rsa.PublicKey, error) {
	n, err := b64url(k.N)
	if err != nil || len(n) == 0 {
		return nil, errors.New("bad RSA modulus")
	}
	e, err := b64url(k.E)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad RSA exponent")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key shorter than %d bits", minRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("bad RSA exponent")
	}
	return pub, nil
}

func parseECJWK(k jwkJSON) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("unsupported curve %q", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err1 := b64url(k.X)
	y, err2 := b64url(k.Y)
	if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
		return nil, errors.New("bad EC point")
	}
	pt := make([]byte, 0, 1+2*size)
	pt = append(pt, 4)
	pt = append(pt, x...)
	pt = append(pt, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, errors.New("EC point not on curve")
	}
	return pub, nil
}

// candidates returns the keys that may verify a token signed with alg and
// carrying kid (all compatible keys when kid is empty).
func (s *JWKS) candidates(alg, kid string) []any {
	var out []any
	for _, k := range s.keys {
		if kid != "" && k.kid != kid {
			continue
		}
		if k.alg != "" && k.alg != alg {
			continue
		}
		if keyFitsAlg(k.pub, alg) {
			out = append(out, k.pub)
		}
	}
	return out
}

func keyFitsAlg(pub any, alg string) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		bits := p.Curve.Params().BitSize
		return alg == "ES256" && bits == 256 || alg == "ES384" && bits == 384 || alg == "ES512" && bits == 521
	}
	return false
}
