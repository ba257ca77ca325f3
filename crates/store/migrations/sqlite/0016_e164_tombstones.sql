-- Issue 17, the writes. "One live row per e164, deleted rows may repeat" without a predicate on
-- `state`: SQLite rewrites a partial index's entry on every update that sets a column its WHERE
-- names, so `WHERE state <> 'deleted'` cost every purchase and release one more dirty page (a
-- WAL frame). Now the unique key is (e164, tomb): `tomb` is '' on a live row and the row's own
-- id on a deleted one, set by the trigger below only when a row enters or leaves 'deleted'.
ALTER TABLE numbers ADD COLUMN tomb TEXT NOT NULL DEFAULT '';
UPDATE numbers SET tomb = id WHERE state = 'deleted';
DROP INDEX numbers_live_e164;
CREATE UNIQUE INDEX numbers_live_e164 ON numbers(e164, tomb);

CREATE TRIGGER numbers_tomb AFTER UPDATE OF state ON numbers
WHEN (OLD.state = 'deleted') <> (NEW.state = 'deleted')
BEGIN
    UPDATE numbers SET tomb = CASE WHEN NEW.state = 'deleted' THEN NEW.id ELSE '' END
    WHERE rowid = NEW.rowid;
END;
