-- Issue 17, round 3: SQLite's substring index of e164 became one of 4-character windows
-- (migrations/sqlite/0017). Nothing changes here: PostgreSQL's trigram index serves `LIKE`.
SELECT 1;
