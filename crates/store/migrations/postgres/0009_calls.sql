-- The calls a SIP edge reports (POST /routing/v1/calls), a compact record each, kept for the
-- retention (`--call-retention`) and pruned by the scheduler; the Vobiz number health reads them.
CREATE TABLE calls (
    id           TEXT PRIMARY KEY,
    number_id    TEXT NOT NULL REFERENCES numbers(id),
    e164         TEXT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    started_at   TIMESTAMPTZ NOT NULL,
    answered_at  TIMESTAMPTZ,
    ended_at     TIMESTAMPTZ NOT NULL,
    sip_status   BIGINT NOT NULL,
    reported_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX calls_by_number ON calls(number_id, started_at);
CREATE INDEX calls_by_end ON calls(ended_at);
