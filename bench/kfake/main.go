// Command kfake runs franz-go's test broker (pkg/kfake) as one broker on a
// loopback address: the peer every Octopus benchmark figure is compared
// against. It prints "ready <addr>" on stdout once it is listening and runs
// until SIGINT or SIGTERM.
//
//	go run ./bench/kfake --listen 127.0.0.1:9093 [--data-dir DIR [--sync-writes]]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:9093", "HOST:PORT to listen on (port 0: any free port)")
	dataDir := flag.String("data-dir", "", "persist to this directory (default: in memory only)")
	syncWrites := flag.Bool("sync-writes", false, "fsync every write (needs --data-dir)")
	partitions := flag.Int("partitions", 1, "partitions of auto-created topics and CreateTopics with -1")
	flag.Parse()

	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("--listen port: %w", err)
	}
	if *syncWrites && *dataDir == "" {
		return fmt.Errorf("--sync-writes needs --data-dir")
	}

	opts := []kfake.Opt{
		kfake.Ports(port), // one port: one broker
		// kfake always asks for 127.0.0.1:port; listen on the host asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *syncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("ready", c.ListenAddrs()[0])

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
