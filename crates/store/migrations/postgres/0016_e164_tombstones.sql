-- Issue 17, the writes. "One live row per e164, deleted rows may repeat" keyed on (e164, tomb),
-- as on SQLite, where a partial index on `state` is rewritten by every state change. `tomb` is ''
-- on a live row and the row's id on a deleted one; here a generated column (PostgreSQL compares
-- an index's values, so a state change between live states leaves this index's key as it was,
-- which a HOT update needs).
ALTER TABLE numbers ADD COLUMN tomb TEXT NOT NULL
    GENERATED ALWAYS AS (CASE WHEN state = 'deleted' THEN id ELSE '' END) STORED;
DROP INDEX numbers_live_e164;
CREATE UNIQUE INDEX numbers_live_e164 ON numbers(e164, tomb);
