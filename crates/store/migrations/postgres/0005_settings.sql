-- Deployment-wide values kept between restarts, one row per key (the sandbox clock's time). The
-- value is text the store encodes per key (a time: RFC 3339, as SQLite keeps every time).
CREATE TABLE settings (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL
);
