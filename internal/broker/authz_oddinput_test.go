package broker

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSecurityHandlersOddInput feeds the security APIs mutated requests:
// whatever kmsg decodes must be answered with error codes, never a panic,
// and never a Go error (which closes the connection) except for what Kafka
// itself cannot parse (UNKNOWN elements in ACL requests). It runs each handler
// as a superuser and as a principal with no ACLs, with and without an
// authorizer.
func TestSecurityHandlersOddInput(t *testing.T) {
	seeds := []kmsg.Request{
		func() kmsg.Request {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.ResourceName, r.Principal, r.Host = kmsg.StringPtr("t"), kmsg.StringPtr("User:a"), kmsg.StringPtr("*")
			r.ResourceType, r.ResourcePatternType, r.Operation, r.PermissionType = 2, 4, 3, 3
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrCreateACLsRequest()
			for i := 0; i < 3; i++ {
				c := kmsg.NewCreateACLsRequestCreation()
				c.ResourceType, c.ResourceName, c.ResourcePatternType = 2, "topic", 3
				c.Principal, c.Host, c.Operation, c.PermissionType = "User:a", "*", 4, 3
				r.Creations = append(r.Creations, c)
			}
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrDeleteACLsRequest()
			for i := 0; i < 2; i++ {
				f := kmsg.NewDeleteACLsRequestFilter()
				f.ResourceType, f.ResourceName, f.ResourcePatternType = 1, kmsg.StringPtr("topic"), 1
				f.Principal, f.Host, f.Operation, f.PermissionType = kmsg.StringPtr("User:a"), kmsg.StringPtr("*"), 1, 1
				r.Filters = append(r.Filters, f)
			}
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
			for _, u := range []string{"a", "b", "a"} {
				ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
				ru.Name = u
				r.Users = append(r.Users, ru)
			}
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
			u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = "u", 1, 4096, []byte("salt"), make([]byte, 32)
			d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
			d.Name, d.Mechanism = "v", 2
			r.Upsertions, r.Deletions = append(r.Upsertions, u, u), append(r.Deletions, d)
			return r
		}(),
	}
	rng := rand.New(rand.NewSource(1))
	for _, authorize := range []bool{true, false} {
		b, _ := startAuthzBroker(t, t.TempDir(), func(c *Config) { c.Security.Authorize = authorize })
		for _, principal := range []string{"User:admin", "User:alice"} {
			c := &conn{b: b, principal: principal, host: "127.0.0.1"}
			for _, seed := range seeds {
				h := lookupHandler(seed.Key())
				for v := h.min; v <= h.max; v++ {
					seed.SetVersion(v)
					body := seed.AppendTo(nil)
					for i := 0; i < 300; i++ {
						mut := append([]byte(nil), body...)
						for n := rng.Intn(4); n >= 0 && len(mut) > 0; n-- {
							mut[rng.Intn(len(mut))] = byte(rng.Intn(256))
						}
						req := kmsg.RequestForKey(seed.Key())
						req.SetVersion(v)
						if req.ReadFrom(mut) != nil {
							continue
						}
						r := &request{c: c, key: seed.Key(), version: v, kreq: req}
						func() {
							defer func() {
								if p := recover(); p != nil {
									t.Fatalf("%s v%d as %s panicked on %x: %v", kmsg.NameForKey(seed.Key()), v, principal, mut, p)
								}
							}()
							resp, err := h.fn(b, r)
							if errors.Is(err, errMalformed) {
								return // Kafka closes the connection too
							}
							if err != nil || resp == nil {
								t.Fatalf("%s v%d as %s: response %v, error %v", kmsg.NameForKey(seed.Key()), v, principal, resp, err)
							}
							resp.AppendTo(nil)
						}()
					}
				}
			}
		}
	}
}
