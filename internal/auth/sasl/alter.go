package sasl

import "maps"

// CredentialChange is one upsertion or deletion of an
// AlterUserScramCredentials request.
type CredentialChange struct {
	User   string
	Mech   ScramMechanism
	Delete bool            // remove the credential for (User, Mech)
	Cred   ScramCredential // the new credential, unless Delete
}

// Alter applies changes with one durable write, as Kafka's controller
// applies an AlterUserScramCredentials request as one atomic batch. errs
// has, per change, why it was left out (ErrCredentialNotFound for a
// deletion of a missing credential, a validation error for an upsertion),
// or nil; the changes without one are applied together, in order. If the
// write fails, err says why and nothing is applied.
func (c *Credentials) Alter(changes []CredentialChange) (errs []error, err error) {
	errs = make([]error, len(changes))
	for i := range changes {
		if !changes[i].Delete {
			errs[i] = checkUpsert(changes[i].User, changes[i].Mech, &changes[i].Cred)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := maps.Clone(c.creds)
	changed := false
	for i, ch := range changes {
		if errs[i] != nil {
			continue
		}
		k := credKey{ch.User, ch.Mech}
		if ch.Delete {
			if _, ok := next[k]; !ok {
				errs[i] = ErrCredentialNotFound
				continue
			}
			delete(next, k)
		} else {
			next[k] = ch.Cred.clone()
		}
		changed = true
	}
	if !changed {
		return errs, nil
	}
	if err := c.commitLocked(next); err != nil {
		return errs, err
	}
	return errs, nil
}
