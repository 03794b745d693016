-- Version 1: the first schema. Times are TEXT in a fixed-width UTC layout
-- (2006-01-02T15:04:05.000000000Z) so that they sort as strings and stay readable
-- from the sqlite3 shell.

CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	test_name    TEXT NOT NULL,
	start_time   TEXT NOT NULL,
	probe_cc     TEXT NOT NULL,
	probe_asn    TEXT NOT NULL,
	network_name TEXT NOT NULL,
	finish_time  TEXT,
	summary      BLOB
);

CREATE TABLE measurements (
	id          INTEGER PRIMARY KEY,
	uid         TEXT NOT NULL UNIQUE,
	run_id      INTEGER NOT NULL REFERENCES runs(id),
	test_name   TEXT NOT NULL,
	input       TEXT NOT NULL,
	verdict     TEXT NOT NULL,
	method      TEXT NOT NULL,
	start_time  TEXT NOT NULL,
	-- signed_line holds the signed envelope exactly as signed: a BLOB, so that no
	-- text conversion can ever touch a byte of it.
	signed_line BLOB NOT NULL
);
CREATE INDEX measurements_by_start ON measurements(start_time);
CREATE INDEX measurements_by_run ON measurements(run_id);

CREATE TABLE upload_queue (
	uid          TEXT PRIMARY KEY REFERENCES measurements(uid),
	state        TEXT NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'uploaded', 'rejected')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt TEXT NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	queued_at    TEXT NOT NULL,
	done_at      TEXT
);
CREATE INDEX upload_queue_due ON upload_queue(state, next_attempt);

CREATE TABLE connectivity_history (
	id          INTEGER PRIMARY KEY,
	time        TEXT NOT NULL,
	probe_cc    TEXT NOT NULL,
	probe_asn   TEXT NOT NULL,
	network_key TEXT NOT NULL,
	verdict     TEXT NOT NULL,
	evidence    BLOB
);
CREATE INDEX connectivity_by_time ON connectivity_history(time);

CREATE TABLE networks (
	key        TEXT PRIMARY KEY,
	probe_cc   TEXT NOT NULL,
	probe_asn  TEXT NOT NULL,
	name       TEXT NOT NULL,
	first_seen TEXT NOT NULL,
	last_seen  TEXT NOT NULL
);
