-- Schema version 3: the database's own secret, which keys the `anon:` stand-ins of people known
-- only by an email or IP address (queries/pii.sql). The value is written by triage.store.migrate()
-- from Python's `secrets` module (DuckDB's random() is not meant for keys).
CREATE TABLE IF NOT EXISTS triage_secret (
    name          VARCHAR PRIMARY KEY,
    value         VARCHAR NOT NULL
);
