package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/auth/tlsconf"
	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/fsutil"
)

// AdminPropertiesName is the file in the data directory holding the first
// administrator's client settings.
const AdminPropertiesName = "admin.properties"

// adminIterations is the SCRAM iteration count of the administrator's
// credential (Kafka's kafka-configs default is 4096; more costs only the
// administrator's logins).
const adminIterations = 8192

// credentialStore is what the first-administrator setup needs of the
// broker's SCRAM credential store.
type credentialStore interface {
	Lookup(user string, mech sasl.ScramMechanism) (sasl.ScramCredential, bool)
	Upsert(user string, mech sasl.ScramMechanism, cred sasl.ScramCredential) error
}

// adminTarget is where and how the administrator's client connects.
type adminTarget struct {
	Protocol   broker.SecurityProtocol // SASL_PLAINTEXT or SASL_SSL
	Bootstrap  string                  // HOST:PORT, the listener's advertised address
	Mechanism  string                  // SCRAM-SHA-512 or PLAIN
	TrustStore string                  // PEM CA file clients trust; "" to leave to the operator
}

// firstAdmin creates the first administrator when a listener uses SASL
// (see ensureAdmin) and logs what it did.
func firstAdmin(store credentialStore, dataDir string, sp securityPlan, bound []boundListener, auto *tlsconf.AutoFiles, logger *slog.Logger) error {
	i := slices.IndexFunc(bound, func(bl boundListener) bool { return bl.cfg.Protocol.UsesSASL() })
	if i < 0 {
		return nil
	}
	t := adminTarget{Protocol: bound[i].cfg.Protocol, Bootstrap: bound[i].cfg.Advertise}
	switch mechs := sp.Config.Mechanisms; {
	case slices.Contains(mechs, "SCRAM-SHA-512"):
		t.Mechanism = "SCRAM-SHA-512"
	case slices.Contains(mechs, "PLAIN"):
		t.Mechanism = "PLAIN" // PLAIN checks passwords against SCRAM credentials
	default:
		logger.Warn("no administrator created: neither SCRAM-SHA-512 nor PLAIN is among --sasl-mechanisms",
			"super_users", strings.Join(sp.Config.SuperUsers, ";"))
		return nil
	}
	if t.Protocol == broker.SaslSSL && auto != nil {
		t.TrustStore, _ = filepath.Abs(auto.CACert)
	}
	path, err := ensureAdmin(store, dataDir, t, time.Now())
	if err != nil {
		return fmt.Errorf("first administrator: %w", err)
	}
	if path != "" {
		logger.Info("created the administrator; its client settings and password are in the properties file",
			"principal", sasl.UserPrincipal(adminUser), "properties", path)
	}
	return nil
}

// ensureAdmin gives user admin a SCRAM-SHA-512 credential with a random
// password unless it has one, and writes the client settings to
// DATA_DIR/admin.properties (mode 0600) in the form of the Java client's
// --command-config. It returns the file's path, or "" when the credential
// already existed (the file is then left as it is).
//
// The file is written before the credential is stored: a crash in between
// leaves a file whose password does not work, and the next start replaces
// both, never a credential whose password nobody has.
func ensureAdmin(store credentialStore, dataDir string, t adminTarget, now time.Time) (string, error) {
	if _, ok := store.Lookup(adminUser, sasl.ScramSHA512); ok {
		return "", nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(raw[:])
	cred, err := sasl.NewScramCredential(sasl.ScramSHA512, password, adminIterations)
	if err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(dataDir, AdminPropertiesName))
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(path, adminProperties(t, password, now), 0o600); err != nil {
		return "", err
	}
	if err := store.Upsert(adminUser, sasl.ScramSHA512, cred); err != nil {
		return "", err
	}
	return path, nil
}

// adminProperties is the administrator's client configuration.
func adminProperties(t adminTarget, password string, now time.Time) []byte {
	module := "org.apache.kafka.common.security.scram.ScramLoginModule"
	if t.Mechanism == "PLAIN" {
		module = "org.apache.kafka.common.security.plain.PlainLoginModule"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Octopus administrator (%s), created %s\n", sasl.UserPrincipal(adminUser), now.UTC().Format(time.RFC3339))
	b.WriteString("# Client settings for Kafka's Java tools (--command-config); keep this file secret.\n")
	fmt.Fprintf(&b, "bootstrap.servers=%s\n", t.Bootstrap)
	fmt.Fprintf(&b, "security.protocol=%s\n", t.Protocol)
	fmt.Fprintf(&b, "sasl.mechanism=%s\n", t.Mechanism)
	fmt.Fprintf(&b, "sasl.jaas.config=%s required username=\"%s\" password=\"%s\";\n", module, adminUser, password)
	switch {
	case t.TrustStore != "":
		b.WriteString("ssl.truststore.type=PEM\n")
		fmt.Fprintf(&b, "ssl.truststore.location=%s\n", t.TrustStore)
	case t.Protocol == broker.SaslSSL:
		b.WriteString("# If the server certificate is not signed by a CA the JVM trusts:\n")
		b.WriteString("# ssl.truststore.type=PEM\n# ssl.truststore.location=/path/to/ca.crt\n")
	}
	return []byte(b.String())
}
