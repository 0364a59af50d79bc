-- Version 1 (SQLite): identities, local tokens, Kafka keys, topics, grants
-- and idempotency records. Times are INTEGER microseconds since the Unix
-- epoch (UTC); booleans are 0 or 1; topic configs are a JSON object.

CREATE TABLE identities (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	namespace  TEXT    NOT NULL UNIQUE,
	admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
	id          TEXT    NOT NULL PRIMARY KEY,
	identity_id TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	hash        BLOB    NOT NULL UNIQUE,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER,
	revoked_at  INTEGER
) STRICT;
CREATE INDEX tokens_identity ON tokens (identity_id);

CREATE TABLE keys (
	id          TEXT    NOT NULL PRIMARY KEY,
	identity_id TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	username    TEXT    NOT NULL UNIQUE,
	mechanism   TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER,
	revoked_at  INTEGER
) STRICT;
CREATE INDEX keys_identity ON keys (identity_id, created_at, id);
CREATE INDEX keys_expiring ON keys (expires_at) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

CREATE TABLE topics (
	name       TEXT    NOT NULL PRIMARY KEY,
	namespace  TEXT    NOT NULL,
	owner_id   TEXT    NOT NULL REFERENCES identities (id),
	partitions INTEGER NOT NULL CHECK (partitions > 0),
	configs    TEXT    NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX topics_namespace ON topics (namespace, name);
CREATE INDEX topics_owner ON topics (owner_id, name);

CREATE TABLE grants (
	topic       TEXT    NOT NULL REFERENCES topics (name) ON DELETE CASCADE,
	identity_id TEXT    NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	can_read    INTEGER NOT NULL CHECK (can_read IN (0, 1)),
	can_write   INTEGER NOT NULL CHECK (can_write IN (0, 1)),
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (topic, identity_id)
) STRICT;
CREATE INDEX grants_identity ON grants (identity_id, topic);

CREATE TABLE idempotency (
	scope        TEXT    NOT NULL,
	idem_key     TEXT    NOT NULL,
	request_hash BLOB    NOT NULL,
	response     BLOB    NOT NULL,
	status       INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (scope, idem_key)
) STRICT;
CREATE INDEX idempotency_created ON idempotency (created_at);
