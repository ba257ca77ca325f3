-- didpool on PostgreSQL. Money is numeric(20,4); times are timestamptz; JSON documents are text.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES accounts(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
    currency    TEXT NOT NULL,
    balance     NUMERIC(20, 4) NOT NULL,
    enabled     BOOLEAN NOT NULL,
    profile     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX accounts_by_parent ON accounts(parent_id, created_at);

CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    kind        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    scope       TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX credentials_by_account ON credentials(account_id);

CREATE TABLE trunks (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX trunks_by_account ON trunks(account_id, created_at);

CREATE TABLE numbers (
    id                  TEXT PRIMARY KEY,
    e164                TEXT NOT NULL,
    country             TEXT NOT NULL,
    region              TEXT,
    capabilities        TEXT NOT NULL,
    origin              TEXT NOT NULL,
    provider            TEXT NOT NULL,
    setup_fee           NUMERIC(20, 4) NOT NULL,
    monthly_fee         NUMERIC(20, 4) NOT NULL,
    currency            TEXT NOT NULL,
    state               TEXT NOT NULL,
    owner_id            TEXT REFERENCES accounts(id),
    billing_id          TEXT REFERENCES accounts(id),
    trunk_id            TEXT REFERENCES trunks(id),
    application_id      TEXT,
    tags                TEXT NOT NULL,
    is_blocked          BOOLEAN NOT NULL,
    is_trial_number     BOOLEAN NOT NULL,
    minimum_commitment_months BIGINT NOT NULL,
    aadhaar_verification_required BOOLEAN NOT NULL,
    aadhaar_verified    BOOLEAN NOT NULL,
    last_call_at        TIMESTAMPTZ,
    purchased_at        TIMESTAMPTZ,
    last_billing_date   TIMESTAMPTZ,
    next_billing_date   TIMESTAMPTZ,
    release_at          TIMESTAMPTZ,
    released_at         TIMESTAMPTZ,
    quarantine_until    TIMESTAMPTZ,
    release_fee         NUMERIC(20, 4),
    nickname            TEXT,
    inbound_agent_id    TEXT,
    outbound_agent_id   TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
-- One live row per number; deleted (imported, removed) rows stay as tombstones.
CREATE UNIQUE INDEX numbers_live_e164 ON numbers(e164) WHERE state <> 'deleted';
CREATE INDEX numbers_inventory ON numbers(country, e164) WHERE state = 'available';
CREATE INDEX numbers_by_owner ON numbers(owner_id, e164) WHERE owner_id IS NOT NULL;
CREATE INDEX numbers_by_billing ON numbers(billing_id, e164) WHERE billing_id IS NOT NULL;
CREATE INDEX numbers_by_trunk ON numbers(trunk_id) WHERE trunk_id IS NOT NULL;

CREATE TABLE ledger (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    amount          NUMERIC(20, 4) NOT NULL,
    balance_after   NUMERIC(20, 4) NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    reference       TEXT,
    description     TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_by_account ON ledger(account_id, seq);

CREATE TABLE number_events (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    number_id   TEXT NOT NULL REFERENCES numbers(id),
    e164        TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    from_owner  TEXT,
    to_owner    TEXT,
    at          TIMESTAMPTZ NOT NULL,
    request_id  TEXT
);
CREATE INDEX number_events_by_number ON number_events(number_id, seq);

CREATE TABLE did_assignment_audit (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    number_id       TEXT NOT NULL REFERENCES numbers(id),
    e164            TEXT NOT NULL,
    from_account_id TEXT NOT NULL,
    to_account_id   TEXT NOT NULL,
    actor_auth_id   TEXT NOT NULL,
    action          TEXT NOT NULL,
    last_call_at    TIMESTAMPTZ,
    cool_off_until  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX did_assignment_audit_by_number ON did_assignment_audit(number_id, seq);
