-- Issue 17, the owned list. A version per holder and role that changes whenever a number enters
-- or leaves the holder's list (a holder set, cleared or moved; a held row inserted or deleted),
-- in the same transaction. A node keeps a page directory of a list (the e164 at every k-th
-- position) only while the version it was built at is the one a page reads in its own snapshot,
-- so every node of one database stays exact. State changes within the held states do not move a
-- number in or out of the list (a number has a holder only while held), so they bump nothing.
CREATE TABLE number_holder_versions (
    holder_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    version   BIGINT NOT NULL,
    PRIMARY KEY (holder_id, role)
);

INSERT INTO number_holder_versions (holder_id, role, version)
SELECT DISTINCT owner_id, 'owner', 1 FROM numbers WHERE owner_id IS NOT NULL;
INSERT INTO number_holder_versions (holder_id, role, version)
SELECT DISTINCT billing_id, 'billing', 1 FROM numbers WHERE billing_id IS NOT NULL;

CREATE FUNCTION numbers_holder_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved boolean := TG_OP = 'UPDATE' AND OLD.e164 IS DISTINCT FROM NEW.e164;
BEGIN
    -- The old holders, if the number left them or moved in their order ...
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.owner_id IS NOT NULL AND (TG_OP = 'DELETE' OR moved
                OR OLD.owner_id IS DISTINCT FROM NEW.owner_id) THEN
            UPDATE number_holder_versions SET version = version + 1
            WHERE holder_id = OLD.owner_id AND role = 'owner';
        END IF;
        IF OLD.billing_id IS NOT NULL AND (TG_OP = 'DELETE' OR moved
                OR OLD.billing_id IS DISTINCT FROM NEW.billing_id) THEN
            UPDATE number_holder_versions SET version = version + 1
            WHERE holder_id = OLD.billing_id AND role = 'billing';
        END IF;
    END IF;
    -- ... and the new ones (an old holder that is also the new one was bumped above).
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        IF NEW.owner_id IS NOT NULL AND (TG_OP = 'INSERT'
                OR OLD.owner_id IS DISTINCT FROM NEW.owner_id) THEN
            INSERT INTO number_holder_versions AS v (holder_id, role, version)
            VALUES (NEW.owner_id, 'owner', 1)
            ON CONFLICT (holder_id, role) DO UPDATE SET version = v.version + 1;
        END IF;
        IF NEW.billing_id IS NOT NULL AND (TG_OP = 'INSERT'
                OR OLD.billing_id IS DISTINCT FROM NEW.billing_id) THEN
            INSERT INTO number_holder_versions AS v (holder_id, role, version)
            VALUES (NEW.billing_id, 'billing', 1)
            ON CONFLICT (holder_id, role) DO UPDATE SET version = v.version + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER numbers_holder_versions_insert AFTER INSERT ON numbers FOR EACH ROW
WHEN (NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL)
EXECUTE FUNCTION numbers_holder_versions();
CREATE TRIGGER numbers_holder_versions_update AFTER UPDATE OF owner_id, billing_id, e164 ON numbers
FOR EACH ROW
WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.billing_id IS DISTINCT FROM NEW.billing_id
    OR (OLD.e164 IS DISTINCT FROM NEW.e164
        AND (NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL)))
EXECUTE FUNCTION numbers_holder_versions();
CREATE TRIGGER numbers_holder_versions_delete AFTER DELETE ON numbers FOR EACH ROW
WHEN (OLD.owner_id IS NOT NULL OR OLD.billing_id IS NOT NULL)
EXECUTE FUNCTION numbers_holder_versions();
