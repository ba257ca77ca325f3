-- Lifecycle events and webhooks. The audit trail is the outbox: each event keeps its type, the
-- accounts it concerns (",MA_X,SA_Y,", for the filters) and the number as the change left it
-- (JSON); in the event's transaction the store queues a delivery to each endpoint it matches.
ALTER TABLE number_events ADD COLUMN type TEXT;
ALTER TABLE number_events ADD COLUMN accounts TEXT;
ALTER TABLE number_events ADD COLUMN number TEXT;
UPDATE number_events SET
    type = CASE WHEN action = 'released' AND to_state = 'deleted' THEN 'number.deleted'
                ELSE 'number.' || action END,
    accounts = ',' || COALESCE(from_owner || ',', '') || COALESCE(to_owner || ',', '');
CREATE INDEX number_events_by_type ON number_events(type, seq);

CREATE TABLE webhook_endpoints (
    id                      TEXT PRIMARY KEY,
    url                     TEXT NOT NULL,
    description             TEXT NOT NULL,
    -- ",number.released,number.purchased,"; empty: every type.
    event_types             TEXT NOT NULL,
    account_id              TEXT REFERENCES accounts(id),
    secret                  TEXT NOT NULL,
    previous_secret         TEXT,
    previous_secret_until   TIMESTAMPTZ,
    disabled_at             TIMESTAMPTZ,
    disabled_reason         TEXT,
    failing_since           TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    seq             BIGSERIAL PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES number_events(id),
    number_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    lease_until     TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending_by_number
    ON webhook_deliveries(endpoint_id, number_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries(event_id);

CREATE TABLE webhook_attempts (
    id              TEXT PRIMARY KEY,
    delivery_seq    BIGINT NOT NULL REFERENCES webhook_deliveries(seq) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    status_code     BIGINT,
    latency_ms      BIGINT NOT NULL,
    response        TEXT NOT NULL,
    error           TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_seq);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts(endpoint_id, at);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts(event_id);
