-- Issue 17, round 3: on PostgreSQL the trigram index on `numbers` now covers only rows without a
-- holder. SQLite's search has its own FTS5 table (`numbers_e164_fts`, migration 0003), which an
-- update of a number's holder or state does not touch: nothing to do here.
SELECT 1;
