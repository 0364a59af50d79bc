package identity

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for everything here that parses outside input: token
// shapes (Chain's routing), bearer headers, introspection answers and the
// names namespaces are derived from. `go test -fuzz FuzzX` runs one; the
// seeds run as ordinary tests.

func FuzzShapeOf(f *testing.F) {
	local, _ := newLocalToken()
	for _, s := range []string{"", local, "oct_", "a.b.c", "a.b.", ".b.c", "a..c", "a.b.c.d", "x y", "é", "eyJhbGciOiJub25lIn0.e30."} {
		f.Add(s)
	}
	empty := Chain()
	f.Fuzz(func(t *testing.T, token string) {
		shape := ShapeOf(token)
		switch shape {
		case ShapeNone:
			if token != "" {
				t.Fatalf("%q: none", token)
			}
		case ShapeLocal:
			if !strings.HasPrefix(token, LocalPrefix) {
				t.Fatalf("%q: local without prefix", token)
			}
		case ShapeJWT:
			if strings.Count(token, ".") != 2 || strings.HasPrefix(token, LocalPrefix) {
				t.Fatalf("%q: jwt", token)
			}
		}
		if shape != ShapeInvalid && shape != ShapeNone && (len(token) > MaxTokenLen || strings.ContainsAny(token, " \t\r\n")) {
			t.Fatalf("%q: %v", token, shape)
		}
		_, err := empty.Verify(t.Context(), token)
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrNoToken) {
			t.Fatalf("empty chain: %v", err)
		}
	})
}

func FuzzParseIntrospection(f *testing.F) {
	now := time.Unix(1_800_000_000, 0).UTC()
	for _, s := range []string{
		`{"active":true,"sub":"s","scope":"a x","exp":1800000100}`,
		`{"active":true,"sub":"s","scope":"x","exp":1800000100.5,"nbf":1799999999,"iss":"https://i","aud":["o"],"username":"u","email":"e"}`,
		`{"active":true,"sub":"s","scope":"x","aud":"o","iss":"https://other"}`,
		`{"active":false}`,
		`{"active":"true"}`,
		`{"active":true,"exp":-1}`,
		`{"active":true,"exp":1e300}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	rules := introspectionRules{idPrefix: "https://i", issuer: "https://i", scope: "x", audience: "o"}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range []introspectionRules{rules, {idPrefix: "https://u/introspect", scope: "x"}} {
			id, err := parseIntrospection(body, now, r)
			if err != nil {
				if !slices.ContainsFunc([]error{ErrInvalidToken, ErrExpiredToken, ErrInsufficientScope, ErrUnavailable},
					func(e error) bool { return errors.Is(err, e) }) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if !strings.HasPrefix(id.ID, r.idPrefix+"|") || len(id.ID) == len(r.idPrefix)+1 || id.Name == "" ||
				id.Source != SourceIntrospection || !slices.Contains(id.Scopes, "x") ||
				!id.ExpiresAt.IsZero() && !id.ExpiresAt.After(now) {
				t.Fatalf("accepted %q as %+v", body, id)
			}
		}
	})
}

func FuzzNamespaceFor(f *testing.F) {
	for _, s := range []string{"alice", "Admin", "", "日本語", "a--b", strings.Repeat("x-", 40), "__x__", "octopus"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		ns := NamespaceFor(name)
		checkNamespace(t, name, ns)
		if ns != NamespaceFor(name) {
			t.Fatal("not deterministic")
		}
		for _, n := range []int{2, 99, 12345} {
			checkNamespace(t, name, NamespaceCandidate(ns, n))
		}
	})
}
