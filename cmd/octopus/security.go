package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/auth/tlsconf"
	"github.com/octofabric/octopus/internal/broker"
)

// securityFlags are the serve flags for TLS, SASL and authorization.
type securityFlags struct {
	tlsCert       string
	tlsKey        string
	tlsClientCA   string
	tlsClientAuth string // "" = required with a client CA, else none
	tlsAuto       bool
	allowInsecure bool

	mechanisms          []string
	oauthIssuer         string
	oauthAudience       string
	oauthJWKS           string
	oauthPrincipalClaim string

	superUsers []string
	maxReauth  time.Duration
}

func addSecurityFlags(cmd *cobra.Command, f *securityFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain of the SSL and SASL_SSL listeners (reloaded when the file changes)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	fl.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM CA certificates that client certificates must chain to")
	fl.StringVar(&f.tlsClientAuth, "tls-client-auth", "", "client certificates: none, requested or required (default: required with --tls-client-ca, else none)")
	fl.BoolVar(&f.tlsAuto, "tls-auto", false, "generate a private CA and a server certificate in DATA_DIR/tls (clients trust DATA_DIR/tls/ca.crt)")
	fl.BoolVar(&f.allowInsecure, "allow-insecure", false, "allow listeners reachable from other machines on which clients do not authenticate")
	fl.StringSliceVar(&f.mechanisms, "sasl-mechanisms", []string{"SCRAM-SHA-512", "SCRAM-SHA-256"}, "SASL mechanisms of SASL listeners: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, OAUTHBEARER")
	fl.StringVar(&f.oauthIssuer, "oauth-issuer", "", "OAUTHBEARER: the required token issuer (iss); enables OAUTHBEARER")
	fl.StringVar(&f.oauthAudience, "oauth-audience", "", "OAUTHBEARER: a required token audience (aud)")
	fl.StringVar(&f.oauthJWKS, "oauth-jwks", "", "OAUTHBEARER: JWKS JSON file with the issuer's signing keys")
	fl.StringVar(&f.oauthPrincipalClaim, "oauth-principal-claim", "sub", "OAUTHBEARER: the token claim naming the user")
	fl.StringArrayVar(&f.superUsers, "super-users", nil, "principals allowed everything, User:NAME separated by ',' or ';' (use ';' when a name holds commas; repeatable; Kafka's super.users)")
	fl.DurationVar(&f.maxReauth, "max-reauth", 0, "longest SASL session before the client must re-authenticate (connections.max.reauth.ms); 0 = no limit but a token's expiry")
}

// adminUser is the first administrator serve creates on SASL listeners.
const adminUser = "admin"

// securityPlan is what the security flags resolve to.
type securityPlan struct {
	Config     broker.SecurityConfig
	ClientAuth tlsconf.ClientAuth
	NeedTLS    bool     // some listener uses TLS
	Warnings   []string // to log at startup
}

var knownMechanisms = []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "OAUTHBEARER"}

// planSecurity checks the security flags against the listeners and
// resolves them. It reads the --oauth-jwks file and nothing else.
func planSecurity(f securityFlags, plans []listenerPlan) (securityPlan, error) {
	var sp securityPlan
	var sasls, tlss []listenerPlan
	for _, p := range plans {
		if p.Protocol.UsesSASL() {
			sasls = append(sasls, p)
		}
		if p.Protocol.UsesTLS() {
			tlss = append(tlss, p)
		}
	}
	sp.NeedTLS = len(tlss) > 0

	// TLS.
	switch {
	case f.tlsAuto && (f.tlsCert != "" || f.tlsKey != ""):
		return sp, errors.New("--tls-auto generates the certificate; do not also give --tls-cert or --tls-key")
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return sp, errors.New("--tls-cert and --tls-key go together")
	case !sp.NeedTLS && (f.tlsAuto || f.tlsCert != "" || f.tlsClientCA != "" || f.tlsClientAuth != ""):
		return sp, errors.New("TLS flags given but no SSL or SASL_SSL listener; add --listener SSL://HOST:PORT or SASL_SSL://HOST:PORT")
	case sp.NeedTLS && !f.tlsAuto && f.tlsCert == "":
		return sp, fmt.Errorf("listener %s uses TLS: give --tls-cert and --tls-key, or --tls-auto", tlss[0].Name())
	}
	sp.ClientAuth = tlsconf.ClientAuthNone
	if f.tlsClientCA != "" {
		sp.ClientAuth = tlsconf.ClientAuthRequired
	}
	if f.tlsClientAuth != "" {
		ca, err := tlsconf.ParseClientAuth(f.tlsClientAuth)
		if err != nil {
			return sp, fmt.Errorf("--tls-client-auth %q: want none, requested or required", f.tlsClientAuth)
		}
		sp.ClientAuth = ca
	}
	switch {
	case sp.ClientAuth != tlsconf.ClientAuthNone && f.tlsClientCA == "":
		return sp, fmt.Errorf("--tls-client-auth %s needs --tls-client-ca, the CA that signs client certificates", sp.ClientAuth)
	case sp.ClientAuth == tlsconf.ClientAuthNone && f.tlsClientCA != "":
		return sp, errors.New("--tls-client-ca is unused with --tls-client-auth none")
	}

	// SASL.
	sc := &sp.Config
	for _, m := range f.mechanisms {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !slices.Contains(knownMechanisms, m) {
			return sp, fmt.Errorf("--sasl-mechanisms: unknown mechanism %q (want %s)", m, strings.Join(knownMechanisms, ", "))
		}
		if !slices.Contains(sc.Mechanisms, m) {
			sc.Mechanisms = append(sc.Mechanisms, m)
		}
	}
	if f.oauthIssuer != "" && !slices.Contains(sc.Mechanisms, "OAUTHBEARER") {
		sc.Mechanisms = append(sc.Mechanisms, "OAUTHBEARER")
	}
	if len(sc.Mechanisms) == 0 {
		return sp, errors.New("--sasl-mechanisms: none given")
	}
	if slices.Contains(sc.Mechanisms, "OAUTHBEARER") {
		if f.oauthIssuer == "" || f.oauthAudience == "" || f.oauthJWKS == "" {
			return sp, errors.New("OAUTHBEARER needs --oauth-issuer, --oauth-audience and --oauth-jwks")
		}
		jwks, err := sasl.LoadJWKSFile(f.oauthJWKS)
		if err != nil {
			return sp, fmt.Errorf("--oauth-jwks: %w", err)
		}
		sc.OAuthBearer = &sasl.OAuthBearerConfig{
			Issuer:         f.oauthIssuer,
			Audience:       f.oauthAudience,
			JWKS:           jwks,
			PrincipalClaim: f.oauthPrincipalClaim,
		}
	} else if f.oauthAudience != "" || f.oauthJWKS != "" {
		return sp, errors.New("--oauth-audience and --oauth-jwks need --oauth-issuer")
	}
	if f.maxReauth < 0 {
		return sp, errors.New("--max-reauth must not be negative")
	}
	sc.MaxReauth = f.maxReauth
	if len(sasls) > 0 && slices.Contains(sc.Mechanisms, "PLAIN") {
		for _, p := range sasls {
			if p.Protocol == broker.SaslPlaintext && !loopbackHost(p.Host()) {
				sp.Warnings = append(sp.Warnings, fmt.Sprintf("PLAIN on the SASL_PLAINTEXT listener %s sends passwords unencrypted over the network; prefer SASL_SSL", p.Addr))
			}
		}
	}

	// Authorization.
	users, err := parseSuperUsers(f.superUsers)
	if err != nil {
		return sp, err
	}
	sc.SuperUsers = users
	for _, p := range plans {
		if p.Protocol.UsesSASL() || (p.Protocol == broker.SSL && sp.ClientAuth == tlsconf.ClientAuthRequired) {
			sc.Authorize = true
		}
	}
	if sc.Authorize && !slices.Contains(sc.SuperUsers, sasl.UserPrincipal(adminUser)) {
		sc.SuperUsers = append(sc.SuperUsers, sasl.UserPrincipal(adminUser))
	}
	return sp, nil
}

// principalStart matches the start of a principal: its type and a colon.
var principalStart = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*:`)

// parseSuperUsers splits --super-users values. A value holding ';' is split
// on ';' only, as Kafka's super.users, so names may hold commas; otherwise
// on ',' where the next part starts a new principal ("User:CN=a,O=b,User:c"
// is two principals). Each must be User:NAME.
func parseSuperUsers(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		var parts []string
		if strings.Contains(v, ";") {
			parts = strings.Split(v, ";")
		} else {
			for _, p := range strings.Split(v, ",") {
				if len(parts) > 0 && !principalStart.MatchString(strings.TrimSpace(p)) {
					parts[len(parts)-1] += "," + p
					continue
				}
				parts = append(parts, p)
			}
		}
		for _, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !strings.HasPrefix(p, "User:") || len(p) == len("User:") {
				return nil, fmt.Errorf("--super-users: %q is not a principal; want User:NAME", p)
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// serverTLS builds the TLS configuration of the TLS listeners, with
// --tls-auto first generating or refreshing the files in DATA_DIR/tls. It
// returns nil when no listener uses TLS; auto is nil without --tls-auto.
func serverTLS(f securityFlags, sp securityPlan, dataDir string, plans []listenerPlan, logger *slog.Logger) (cfg *tls.Config, auto *tlsconf.AutoFiles, err error) {
	if !sp.NeedTLS {
		return nil, nil, nil
	}
	sc := tlsconf.ServerConfig{
		CertFile:     f.tlsCert,
		KeyFile:      f.tlsKey,
		ClientCAFile: f.tlsClientCA,
		ClientAuth:   sp.ClientAuth,
		OnReloadError: func(err error) {
			logger.Warn("TLS certificate files changed but do not load; still serving the previous certificate", "err", err)
		},
	}
	if f.tlsAuto {
		files, err := tlsconf.Auto(filepath.Join(dataDir, "tls"), tlsHosts(plans))
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-auto: %w", err)
		}
		auto = &files
		sc.CertFile, sc.KeyFile = files.Cert, files.Key
		ca, _ := filepath.Abs(files.CACert)
		logger.Info("TLS certificate from the private CA; clients must trust ca.crt",
			"ca_cert", ca, "new_ca", files.CACreated, "issued", files.Issued,
			"hosts", strings.Join(files.Hosts, ","))
	}
	if cfg, err = tlsconf.Server(sc); err != nil {
		return nil, nil, err
	}
	return cfg, auto, nil
}
