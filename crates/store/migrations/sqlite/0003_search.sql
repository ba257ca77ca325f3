-- Substring search over numbers (the inventory's and owned lists' `search=`): an FTS5 trigram
-- index of e164, external-content over `numbers` (keyed by its rowid) and kept in step by
-- triggers. Searches of three characters or more use it; shorter ones scan with LIKE.
CREATE VIRTUAL TABLE numbers_e164_fts USING fts5(
    e164, content = 'numbers', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO numbers_e164_fts (rowid, e164) SELECT rowid, e164 FROM numbers;

CREATE TRIGGER numbers_e164_fts_insert AFTER INSERT ON numbers BEGIN
    INSERT INTO numbers_e164_fts (rowid, e164) VALUES (new.rowid, new.e164);
END;
CREATE TRIGGER numbers_e164_fts_delete AFTER DELETE ON numbers BEGIN
    INSERT INTO numbers_e164_fts (numbers_e164_fts, rowid, e164) VALUES ('delete', old.rowid, old.e164);
END;
CREATE TRIGGER numbers_e164_fts_update AFTER UPDATE OF e164 ON numbers
WHEN old.e164 <> new.e164 BEGIN
    INSERT INTO numbers_e164_fts (numbers_e164_fts, rowid, e164) VALUES ('delete', old.rowid, old.e164);
    INSERT INTO numbers_e164_fts (rowid, e164) VALUES (new.rowid, new.e164);
END;
