package identity

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestShapeOf(t *testing.T) {
	local, _ := newLocalToken()
	for _, tc := range []struct {
		token string
		want  Shape
	}{
		{"", ShapeNone},
		{local, ShapeLocal},
		{"oct_anything", ShapeLocal},
		{"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", ShapeJWT},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", ShapeJWT},
		{".eyJzdWIiOiJ4In0.c2ln", ShapeOpaque},
		{"a.b", ShapeOpaque},
		{"a.b.c.d", ShapeOpaque},
		{"a.b=.c", ShapeOpaque},
		{"AgV8yQ7xGmQ0Xb2pEwz1kzVbN", ShapeOpaque},
		{"a b", ShapeInvalid},
		{"a\x00", ShapeInvalid},
		{"é", ShapeInvalid},
		{strings.Repeat("a", MaxTokenLen+1), ShapeInvalid},
	} {
		if got := ShapeOf(tc.token); got != tc.want {
			t.Errorf("ShapeOf(%.40q) = %v, want %v", tc.token, got, tc.want)
		}
	}
}

func TestChainRoutes(t *testing.T) {
	clk := newClock()
	st, _ := openStore(t)
	local := NewLocal(st, WithClock(clk.now))
	_, localToken, err := local.CreateUser(ctxT(t), "alice")
	must(t, err, "CreateUser")

	key := newRSAKey(t, "k1")
	p, oidcV := newTestOIDC(t, clk, key)
	jwtToken := key.sign(t, p.claims(clk.now(), "bob"))

	in := newIntrospector(t)
	intro := newTestIntrospection(t, in, clk, in.config())
	in.set("AgV8yQ7xGmQ0Xb2pEwz1kzVbN", clk.now(), map[string]any{"sub": "carol"})
	in.set(jwtToken, clk.now(), map[string]any{"sub": "bob-introspected"})

	all := Chain(local, oidcV, intro)
	for _, tc := range []struct {
		v      Verifier
		token  string
		source string
		id     string
		err    error
	}{
		{all, localToken, SourceLocal, "local:alice", nil},
		{all, jwtToken, SourceOIDC, p.issuer + "|bob", nil},
		{all, "AgV8yQ7xGmQ0Xb2pEwz1kzVbN", SourceIntrospection, in.config().URL + "|carol", nil},
		{all, "", "", "", ErrNoToken},
		{all, "a b", "", "", ErrInvalidToken},
		// Without OIDC, JWTs go to introspection.
		{Chain(local, intro), jwtToken, SourceIntrospection, in.config().URL + "|bob-introspected", nil},
		// Nothing configured for the shape.
		{Chain(local), jwtToken, "", "", ErrInvalidToken},
		{Chain(local, oidcV), "AgV8yQ7xGmQ0Xb2pEwz1kzVbN", "", "", ErrInvalidToken},
		{Chain(oidcV, intro), localToken, "", "", ErrInvalidToken},
		{intro, localToken, "", "", ErrInvalidToken}, // never leaves the process
		// Typed nil verifiers are skipped.
		{Chain(local, (*OIDC)(nil), (*Introspection)(nil), nil), jwtToken, "", "", ErrInvalidToken},
	} {
		hits := in.hits.Load()
		id, err := tc.v.Verify(ctxT(t), tc.token)
		if ShapeOf(tc.token) == ShapeLocal && in.hits.Load() != hits {
			t.Fatal("a local token was sent to the introspection endpoint")
		}
		if tc.err != nil {
			wantErr(t, err, tc.err, tc.token, "Chain.Verify")
			continue
		}
		must(t, err, "Chain.Verify")
		if id.Source != tc.source || id.ID != tc.id {
			t.Errorf("token of shape %v: identity %+v, want source %s, ID %s", ShapeOf(tc.token), id, tc.source, tc.id)
		}
	}
}

type otherVerifier struct{}

func (otherVerifier) Verify(context.Context, string) (Identity, error) { return Identity{}, nil }

func TestChainPanics(t *testing.T) {
	st, _ := openStore(t)
	for name, vs := range map[string][]Verifier{
		"foreign type": {otherVerifier{}},
		"two locals":   {NewLocal(st), NewLocal(st)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			Chain(vs...)
		}()
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		err           error
	}{
		{"Bearer abc", "abc", nil},
		{"bearer  oct_xyz ", "oct_xyz", nil},
		{"", "", ErrNoToken},
		{"Basic dXNlcjpwYXNz", "", ErrInvalidToken},
		{"Bearer", "", ErrInvalidToken},
		{"Bearer ", "", ErrInvalidToken},
		{"Bearer a b", "", ErrInvalidToken},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/api/v1/me", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		got, err := BearerToken(r)
		if tc.err != nil {
			wantErr(t, err, tc.err, "", tc.header)
		} else if err != nil || got != tc.token {
			t.Errorf("BearerToken(%q) = %q, %v", tc.header, got, err)
		}
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	// A caller that gives up gets ErrUnavailable at once, not after the
	// provider's timeout.
	clk := newClock()
	in := newIntrospector(t)
	in.delay.Store(int64(time.Minute))
	v := newTestIntrospection(t, in, clk, in.config(), WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, "AgV8yQ7xGmQ0Xb2pEwz1kzVbN")
	wantErr(t, err, ErrUnavailable, "AgV8yQ7xGmQ0Xb2pEwz1kzVbN", "cancelled")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Verify returned after %v", d)
	}
	in.delay.Store(0)
}
