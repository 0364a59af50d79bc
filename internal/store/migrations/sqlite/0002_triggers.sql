-- Version 2 (SQLite): managed triggers. spec is the trigger's JSON
-- specification with every action header value sealed by the control
-- plane (internal/secretbox); secret is the sealed signing secret. The
-- store treats both as opaque. version starts at 1 and grows by one with
-- every change, so that updates can be optimistic and the engine can tell
-- that a running trigger changed.

CREATE TABLE triggers (
	id         TEXT    NOT NULL PRIMARY KEY,
	owner_id   TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	version    INTEGER NOT NULL CHECK (version > 0),
	spec       TEXT    NOT NULL,
	secret     BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (owner_id, name)
) STRICT;
