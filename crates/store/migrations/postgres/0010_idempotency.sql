-- Idempotency keys (`Idempotency-Key`): one row per credential, method, path and key, claimed
-- while its request runs (`in_flight_until`), then holding the answer replayed to a retry (status,
-- headers as a JSON array of pairs, body base64). Pruned by the scheduler after the retention.
CREATE TABLE idempotency_keys (
    id               TEXT PRIMARY KEY,
    scope            TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    key              TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    in_flight_until  TIMESTAMPTZ,
    status           BIGINT,
    headers          TEXT,
    body             TEXT,
    UNIQUE (scope, method, path, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- The outcome of each command a request committed under its key, written in the command's own
-- transaction: a request repeated after a crash is answered from here instead of running again.
CREATE TABLE idempotency_outcomes (
    key_id   TEXT NOT NULL REFERENCES idempotency_keys (id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    outcome  TEXT NOT NULL,
    PRIMARY KEY (key_id, seq)
);
