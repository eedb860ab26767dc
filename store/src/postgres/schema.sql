-- The PostgreSQL destination's tables, in the schema {schema} (the first of the URL's
-- search_path, else public). The same model as the SQLite file; times are timestamptz.

-- One row per record, replaced when a later sync sends the same (connection, type, id).
CREATE TABLE {schema}.records (
    connection   text NOT NULL,        -- the connection name (--connection)
    type         text NOT NULL,        -- the record's _type
    id           text NOT NULL,        -- the record's id
    json         json NOT NULL,        -- the record exactly as the connector sent it; json ->> 'field'
    extracted_at text NOT NULL,        -- RFC 3339, as the connector said (or when the runner read it)
    stored_at    timestamptz NOT NULL DEFAULT now(), -- when this version was written
    run_id       bigint,               -- sync_runs.id of the run that wrote it
    PRIMARY KEY (connection, type, id)
);
-- Records that failed validation under --skip-invalid.
CREATE TABLE {schema}.rejected_records (
    run_id     bigint,
    connection text NOT NULL,
    type       text,                   -- NULL when the record had no _type
    id         text,                   -- NULL when the record had no id
    line       bigint NOT NULL,        -- the connector's stdout line
    json       text NOT NULL,
    errors     text NOT NULL,
    stored_at  timestamptz NOT NULL
);
CREATE INDEX rejected_records_by_run ON {schema}.rejected_records (run_id);
-- The last checkpoint of each stream, per connection; the next sync starts from it.
CREATE TABLE {schema}.stream_state (
    connection text NOT NULL,
    stream_id  text NOT NULL,
    state      json NOT NULL,
    updated_at timestamptz NOT NULL,
    run_id     bigint,
    PRIMARY KEY (connection, stream_id)
);
-- One row per stream sync. A run whose runner died stays 'running' until a later run (or a worker's heartbeat) sees
-- its database session gone and marks it 'failed', saying so in `error`.
CREATE TABLE {schema}.sync_runs (
    id              bigserial PRIMARY KEY,
    connection      text NOT NULL,
    connector       text NOT NULL,
    stream_id       text NOT NULL,
    cutoff          timestamptz NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    outcome         text NOT NULL CHECK (outcome IN ('running', 'succeeded', 'failed', 'interrupted')),
    records         bigint NOT NULL DEFAULT 0,
    records_by_type json NOT NULL DEFAULT '{}', -- {"Incident": 120, ...}
    rejected        bigint NOT NULL DEFAULT 0,
    checkpoints     bigint NOT NULL DEFAULT 0,
    error           text,
    pid             integer,           -- the runner's process id
    host            text,              -- the host it ran on
    backend_pid     integer,           -- its database session (pg_stat_activity.pid)
    backend_start   timestamptz        -- and when that session started
);
-- Connector log lines and the stderr tail of failed runs, secrets masked.
CREATE TABLE {schema}.run_logs (
    run_id  bigint NOT NULL REFERENCES {schema}.sync_runs (id),
    at      timestamptz NOT NULL,
    level   text NOT NULL,
    message text NOT NULL
);
CREATE INDEX run_logs_by_run ON {schema}.run_logs (run_id);
-- The schema version this runner created or upgraded to (one row).
CREATE TABLE {schema}.runner_schema (
    version integer NOT NULL
);
