-- Issue 17, round 3: on PostgreSQL the trigram index moves off `numbers` to a side table of the
-- fixed columns (`number_e164s`). SQLite's search has its own FTS5 table (`numbers_e164_fts`,
-- migration 0003), which an update of a number's state does not touch: nothing to do here.
SELECT 1;
