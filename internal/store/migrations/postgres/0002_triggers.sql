-- Version 2 (PostgreSQL): managed triggers. spec is the trigger's JSON
-- specification with every action header value sealed by the control
-- plane (internal/secretbox); secret is the sealed signing secret. The
-- store treats both as opaque (TEXT, not JSONB, keeps the bytes as
-- written). version starts at 1 and grows by one with every change, so
-- that updates can be optimistic and the engine can tell that a running
-- trigger changed.

CREATE TABLE triggers (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	owner_id   TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	name       TEXT COLLATE "C" NOT NULL,
	enabled    BOOLEAN     NOT NULL,
	version    INTEGER     NOT NULL CHECK (version > 0),
	spec       TEXT        NOT NULL,
	secret     BYTEA       NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	UNIQUE (owner_id, name)
);
