package apibench

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// BenchmarkACLStoreAdd is the embedded broker's side of one CreateAcls
// request as POST /keys sends it (11 prefixed bindings of a new principal),
// on a store that already holds n bindings: what every ACL-writing control
// plane call pays, and how it grows with the number of keys and grants.
//
//	go test -run '^$' -bench ACLStoreAdd -benchtime 200x ./internal/apibench/
func BenchmarkACLStoreAdd(b *testing.B) {
	ops := []acl.Operation{acl.Read, acl.Write, acl.Describe, acl.Create, acl.Delete, acl.Alter,
		acl.DescribeConfigs, acl.AlterConfigs, acl.Read, acl.Describe, acl.Delete}
	key := func(i int) []acl.Binding {
		p := fmt.Sprintf("User:ns%05d.k-%08x", i, i*2654435761)
		var bs []acl.Binding
		for j, op := range ops {
			rt := acl.Topic
			if j >= 8 {
				rt = acl.Group
			}
			bs = append(bs, acl.Binding{ResourceType: rt, Name: fmt.Sprintf("ns%05d.", i), Pattern: acl.Prefixed,
				Principal: p, Host: acl.WildcardHost, Operation: op, Permission: acl.Allow})
		}
		return bs
	}
	for _, n := range []int{1100, 4400, 16500} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			s, err := acl.Open(filepath.Join(b.TempDir(), "acls"))
			if err != nil {
				b.Fatal(err)
			}
			var pre []acl.Binding
			for i := range n / len(ops) {
				pre = append(pre, key(i)...)
			}
			if err := s.Add(pre); err != nil {
				b.Fatal(err)
			}
			i := n / len(ops)
			for b.Loop() {
				i++
				if err := s.Add(key(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
