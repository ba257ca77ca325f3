-- Issue 17, the owned list. A holder's list version: every row of `number_holder_counts` also
-- counts the changes made to it (`changes`), so the sum over a holder and role grows whenever a
-- number enters or leaves the holder's list, changes state in it, or moves in its e164 order, in
-- the same transaction. A node keeps a page directory of a list (the e164 at every k-th position)
-- only while the version it was built at is the one a page reads in its own snapshot, so every
-- node of one database stays exact. It costs the writes nothing more than the counts did: the
-- same trigger statements carry it (a state change between held states bumps it too, which only
-- makes a directory be rebuilt).
ALTER TABLE number_holder_counts ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;
UPDATE number_holder_counts SET changes = 1;

CREATE OR REPLACE FUNCTION numbers_holder_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.owner_id IS NOT NULL THEN
            UPDATE number_holder_counts SET n = n - 1, changes = changes + 1
            WHERE holder_id = OLD.owner_id AND role = 'owner' AND state = OLD.state;
        END IF;
        IF OLD.billing_id IS NOT NULL THEN
            UPDATE number_holder_counts SET n = n - 1, changes = changes + 1
            WHERE holder_id = OLD.billing_id AND role = 'billing' AND state = OLD.state;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF NEW.owner_id IS NOT NULL THEN
            INSERT INTO number_holder_counts AS c (holder_id, role, state, n, changes)
            VALUES (NEW.owner_id, 'owner', NEW.state, 1, 1)
            ON CONFLICT (holder_id, role, state) DO UPDATE SET n = c.n + 1, changes = c.changes + 1;
        END IF;
        IF NEW.billing_id IS NOT NULL THEN
            INSERT INTO number_holder_counts AS c (holder_id, role, state, n, changes)
            VALUES (NEW.billing_id, 'billing', NEW.state, 1, 1)
            ON CONFLICT (holder_id, role, state) DO UPDATE SET n = c.n + 1, changes = c.changes + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER numbers_holder_counts_update ON numbers;
CREATE TRIGGER numbers_holder_counts_update AFTER UPDATE OF owner_id, billing_id, state, e164 ON numbers
FOR EACH ROW
WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.billing_id IS DISTINCT FROM NEW.billing_id
    OR OLD.state IS DISTINCT FROM NEW.state
    OR (OLD.e164 IS DISTINCT FROM NEW.e164
        AND (NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL)))
EXECUTE FUNCTION numbers_holder_counts();
