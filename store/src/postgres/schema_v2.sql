-- Schema version 2: the connections a fleet of workers shares (`runner connections apply`),
-- each with its schedule and its lease. A claim bumps `epoch`, the fencing token; every
-- checkpoint a worker commits re-checks it under this row's lock.
CREATE TABLE {schema}.connections (
    name         text PRIMARY KEY,
    connector    text NOT NULL,           -- a slug, or a path valid on the workers
    config       json NOT NULL,           -- as applied; "${env:NAME}" values stay references
    streams      json,                    -- ["id", ...], or NULL for every stream
    cutoff       text NOT NULL,           -- YYYY-MM-DD or RFC 3339
    every        interval NOT NULL,       -- how often it is due
    retry_after  interval NOT NULL DEFAULT '1 minute', -- the first retry after a failure
    failures     integer NOT NULL DEFAULT 0, -- failed syncs in a row (retries back off)
    skip_invalid boolean NOT NULL DEFAULT false,
    enabled      boolean NOT NULL DEFAULT true, -- false once pruned; its data stays
    next_due     timestamptz NOT NULL DEFAULT now(),
    epoch        bigint NOT NULL DEFAULT 0,
    leased_by    text,                    -- the worker holding the lease
    leased_since timestamptz,
    lease_until  timestamptz,             -- by the database's clock
    applied_at   timestamptz NOT NULL DEFAULT now()
);
-- One row per checkpoint a worker committed, written in the checkpoint's transaction
-- under the connection's row lock, so its order is the commits' order.
CREATE TABLE {schema}.checkpoint_log (
    id         bigserial PRIMARY KEY,
    connection text NOT NULL,
    stream_id  text NOT NULL,
    epoch      bigint NOT NULL,
    worker     text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkpoint_log_by_connection ON {schema}.checkpoint_log (connection, id);
-- Workers look for abandoned runs often: only the few running ones are indexed.
CREATE INDEX sync_runs_running ON {schema}.sync_runs (id) WHERE outcome = 'running';
