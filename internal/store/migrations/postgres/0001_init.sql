-- Version 1 (PostgreSQL): identities, local tokens, Kafka keys, topics,
-- grants and idempotency records. Keys and names sort byte-wise (COLLATE
-- "C"), as in SQLite, so pages come out in the same order on both. The
-- tables go into the first schema of the connection's search_path.

CREATE TABLE identities (
	id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL,
	namespace  TEXT COLLATE "C" NOT NULL UNIQUE,
	admin      BOOLEAN     NOT NULL DEFAULT false,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE tokens (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	hash        BYTEA       NOT NULL UNIQUE,
	created_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ,
	revoked_at  TIMESTAMPTZ
);
CREATE INDEX tokens_identity ON tokens (identity_id);

CREATE TABLE keys (
	id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	username    TEXT COLLATE "C" NOT NULL UNIQUE,
	mechanism   TEXT        NOT NULL,
	description TEXT        NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ,
	revoked_at  TIMESTAMPTZ
);
CREATE INDEX keys_identity ON keys (identity_id, created_at, id);
CREATE INDEX keys_expiring ON keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

CREATE TABLE topics (
	name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
	namespace  TEXT COLLATE "C" NOT NULL,
	owner_id   TEXT COLLATE "C" NOT NULL REFERENCES identities (id),
	partitions INTEGER     NOT NULL CHECK (partitions > 0),
	configs    JSONB       NOT NULL DEFAULT '{}',
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX topics_namespace ON topics (namespace, name);
CREATE INDEX topics_owner ON topics (owner_id, name);

CREATE TABLE grants (
	topic       TEXT COLLATE "C" NOT NULL REFERENCES topics (name) ON DELETE CASCADE,
	identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	can_read    BOOLEAN     NOT NULL,
	can_write   BOOLEAN     NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (topic, identity_id)
);
CREATE INDEX grants_identity ON grants (identity_id, topic);

CREATE TABLE idempotency (
	scope        TEXT COLLATE "C" NOT NULL,
	idem_key     TEXT COLLATE "C" NOT NULL,
	request_hash BYTEA       NOT NULL,
	response     BYTEA       NOT NULL,
	status       INTEGER     NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
