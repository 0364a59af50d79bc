package broker

import (
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
	"github.com/octofabric/octopus/internal/auth/sasl"
)

// AlterUserScramCredentials v0, as ControllerApis and
// ScramControlManager.alterCredentials: ALTER on the cluster (else every
// user named fails with CLUSTER_AUTHORIZATION_FAILED); served with or
// without an authorizer. Per user:
//
//   - a user named more than once, in deletions or upsertions or both:
//     DUPLICATE_RESOURCE, and none of its changes is applied;
//   - an empty name: UNACCEPTABLE_CREDENTIAL; a mechanism other than
//     SCRAM-SHA-256 (1) or SCRAM-SHA-512 (2): UNSUPPORTED_SASL_MECHANISM;
//   - deleting a credential that does not exist: RESOURCE_NOT_FOUND;
//   - an upsertion with fewer than 4096 or more than 16384 iterations:
//     UNACCEPTABLE_CREDENTIAL. Octopus also refuses an empty salt and a
//     salted password that is not the hash's size (which no client could
//     authenticate against) with UNACCEPTABLE_CREDENTIAL.
//
// The accepted changes are applied together with one durable write before
// the answer. Results list deletions, then upsertions, then failures.
func init() { register(51, 0, 0, handleAlterUserSCRAMCredentials) }

func handleAlterUserSCRAMCredentials(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	result := func(user string, code int16, msg string) {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = user, code
		if code != 0 {
			res.ErrorMessage = kmsg.StringPtr(msg)
		}
		resp.Results = append(resp.Results, res)
	}
	if !r.allowedCluster(acl.Alter) {
		// AlterUserScramCredentialsRequest.getErrorResponse: every user
		// named, once, sorted.
		seen := make(map[string]bool)
		var users []string
		for _, d := range req.Deletions {
			if !seen[d.Name] {
				seen[d.Name] = true
				users = append(users, d.Name)
			}
		}
		for _, u := range req.Upsertions {
			if !seen[u.Name] {
				seen[u.Name] = true
				users = append(users, u.Name)
			}
		}
		sort.Strings(users)
		for _, u := range users {
			result(u, kerr.ClusterAuthorizationFailed.Code, msgClusterAuthFailed)
		}
		return resp, nil
	}

	type failure struct {
		code int16
		msg  string
	}
	failed := make(map[string]failure)
	var failedOrder []string
	fail := func(user string, e *kerr.Error, msg string) {
		failed[user] = failure{e.Code, msg}
		failedOrder = append(failedOrder, user)
	}
	var changes []sasl.CredentialChange
	pending := make(map[string]int) // user -> index in changes
	var dropped []bool              // per change: its user turned out to be named twice
	add := func(ch sasl.CredentialChange) {
		pending[ch.User] = len(changes)
		changes = append(changes, ch)
		dropped = append(dropped, false)
	}
	duplicate := func(user string) bool {
		i, ok := pending[user]
		if !ok {
			return false
		}
		delete(pending, user)
		dropped[i] = true
		fail(user, kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
		return true
	}
	check := func(user string, mech int8) bool {
		switch {
		case user == "":
			fail(user, kerr.UnacceptableCredential, "Username must not be empty")
		case mech != int8(sasl.ScramSHA256) && mech != int8(sasl.ScramSHA512):
			fail(user, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		default:
			return true
		}
		return false
	}
	for _, d := range req.Deletions {
		if _, bad := failed[d.Name]; bad || duplicate(d.Name) || !check(d.Name, d.Mechanism) {
			continue
		}
		if _, ok := b.creds.Lookup(d.Name, sasl.ScramMechanism(d.Mechanism)); !ok {
			fail(d.Name, kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
			continue
		}
		add(sasl.CredentialChange{User: d.Name, Mech: sasl.ScramMechanism(d.Mechanism), Delete: true})
	}
	for _, u := range req.Upsertions {
		if _, bad := failed[u.Name]; bad || duplicate(u.Name) || !check(u.Name, u.Mechanism) {
			continue
		}
		mech := sasl.ScramMechanism(u.Mechanism)
		var cred sasl.ScramCredential
		var err error
		switch {
		case u.Iterations < sasl.MinScramIterations:
			fail(u.Name, kerr.UnacceptableCredential, "Too few iterations")
			continue
		case u.Iterations > sasl.MaxScramIterations:
			fail(u.Name, kerr.UnacceptableCredential, "Too many iterations")
			continue
		case len(u.Salt) == 0:
			fail(u.Name, kerr.UnacceptableCredential, "Salt must not be empty")
			continue
		}
		if cred, err = sasl.ScramCredentialFromSaltedPassword(mech, u.Salt, u.SaltedPassword, int(u.Iterations)); err != nil {
			fail(u.Name, kerr.UnacceptableCredential, err.Error())
			continue
		}
		add(sasl.CredentialChange{User: u.Name, Mech: mech, Cred: cred})
	}

	kept := changes[:0]
	for i, ch := range changes {
		if !dropped[i] {
			kept = append(kept, ch)
		}
	}
	changes = kept
	errs, err := b.creds.Alter(changes)
	if err != nil {
		b.logger.Error("storing SCRAM credentials", "err", err)
	}
	for i, ch := range changes {
		switch {
		case err != nil:
			fail(ch.User, kerr.UnknownServerError, "The credentials could not be stored.")
		case errors.Is(errs[i], sasl.ErrCredentialNotFound):
			fail(ch.User, kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
		case errs[i] != nil:
			fail(ch.User, kerr.UnacceptableCredential, errs[i].Error())
		default:
			result(ch.User, 0, "")
		}
	}
	for _, u := range failedOrder {
		f := failed[u]
		result(u, f.code, f.msg)
	}
	return resp, nil
}
