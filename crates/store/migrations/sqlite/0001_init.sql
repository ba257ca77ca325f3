-- didpool on SQLite. Money is INTEGER in ten-thousandths (exact sums in SQL);
-- times are TEXT in RFC 3339 UTC with microseconds (sortable as text).

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    parent_id   TEXT REFERENCES accounts(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
    currency    TEXT NOT NULL,
    balance     INTEGER NOT NULL,
    enabled     INTEGER NOT NULL,
    profile     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE INDEX accounts_by_parent ON accounts(parent_id, created_at);

CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    kind        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    scope       TEXT,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX credentials_by_account ON credentials(account_id);

CREATE TABLE trunks (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
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
    setup_fee           INTEGER NOT NULL,
    monthly_fee         INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    state               TEXT NOT NULL,
    owner_id            TEXT REFERENCES accounts(id),
    billing_id          TEXT REFERENCES accounts(id),
    trunk_id            TEXT REFERENCES trunks(id),
    application_id      TEXT,
    tags                TEXT NOT NULL,
    is_blocked          INTEGER NOT NULL,
    is_trial_number     INTEGER NOT NULL,
    minimum_commitment_months INTEGER NOT NULL,
    aadhaar_verification_required INTEGER NOT NULL,
    aadhaar_verified    INTEGER NOT NULL,
    last_call_at        TEXT,
    purchased_at        TEXT,
    last_billing_date   TEXT,
    next_billing_date   TEXT,
    release_at          TEXT,
    released_at         TEXT,
    quarantine_until    TEXT,
    release_fee         INTEGER,
    nickname            TEXT,
    inbound_agent_id    TEXT,
    outbound_agent_id   TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- One live row per number; deleted (imported, removed) rows stay as tombstones.
CREATE UNIQUE INDEX numbers_live_e164 ON numbers(e164) WHERE state <> 'deleted';
CREATE INDEX numbers_inventory ON numbers(country, e164) WHERE state = 'available';
CREATE INDEX numbers_by_owner ON numbers(owner_id, e164) WHERE owner_id IS NOT NULL;
CREATE INDEX numbers_by_billing ON numbers(billing_id, e164) WHERE billing_id IS NOT NULL;
CREATE INDEX numbers_by_trunk ON numbers(trunk_id) WHERE trunk_id IS NOT NULL;

CREATE TABLE ledger (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    amount          INTEGER NOT NULL,
    balance_after   INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    reference       TEXT,
    description     TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger(account_id, seq);

CREATE TABLE number_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    number_id   TEXT NOT NULL REFERENCES numbers(id),
    e164        TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    from_owner  TEXT,
    to_owner    TEXT,
    at          TEXT NOT NULL,
    request_id  TEXT
);
CREATE INDEX number_events_by_number ON number_events(number_id, seq);

CREATE TABLE did_assignment_audit (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    number_id       TEXT NOT NULL REFERENCES numbers(id),
    e164            TEXT NOT NULL,
    from_account_id TEXT NOT NULL,
    to_account_id   TEXT NOT NULL,
    actor_auth_id   TEXT NOT NULL,
    action          TEXT NOT NULL,
    last_call_at    TEXT,
    cool_off_until  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX did_assignment_audit_by_number ON did_assignment_audit(number_id, seq);
