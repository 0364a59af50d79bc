package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker"
)

func TestLogin(t *testing.T) {
	b, err := broker.New(broker.Config{
		DataDir:  t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Security: broker.SecurityConfig{FailedAuthDelay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	cred, err := sasl.NewScramCredential(sasl.ScramSHA512, "pw", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Credentials().Upsert("bench", sasl.ScramSHA512, cred); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.ServeListener(ln, broker.Listener{Protocol: broker.SaslPlaintext})
	addr := []string{ln.Addr().String()}

	res, err := Login(context.Background(), LoginConfig{Brokers: addr, User: "bench", Pass: "pw", Connections: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records == 0 || res.Errors != 0 || res.Latency.Count != uint64(res.Records) {
		t.Fatalf("result %+v", res)
	}
	t.Log(res.Summary())
	if _, err := Login(context.Background(), LoginConfig{Brokers: addr, User: "bench", Pass: "wrong", Duration: 100 * time.Millisecond}); err == nil {
		t.Fatal("wrong password: no error")
	}
}
