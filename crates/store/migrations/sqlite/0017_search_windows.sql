-- Issue 17, round 3: the substring index of e164 holds each number's 4-character windows as
-- words instead of FTS5 trigrams, so a 4-digit search reads one word's list (~1,300 numbers at
-- 1,000,000) instead of intersecting two trigrams' (~4,000 each) by position. The text indexed
-- for a number is every window of its e164 from each position, `+` spelled `p` (the unicode61
-- tokenizer splits on `+`), in order: '+14155552671' -> 'p141 1415 4155 … 2671 671 71 1'.
-- A search of 4 characters or more is the phrase of its windows; one of 3 is the prefix query
-- of its window (the last three characters are their own word). See `ops::fts_query`.
-- Contentless (the words are not the column's text), deleted by rowid (SQLite 3.43+).
DROP TRIGGER numbers_e164_fts_insert;
DROP TRIGGER numbers_e164_fts_delete;
DROP TRIGGER numbers_e164_fts_update;
DROP TABLE numbers_e164_fts;
CREATE VIRTUAL TABLE numbers_e164_fts USING fts5(
    grams, content = '', contentless_delete = 1
);
-- The words of each row, spelled once for the fill and the triggers.
CREATE VIEW numbers_e164_windows AS SELECT rowid AS number_row,
        substr(replace(e164, '+', 'p'), 1, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 2, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 3, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 4, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 5, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 6, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 7, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 8, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 9, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 10, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 11, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 12, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 13, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 14, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 15, 4)
        || ' ' || substr(replace(e164, '+', 'p'), 16, 4) AS grams
    FROM numbers;
INSERT INTO numbers_e164_fts (rowid, grams) SELECT number_row, grams FROM numbers_e164_windows;

CREATE TRIGGER numbers_e164_fts_insert AFTER INSERT ON numbers BEGIN
    INSERT INTO numbers_e164_fts (rowid, grams)
    SELECT number_row, grams FROM numbers_e164_windows WHERE number_row = new.rowid;
END;
CREATE TRIGGER numbers_e164_fts_delete AFTER DELETE ON numbers BEGIN
    DELETE FROM numbers_e164_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER numbers_e164_fts_update AFTER UPDATE OF e164 ON numbers
WHEN old.e164 <> new.e164 BEGIN
    DELETE FROM numbers_e164_fts WHERE rowid = old.rowid;
    INSERT INTO numbers_e164_fts (rowid, grams)
    SELECT number_row, grams FROM numbers_e164_windows WHERE number_row = new.rowid;
END;
