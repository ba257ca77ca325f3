-- Issue 17, round 3. The trigram index off the write path: `numbers_e164_trgm` was a GIN index
-- on `numbers`, so every purchase and release (a non-HOT update: its state and holders are
-- indexed) added a pending-list entry to it (332 of the update's 1,366 WAL bytes, merged later
-- by VACUUM), though a row's e164 never changes. The fixed columns a search needs now live in
-- `number_e164s`, one row per `numbers` row, written when a number is inserted (a statement
-- trigger over the inserted rows, so a batch is one INSERT … SELECT) and never updated; the
-- search (`ops::number_filters`) finds its matches there. `check` rule `number_e164s_match_rows`.
CREATE TABLE number_e164s (
    id   TEXT NOT NULL,
    e164 TEXT NOT NULL
);
INSERT INTO number_e164s (id, e164) SELECT id, e164 FROM numbers;
CREATE INDEX number_e164s_trgm ON number_e164s USING gin (e164 public.gin_trgm_ops);
DROP INDEX numbers_e164_trgm;

CREATE FUNCTION number_e164s_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO number_e164s (id, e164) SELECT id, e164 FROM inserted;
    RETURN NULL;
END
$$;
CREATE TRIGGER numbers_e164s_insert AFTER INSERT ON numbers
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
EXECUTE FUNCTION number_e164s_insert();

-- No command deletes a number's row or changes its e164 (a deleted number is a tombstone, state
-- 'deleted'); these keep the copy true if one ever does. The update trigger fires only for an
-- UPDATE whose SET names e164, so purchases and releases never run it. The copy has no key of
-- its own (one B-tree less per inserted number): a row is found by its e164 through the trigram
-- index (pg_trgm ≥ 1.4 serves `=`), then its id.
CREATE FUNCTION number_e164s_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM number_e164s WHERE e164 = OLD.e164 AND id = OLD.id;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO number_e164s (id, e164) VALUES (NEW.id, NEW.e164);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER numbers_e164s_update AFTER UPDATE OF id, e164 ON numbers FOR EACH ROW
WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.e164 IS DISTINCT FROM NEW.e164)
EXECUTE FUNCTION number_e164s_change();
CREATE TRIGGER numbers_e164s_delete AFTER DELETE ON numbers FOR EACH ROW
EXECUTE FUNCTION number_e164s_change();
