package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/internal/api"
	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/trigger/engine"
	"github.com/octofabric/octopus/internal/trigger/invoke"
)

// controlFlags configure the control plane (REST API under /api/v1).
type controlFlags struct {
	db                 string
	kafka              string
	kafkaCommandConfig string
	oidcIssuer         string
	oidcAudience       string
	oidcCLIClientID    string
	oidcCLIScopes      []string
	secretKeyFile      string
	triggers           bool
	triggerPrivate     bool
	introspectionURL   string
	introspectionID    string
	introspectionScope string
}

func addControlFlags(cmd *cobra.Command, f *controlFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.db, "db", "", "control-plane metadata store: sqlite://PATH or postgres://... (default sqlite://DATA_DIR/octopus.db)")
	fl.StringVar(&f.kafka, "kafka", "", "run the control plane on this external Kafka cluster (HOST:PORT,...) instead of the embedded broker")
	fl.StringVar(&f.kafkaCommandConfig, "kafka-command-config", "", "with --kafka: the administrator's Java client properties (security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location of a PEM CA)")
	fl.StringVar(&f.oidcIssuer, "oidc-issuer", "", "accept bearer JWTs from this OpenID Connect issuer (discovery and JWKS)")
	fl.StringVar(&f.oidcAudience, "oidc-audience", "", "the audience such JWTs must carry")
	fl.StringVar(&f.oidcCLIClientID, "oidc-cli-client-id", "", "a public client of --oidc-issuer for `octopus login`'s device-code flow (advertised by GET /api/v1/login)")
	fl.StringSliceVar(&f.oidcCLIScopes, "oidc-cli-scopes", []string{"openid", "profile", "email", "offline_access"}, "scopes the device-code flow asks for")
	fl.StringVar(&f.secretKeyFile, "secret-key-file", "", "the key that seals triggers' header values and signing secrets at rest (default DATA_DIR/secret.key, made on first start; $OCTOPUS_SECRET_KEY, base64, wins: give every instance on one database the same key)")
	fl.BoolVar(&f.triggers, "triggers", true, "run the trigger engine on this instance (every instance that runs it shares the triggers' partitions)")
	fl.BoolVar(&f.triggerPrivate, "trigger-allow-private", false, "let triggers call loopback, private and link-local addresses (off: such targets are refused, after DNS resolution)")
	fl.StringVar(&f.introspectionURL, "introspection-url", "", "accept opaque bearer tokens checked at this RFC 7662 endpoint (e.g. Globus Auth); the client secret comes from $OCTOPUS_INTROSPECTION_CLIENT_SECRET")
	fl.StringVar(&f.introspectionID, "introspection-client-id", "", "client id for --introspection-url")
	fl.StringVar(&f.introspectionScope, "introspection-scope", "", "scope an introspected token must hold")
}

// controlUser is the control plane's own Kafka principal on the embedded
// broker: a super user whose random password lives only in memory and is
// replaced at every start.
const controlUser = "octopus-control-plane"

// controlPlane is the running control plane: its API handler and what to
// close at shutdown.
type controlPlane struct {
	handler http.Handler
	closers []func()
	engine  *engine.Engine // nil unless --triggers
}

func (cp *controlPlane) Close() {
	for i := len(cp.closers) - 1; i >= 0; i-- {
		cp.closers[i]()
	}
}

// disabledAPI answers every /api/v1 request with 503 and why.
func disabledAPI(reason string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "{\"code\":\"control_plane_disabled\",\"message\":%q,\"details\":{}}\n", reason)
	})
}

// controlPassword is a fresh random password for controlUser.
func controlPassword() string {
	var raw [32]byte
	rand.Read(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// embeddedControl prepares the embedded broker for the control plane: it
// adds controlUser to the super users (before the broker starts), and
// reports why the control plane cannot run, if it cannot.
func embeddedControl(sc *broker.SecurityConfig, bound []listenerPlan) (disabled string) {
	if !slices.ContainsFunc(bound, func(p listenerPlan) bool { return p.Protocol.UsesSASL() }) {
		return "the control plane issues SCRAM keys: start octopus serve with a SASL listener (--listener SASL_SSL://HOST:PORT)"
	}
	if !slices.Contains(sc.Mechanisms, "SCRAM-SHA-512") {
		return "the control plane issues SCRAM-SHA-512 keys: add SCRAM-SHA-512 to --sasl-mechanisms"
	}
	sc.SuperUsers = append(sc.SuperUsers, sasl.UserPrincipal(controlUser))
	return ""
}

// startControlPlane opens the store and the identity verifiers and builds
// the Fabric: on the embedded broker through a loopback SASL listener of
// its own (the control plane speaks only the Kafka protocol), or on the
// external cluster of --kafka.
func startControlPlane(ctx context.Context, f controlFlags, dataDir string, b *broker.Broker, bound []boundListener, caFile string, reg prometheus.Registerer, logger *slog.Logger) (*controlPlane, error) {
	cp := &controlPlane{}
	fail := func(err error) (*controlPlane, error) {
		cp.Close()
		return nil, err
	}
	dbURL := f.db
	if dbURL == "" {
		dbURL = "sqlite://" + filepath.Join(dataDir, "octopus.db")
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		return fail(fmt.Errorf("--db: %w", err))
	}
	cp.closers = append(cp.closers, func() { st.Close() })

	local := identity.NewLocal(st, identity.WithLogger(logger))
	if err := local.EnsureAdmin(ctx, dataDir); err != nil {
		return fail(fmt.Errorf("control plane administrator: %w", err))
	}
	verifiers := []identity.Verifier{local}
	var login *api.LoginConfig
	if f.oidcIssuer != "" {
		o, err := identity.NewOIDC(ctx, f.oidcIssuer, f.oidcAudience, identity.WithLogger(logger), identity.WithDiscoveryRetry(30*time.Second))
		if err != nil {
			return fail(fmt.Errorf("--oidc-issuer: %w", err))
		}
		verifiers = append(verifiers, o)
		login = &api.LoginConfig{Provider: o, ClientID: f.oidcCLIClientID, Scopes: f.oidcCLIScopes}
	} else if f.oidcCLIClientID != "" {
		return fail(errors.New("--oidc-cli-client-id needs --oidc-issuer"))
	}
	if f.introspectionURL != "" {
		in, err := identity.NewIntrospection(identity.IntrospectionConfig{
			URL: f.introspectionURL, ClientID: f.introspectionID,
			ClientSecret: os.Getenv("OCTOPUS_INTROSPECTION_CLIENT_SECRET"), Scope: f.introspectionScope,
		}, identity.WithLogger(logger))
		if err != nil {
			return fail(fmt.Errorf("--introspection-url: %w", err))
		}
		verifiers = append(verifiers, in)
	}

	box, err := secretKey(f.secretKeyFile, dataDir)
	if err != nil {
		return fail(err)
	}
	fcfg := fabric.Config{Store: st, Logger: logger, Secrets: box, AllowPrivateTargets: f.triggerPrivate}
	var eng atomic.Pointer[engine.Engine]
	fcfg.TriggerChanged = func() {
		if e := eng.Load(); e != nil {
			e.Notify()
		}
	}
	if f.kafka != "" {
		k, err := externalKafka(f)
		if err != nil {
			return fail(err)
		}
		fcfg.Kafka = k
	} else {
		k, clients, err := embeddedKafka(b, bound, caFile)
		if err != nil {
			return fail(err)
		}
		fcfg.Kafka, fcfg.ClientBootstrap, fcfg.ClientSecurityProtocol, fcfg.ClientCAFile = k, clients.bootstrap, clients.protocol, clients.caFile
	}
	fab, err := fabric.New(fcfg)
	if err != nil {
		return fail(fmt.Errorf("control plane: %w", err))
	}
	cp.closers = append(cp.closers, fab.Close)
	acfg := api.Config{Fabric: fab, Verifier: identity.Chain(verifiers...), Local: local, Login: login, Store: st, Logger: logger}
	if f.triggers {
		e, err := engine.New(engine.Config{
			Source:     fab,
			Kafka:      fab.KafkaOpts(),
			Invoker:    invoke.New(invoke.Config{AllowPrivate: f.triggerPrivate}),
			Registerer: reg,
			Logger:     logger.With("component", "triggers"),
		})
		if err != nil {
			return fail(fmt.Errorf("trigger engine: %w", err))
		}
		ectx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.Run(ectx)
		}()
		// Closed before the Fabric and the store, after the HTTP server:
		// batches in flight drain and commit while the event plane lives.
		cp.closers = append(cp.closers, func() { stop(); <-done })
		eng.Store(e)
		cp.engine = e
		acfg.TriggerLogs = e
	}
	a, err := api.New(acfg)
	if err != nil {
		return fail(fmt.Errorf("control plane: %w", err))
	}
	cp.handler = a.Handler()
	jctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		housekeeping(jctx, fab, st, logger)
	}()
	cp.closers = append(cp.closers, func() { stop(); <-done })
	return cp, nil
}

// Housekeeping periods: expired keys lose their credentials and ACLs within
// a minute; idempotency records are kept a day.
const (
	housekeepingEvery = time.Minute
	idempotencyTTL    = 24 * time.Hour
)

// housekeeping revokes expired keys and drops old idempotency records until
// ctx ends.
func housekeeping(ctx context.Context, fab *fabric.Fabric, st *store.Store, logger *slog.Logger) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := fab.ReapExpiredKeys(ctx, now); err != nil {
				logger.Warn("revoking expired keys", "err", err)
			} else if n > 0 {
				logger.Info("revoked expired keys", "count", n)
			}
			if _, err := st.PurgeIdempotency(ctx, now.Add(-idempotencyTTL)); err != nil {
				logger.Warn("purging idempotency records", "err", err)
			}
		}
	}
}

type clientTarget struct {
	bootstrap []string
	protocol  string
	caFile    string
}

// embeddedKafka gives controlUser a fresh password, opens a loopback
// SASL_PLAINTEXT listener for the control plane alone, and returns how the
// Fabric reaches it and what key holders are told (the first SASL
// listener's advertised address and protocol).
func embeddedKafka(b *broker.Broker, bound []boundListener, caFile string) (fabric.KafkaConfig, clientTarget, error) {
	i := slices.IndexFunc(bound, func(bl boundListener) bool { return bl.cfg.Protocol.UsesSASL() })
	if i < 0 {
		return fabric.KafkaConfig{}, clientTarget{}, errors.New("control plane: no SASL listener")
	}
	pass := controlPassword()
	cred, err := sasl.NewScramCredential(sasl.ScramSHA512, pass, 4096)
	if err != nil {
		return fabric.KafkaConfig{}, clientTarget{}, err
	}
	if err := b.Credentials().Upsert(controlUser, sasl.ScramSHA512, cred); err != nil {
		return fabric.KafkaConfig{}, clientTarget{}, fmt.Errorf("control plane credential: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fabric.KafkaConfig{}, clientTarget{}, fmt.Errorf("control plane listener: %w", err)
	}
	go b.ServeListener(ln, broker.Listener{Name: "CONTROL_PLANE", Protocol: broker.SaslPlaintext})
	ct := clientTarget{bootstrap: []string{bound[i].cfg.Advertise}, protocol: bound[i].cfg.Protocol.String()}
	if bound[i].cfg.Protocol == broker.SaslSSL {
		ct.caFile = caFile
	}
	return fabric.KafkaConfig{
		Bootstrap: []string{ln.Addr().String()}, SecurityProtocol: "SASL_PLAINTEXT",
		Mechanism: "SCRAM-SHA-512", User: controlUser, Password: pass,
	}, ct, nil
}

// jaasCreds finds username and password in a sasl.jaas.config value.
var jaasCreds = regexp.MustCompile(`(username|password)\s*=\s*"([^"]*)"`)

// externalKafka reads --kafka and --kafka-command-config.
func externalKafka(f controlFlags) (fabric.KafkaConfig, error) {
	k := fabric.KafkaConfig{SecurityProtocol: "PLAINTEXT"}
	for _, s := range strings.Split(f.kafka, ",") {
		if s = strings.TrimSpace(s); s != "" {
			k.Bootstrap = append(k.Bootstrap, s)
		}
	}
	if f.kafkaCommandConfig == "" {
		return k, nil
	}
	props, err := readProperties(f.kafkaCommandConfig)
	if err != nil {
		return k, fmt.Errorf("--kafka-command-config: %w", err)
	}
	if v := props["security.protocol"]; v != "" {
		k.SecurityProtocol = v
	}
	k.Mechanism = props["sasl.mechanism"]
	for _, m := range jaasCreds.FindAllStringSubmatch(props["sasl.jaas.config"], -1) {
		if m[1] == "username" {
			k.User = m[2]
		} else {
			k.Password = m[2]
		}
	}
	if strings.HasSuffix(strings.ToUpper(k.SecurityProtocol), "SSL") {
		k.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if ca := props["ssl.truststore.location"]; ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return k, fmt.Errorf("--kafka-command-config: ssl.truststore.location: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return k, fmt.Errorf("--kafka-command-config: %s holds no PEM certificate", ca)
			}
			k.TLS.RootCAs = pool
		}
	}
	return k, nil
}

// readProperties reads a Java properties file's key=value lines (no
// continuation lines or escapes, which client configs do not use).
func readProperties(path string) (map[string]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return props, sc.Err()
}

// secretKey opens the key that seals trigger secrets: $OCTOPUS_SECRET_KEY
// (base64), else --secret-key-file, else DATA_DIR/secret.key, made on first
// start.
func secretKey(file, dataDir string) (*secretbox.Box, error) {
	if v := os.Getenv("OCTOPUS_SECRET_KEY"); v != "" {
		box, err := secretbox.FromBase64(v)
		if err != nil {
			return nil, fmt.Errorf("$OCTOPUS_SECRET_KEY: %w", err)
		}
		return box, nil
	}
	if file != "" {
		box, err := secretbox.Load(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		}
		return box, nil
	}
	box, err := secretbox.LoadOrCreate(filepath.Join(dataDir, "secret.key"))
	if err != nil {
		return nil, fmt.Errorf("trigger secret key: %w", err)
	}
	return box, nil
}
