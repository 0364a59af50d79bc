package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/auth/acl"
	plog "github.com/octofabric/octopus/internal/log"
)

// BenchmarkProduceAuthorized measures produce throughput through a real
// franz-go client over loopback SASL_PLAINTEXT, with the authorizer off and
// on with 1,000 bindings for other principals and topics (literal and
// prefixed) plus the one ALLOW WRITE the producer needs. Logs are not
// fsynced, so the difference is the broker's CPU cost of authorizing.
// mode=async lets the client batch (throughput); mode=sync sends one
// record per request and waits (so per-request costs show).
//
//	go test -run '^$' -bench ProduceAuthorized -benchtime 5s ./internal/broker/
func BenchmarkProduceAuthorized(b *testing.B) {
	for _, sync := range []bool{false, true} {
		for _, authorize := range []bool{false, true} {
			name := "mode=async"
			if sync {
				name = "mode=sync"
			}
			name += "/authorizer=off"
			if authorize {
				name = name[:len(name)-len("off")] + "on/acls=1001"
			}
			b.Run(name, func(b *testing.B) { benchProduce(b, authorize, sync) })
		}
	}
}

func benchProduce(b *testing.B, authorize, sync bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	br, addr := startAuthzBroker(b, b.TempDir(), func(c *Config) {
		c.Security.Authorize = authorize
		c.Fsync = plog.FsyncNever
	})
	adm := kadm.NewClient(saslClient(b, addr, "admin", adminPass))
	addUser(b, ctx, adm, "alice", "alice-pw")
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	if authorize {
		if err := br.authz.Add(benchBindings()); err != nil {
			b.Fatal(err)
		}
		if n := len(br.authz.Bindings()); n != 1001 {
			b.Fatalf("%d bindings", n)
		}
	}
	cl := saslClient(b, addr, "alice", "alice-pw", kgo.DefaultProduceTopic("bench"))
	value := make([]byte, 256)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil { // warm up: auth, producer id, metadata
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	if sync {
		for i := 0; i < b.N; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	errs := make(chan error, 1)
	for i := 0; i < b.N; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// benchBindings is 1,000 bindings for 50 other principals on topics,
// groups and the cluster, half literal and half prefixed, with some DENYs,
// plus alice's ALLOW WRITE on the benchmark topic.
func benchBindings() []acl.Binding {
	ops := []acl.Operation{acl.Read, acl.Write, acl.Describe, acl.Create, acl.Delete, acl.Alter}
	var bs []acl.Binding
	for i := 0; i < 1000; i++ {
		bd := acl.Binding{
			ResourceType: acl.Topic,
			Name:         fmt.Sprintf("team%03d-events", i),
			Pattern:      acl.Literal,
			Principal:    fmt.Sprintf("User:user%02d", i%50),
			Host:         "*",
			Operation:    ops[i%len(ops)],
			Permission:   acl.Allow,
		}
		switch {
		case i%2 == 1:
			bd.Pattern, bd.Name = acl.Prefixed, fmt.Sprintf("team%03d-", i)
		}
		switch {
		case i%10 == 3:
			bd.ResourceType, bd.Name = acl.Group, fmt.Sprintf("group%03d", i)
		case i%97 == 5:
			bd.ResourceType, bd.Name, bd.Pattern = acl.Cluster, acl.ClusterName, acl.Literal
		}
		if i%7 == 0 {
			bd.Permission = acl.Deny
		}
		bs = append(bs, bd)
	}
	return append(bs, acl.Binding{ResourceType: acl.Topic, Name: "bench", Pattern: acl.Literal,
		Principal: "User:alice", Host: "*", Operation: acl.Write, Permission: acl.Allow})
}
