-- Issue 17, inventory search at 1,000,000 numbers. A search of four characters or more in the
-- inventory (`ops::inventory_grams_term`) reads only this table: every 4-character window of an
-- available number's e164, with the number, keyed so that one window's numbers are in e164 order.
-- Its total is counted and its page found in this table alone (no row reads), and costs in
-- proportion to the window's numbers (~0.1% of the stock), not to the trigram lists' rows.
-- Kept by the triggers below when a number enters or leaves the inventory; `check` compares it
-- with the rows (`inventory_grams_match_numbers`).
CREATE TABLE inventory_grams (
    gram    TEXT NOT NULL,
    e164    TEXT NOT NULL,
    country TEXT NOT NULL,
    PRIMARY KEY (gram, e164)
) WITHOUT ROWID;

-- Where a window may start (1-based): an E.164 string is at most 16 characters.
CREATE TABLE inventory_gram_starts (p INTEGER PRIMARY KEY);
INSERT INTO inventory_gram_starts (p)
VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16);

INSERT INTO inventory_grams (gram, e164, country)
SELECT DISTINCT substr(n.e164, s.p, 4), n.e164, n.country
FROM numbers n JOIN inventory_gram_starts s ON s.p <= length(n.e164) - 3
WHERE n.state = 'available';

CREATE TRIGGER numbers_inventory_grams_insert AFTER INSERT ON numbers
WHEN NEW.state = 'available'
BEGIN
    INSERT INTO inventory_grams (gram, e164, country)
    SELECT DISTINCT substr(NEW.e164, p, 4), NEW.e164, NEW.country FROM inventory_gram_starts
    WHERE p <= length(NEW.e164) - 3;
END;

-- One trigger for leaving and entering, so the old windows go before the new ones come.
CREATE TRIGGER numbers_inventory_grams_update AFTER UPDATE OF state, e164, country ON numbers
WHEN (OLD.state = 'available' OR NEW.state = 'available')
    AND (OLD.state IS NOT NEW.state OR OLD.e164 IS NOT NEW.e164 OR OLD.country IS NOT NEW.country)
BEGIN
    DELETE FROM inventory_grams
    WHERE OLD.state = 'available' AND e164 = OLD.e164
      AND gram IN (SELECT substr(OLD.e164, p, 4) FROM inventory_gram_starts
                   WHERE p <= length(OLD.e164) - 3);
    INSERT INTO inventory_grams (gram, e164, country)
    SELECT DISTINCT substr(NEW.e164, p, 4), NEW.e164, NEW.country FROM inventory_gram_starts
    WHERE NEW.state = 'available' AND p <= length(NEW.e164) - 3;
END;

CREATE TRIGGER numbers_inventory_grams_delete AFTER DELETE ON numbers
WHEN OLD.state = 'available'
BEGIN
    DELETE FROM inventory_grams
    WHERE e164 = OLD.e164
      AND gram IN (SELECT substr(OLD.e164, p, 4) FROM inventory_gram_starts
                   WHERE p <= length(OLD.e164) - 3);
END;
