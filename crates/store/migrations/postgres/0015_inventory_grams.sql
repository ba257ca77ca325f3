-- Issue 17, inventory search at 1,000,000 numbers. A search of four characters or more in the
-- inventory (`ops::inventory_grams_term`) reads only this table: every 4-character window of an
-- available number's e164, with the number, keyed so that one window's numbers are in e164 order
-- (the country is in the index too, for index-only scans). Its total is counted and its page
-- found in this table alone, in proportion to the window's numbers (~0.1% of the stock). Kept
-- by the trigger below when a number enters or leaves the inventory; `check` compares it with
-- the rows (`inventory_grams_match_numbers`).
CREATE TABLE inventory_grams (
    gram    TEXT NOT NULL,
    e164    TEXT NOT NULL,
    country TEXT NOT NULL,
    PRIMARY KEY (gram, e164) INCLUDE (country)
);

-- Where a window may start (1-based): an E.164 string is at most 16 characters. The same table
-- as SQLite's, so `check` is one statement for both.
CREATE TABLE inventory_gram_starts (p INTEGER PRIMARY KEY);
INSERT INTO inventory_gram_starts (p) SELECT generate_series(1, 16);

INSERT INTO inventory_grams (gram, e164, country)
SELECT DISTINCT substr(n.e164, s.p, 4), n.e164, n.country
FROM numbers n JOIN inventory_gram_starts s ON s.p <= length(n.e164) - 3
WHERE n.state = 'available';

CREATE FUNCTION numbers_inventory_grams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'available' THEN
        DELETE FROM inventory_grams
        WHERE e164 = OLD.e164
          AND gram IN (SELECT substr(OLD.e164, p, 4) FROM generate_series(1, length(OLD.e164) - 3) AS p);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.state = 'available' THEN
        INSERT INTO inventory_grams (gram, e164, country)
        SELECT DISTINCT substr(NEW.e164, p, 4), NEW.e164, NEW.country
        FROM generate_series(1, length(NEW.e164) - 3) AS p;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER numbers_inventory_grams_insert AFTER INSERT ON numbers FOR EACH ROW
WHEN (NEW.state = 'available')
EXECUTE FUNCTION numbers_inventory_grams();
CREATE TRIGGER numbers_inventory_grams_update AFTER UPDATE OF state, e164, country ON numbers
FOR EACH ROW
WHEN ((OLD.state = 'available' OR NEW.state = 'available')
    AND (OLD.state IS DISTINCT FROM NEW.state OR OLD.e164 IS DISTINCT FROM NEW.e164
        OR OLD.country IS DISTINCT FROM NEW.country))
EXECUTE FUNCTION numbers_inventory_grams();
CREATE TRIGGER numbers_inventory_grams_delete AFTER DELETE ON numbers FOR EACH ROW
WHEN (OLD.state = 'available')
EXECUTE FUNCTION numbers_inventory_grams();
