-- Issue 17, the reads. A held list (an account's numbers, or its family's) pages through one
-- index that serves its filter and its order: the holder, then e164, then state, so the rows an
-- OFFSET skips are skipped in the index. Same count of indexes as before.
DROP INDEX numbers_by_owner;
DROP INDEX numbers_by_billing;
CREATE INDEX numbers_by_owner ON numbers(owner_id, e164, state) WHERE owner_id IS NOT NULL;
CREATE INDEX numbers_by_billing ON numbers(billing_id, e164, state) WHERE billing_id IS NOT NULL;

-- How many numbers each account holds (role 'owner') and pays for (role 'billing'), by state:
-- the exact totals of the held lists without re-reading every row. Kept by the triggers below,
-- which fire only when a holder or a state changes (inventory rows have no holder).
CREATE TABLE number_holder_counts (
    holder_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    state     TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (holder_id, role, state)
);

INSERT INTO number_holder_counts (holder_id, role, state, n)
SELECT owner_id, 'owner', state, count(*) FROM numbers WHERE owner_id IS NOT NULL
GROUP BY owner_id, state;
INSERT INTO number_holder_counts (holder_id, role, state, n)
SELECT billing_id, 'billing', state, count(*) FROM numbers WHERE billing_id IS NOT NULL
GROUP BY billing_id, state;

CREATE FUNCTION numbers_holder_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.owner_id IS NOT NULL THEN
            UPDATE number_holder_counts SET n = n - 1
            WHERE holder_id = OLD.owner_id AND role = 'owner' AND state = OLD.state;
        END IF;
        IF OLD.billing_id IS NOT NULL THEN
            UPDATE number_holder_counts SET n = n - 1
            WHERE holder_id = OLD.billing_id AND role = 'billing' AND state = OLD.state;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF NEW.owner_id IS NOT NULL THEN
            INSERT INTO number_holder_counts AS c (holder_id, role, state, n)
            VALUES (NEW.owner_id, 'owner', NEW.state, 1)
            ON CONFLICT (holder_id, role, state) DO UPDATE SET n = c.n + 1;
        END IF;
        IF NEW.billing_id IS NOT NULL THEN
            INSERT INTO number_holder_counts AS c (holder_id, role, state, n)
            VALUES (NEW.billing_id, 'billing', NEW.state, 1)
            ON CONFLICT (holder_id, role, state) DO UPDATE SET n = c.n + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER numbers_holder_counts_insert AFTER INSERT ON numbers FOR EACH ROW
WHEN (NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL)
EXECUTE FUNCTION numbers_holder_counts();
CREATE TRIGGER numbers_holder_counts_update AFTER UPDATE OF owner_id, billing_id, state ON numbers
FOR EACH ROW
WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.billing_id IS DISTINCT FROM NEW.billing_id
    OR OLD.state IS DISTINCT FROM NEW.state)
EXECUTE FUNCTION numbers_holder_counts();
CREATE TRIGGER numbers_holder_counts_delete AFTER DELETE ON numbers FOR EACH ROW
WHEN (OLD.owner_id IS NOT NULL OR OLD.billing_id IS NOT NULL)
EXECUTE FUNCTION numbers_holder_counts();
