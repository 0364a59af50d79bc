package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/pkg/client"
)

// produce and consume talk Kafka, not REST: they log in with a key file,
// the JSON `octopus key create -o json` prints (secrets are shown once, so
// a key ID would not do).

// keyFileFlag is --key of produce and consume.
type keyFileFlag struct{ path, caFile string }

func (k *keyFileFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.path, "key", "", "a key file, as printed by \"octopus key create -o json\" (default $OCTOPUS_KEY_FILE)")
	cmd.Flags().StringVar(&k.caFile, "ca-file", "", "with SASL_SSL, trust this CA certificate (PEM) instead of the key file's ca_cert or ssl.ca.location")
}

// load reads the key file.
func (k *keyFileFlag) load() (client.NewKey, error) {
	var key client.NewKey
	path := k.path
	if path == "" {
		path = os.Getenv("OCTOPUS_KEY_FILE")
	}
	if path == "" {
		return key, usageErrorf("no key: give --key FILE or set $OCTOPUS_KEY_FILE (a file from `octopus key create -o json > key.json`)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return key, fmt.Errorf("key file: %w", err)
	}
	if err := json.Unmarshal(b, &key); err != nil {
		return key, fmt.Errorf("key file %s: %w", path, err)
	}
	if key.Secret == "" {
		return key, fmt.Errorf("key file %s has no secret (a key's secret is in the output of `octopus key create -o json` only)", path)
	}
	if key.Username == "" || len(key.BootstrapServers) == 0 {
		return key, errors.New("key file " + path + " has no username or bootstrap_servers")
	}
	if k.caFile != "" {
		key.CACert = "" // the flag wins over the key's own CA
		if key.ClientSettings == nil {
			key.ClientSettings = &client.ClientSettings{}
		}
		if key.ClientSettings.Librdkafka == nil {
			key.ClientSettings.Librdkafka = map[string]string{}
		}
		key.ClientSettings.Librdkafka["ssl.ca.location"] = k.caFile
	}
	return key, nil
}

// keyNamespace is the namespace of a key: its username is
// `<namespace>.k-<12 chars>`.
func keyNamespace(k client.NewKey) string {
	if i := strings.LastIndex(k.Username, ".k-"); i > 0 {
		return k.Username[:i]
	}
	return ""
}

// fullName qualifies a name without a '.' with the key's namespace, so
// `events` is `<namespace>.events`; a name with a '.' is taken as full.
func fullName(k client.NewKey, name string) string {
	if ns := keyNamespace(k); ns != "" && !strings.Contains(name, ".") {
		return ns + "." + name
	}
	return name
}

// kafkaLogin returns a franz-go client of the key after checking that it
// can log in: franz-go retries a refused login forever, so a revoked or
// expired key would otherwise hang.
func kafkaLogin(ctx context.Context, k client.NewKey, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := client.KafkaClient(k, opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("logging in to Kafka (%s) as %s: %w", strings.Join(k.BootstrapServers, ","), k.Username, err)
	}
	return cl, nil
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}
