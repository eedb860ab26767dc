-- One row per record, replaced when a later sync sends the same (connection, type, id).
CREATE TABLE IF NOT EXISTS records (
    connection   TEXT NOT NULL,    -- the connection name (--connection)
    type         TEXT NOT NULL,    -- the record's _type
    id           TEXT NOT NULL,    -- the record's id
    json         TEXT NOT NULL,    -- the record object exactly as the connector sent it
    extracted_at TEXT NOT NULL,    -- RFC 3339
    stored_at    TEXT NOT NULL,    -- RFC 3339, when this version was written
    run_id       INTEGER,          -- sync_runs.id of the run that wrote it
    PRIMARY KEY (connection, type, id)
);
-- Records that failed validation under --skip-invalid.
CREATE TABLE IF NOT EXISTS rejected_records (
    run_id       INTEGER,
    connection   TEXT NOT NULL,
    type         TEXT,             -- NULL when the record had no _type
    id           TEXT,             -- NULL when the record had no id
    line         INTEGER NOT NULL, -- the connector's stdout line
    json         TEXT NOT NULL,
    errors       TEXT NOT NULL,
    stored_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_records_by_run ON rejected_records (run_id);
-- The last checkpoint of each stream, per connection; the next sync starts from it.
CREATE TABLE IF NOT EXISTS stream_state (
    connection   TEXT NOT NULL,
    stream_id    TEXT NOT NULL,
    state        TEXT NOT NULL,    -- JSON
    updated_at   TEXT NOT NULL,
    run_id       INTEGER,
    PRIMARY KEY (connection, stream_id)
);
-- One row per stream sync. A run whose runner was killed stays 'running' until the next run
-- on the same host finds its process gone and marks it 'failed', saying so in `error`.
CREATE TABLE IF NOT EXISTS sync_runs (
    id              INTEGER PRIMARY KEY,
    connection      TEXT NOT NULL,
    connector       TEXT NOT NULL,
    stream_id       TEXT NOT NULL,
    cutoff          TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
    records         INTEGER NOT NULL DEFAULT 0,
    records_by_type TEXT NOT NULL DEFAULT '{}', -- JSON object: {"Incident": 120, ...}
    rejected        INTEGER NOT NULL DEFAULT 0,
    checkpoints     INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    pid             INTEGER,          -- the runner's process id (schema version 2)
    host            TEXT              -- the host it ran on (schema version 2)
);
-- Connector log lines and the stderr tail of failed runs, secrets masked.
CREATE TABLE IF NOT EXISTS run_logs (
    run_id  INTEGER NOT NULL REFERENCES sync_runs (id),
    at      TEXT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_logs_by_run ON run_logs (run_id);
