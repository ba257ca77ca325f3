-- Sessions of the web console (`/console`): the SHA-256 of the cookie's session id (never the
-- id), who it acts as (an account and the Vobiz credential it signed in with, or the operator
-- and the hash of the admin token it signed in with), and its times for the idle and absolute
-- lifetimes. Deleted at sign-out, when found dead, and by the scheduler.
CREATE TABLE console_sessions (
    id_hash        TEXT PRIMARY KEY,
    account_id     TEXT REFERENCES accounts (id),
    credential_id  TEXT,
    operator_hash  TEXT,
    created_at     TEXT NOT NULL,
    seen_at        TEXT NOT NULL,
    CHECK ((account_id IS NOT NULL AND credential_id IS NOT NULL) OR operator_hash IS NOT NULL)
);
CREATE INDEX console_sessions_seen_at ON console_sessions (seen_at);
CREATE INDEX console_sessions_created_at ON console_sessions (created_at);
