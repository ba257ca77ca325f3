-- A number's release lock (as Telnyx's deletion lock): set while locked, with who and why.
ALTER TABLE numbers ADD COLUMN release_locked_at TEXT;
ALTER TABLE numbers ADD COLUMN release_locked_by TEXT;
ALTER TABLE numbers ADD COLUMN release_lock_reason TEXT;

-- Bulk jobs: one row per job, one per number in it. An item's result is written in the
-- transaction of its own command, with the job's counts; a runner holds a job by its lease
-- (real time) and another takes over a lease that lapsed.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    target       TEXT,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    billing_id   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    status       TEXT NOT NULL,
    total        INTEGER NOT NULL,
    succeeded    INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  TEXT,
    created_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);
CREATE INDEX jobs_waiting ON jobs(created_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_account ON jobs(account_id, created_at);
CREATE INDEX jobs_by_billing ON jobs(billing_id, created_at);

CREATE TABLE job_items (
    job_id         TEXT NOT NULL REFERENCES jobs(id),
    seq            INTEGER NOT NULL,
    e164           TEXT NOT NULL,
    -- pending, succeeded or failed
    status         TEXT NOT NULL,
    error_code     TEXT,
    error_message  TEXT,
    finished_at    TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX job_items_pending ON job_items(job_id, seq) WHERE status = 'pending';
