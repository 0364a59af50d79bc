package sasl

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
	// present says, for keys this request touched, whether the credential
	// exists after the changes so far; the others are as in c.creds.
	present := map[credKey]bool{}
	var accepted []CredentialChange
	for i, ch := range changes {
		if errs[i] != nil {
			continue
		}
		k := credKey{ch.User, ch.Mech}
		if ch.Delete {
			exists, touched := present[k]
			if !touched {
				_, exists = c.creds[k]
			}
			if !exists {
				errs[i] = ErrCredentialNotFound
				continue
			}
			present[k] = false
		} else {
			ch.Cred = ch.Cred.clone()
			present[k] = true
		}
		accepted = append(accepted, ch)
	}
	if len(accepted) == 0 {
		return errs, nil
	}
	// The log replays changes in order, as applyChanges applies them.
	if err := c.commitChangesLocked(accepted); err != nil {
		return errs, err
	}
	return errs, nil
}
