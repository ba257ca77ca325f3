-- Issue 17, the owned list. A version per holder and role that changes whenever a number enters
-- or leaves the holder's list (a holder set, cleared or moved; a held row inserted or deleted),
-- in the same transaction. A node keeps a page directory of a list (the e164 at every k-th
-- position) only while the version it was built at is the one a page reads in its own snapshot,
-- so every node of one database stays exact. State changes within the held states do not move a
-- number in or out of the list (a number has a holder only while held), so they bump nothing.
CREATE TABLE number_holder_versions (
    holder_id TEXT NOT NULL,
    role      TEXT NOT NULL,
    version   INTEGER NOT NULL,
    PRIMARY KEY (holder_id, role)
) WITHOUT ROWID;

INSERT INTO number_holder_versions (holder_id, role, version)
SELECT DISTINCT owner_id, 'owner', 1 FROM numbers WHERE owner_id IS NOT NULL;
INSERT INTO number_holder_versions (holder_id, role, version)
SELECT DISTINCT billing_id, 'billing', 1 FROM numbers WHERE billing_id IS NOT NULL;

CREATE TRIGGER numbers_holder_versions_insert AFTER INSERT ON numbers
WHEN NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL
BEGIN
    INSERT INTO number_holder_versions (holder_id, role, version)
    SELECT NEW.owner_id, 'owner', 1 WHERE NEW.owner_id IS NOT NULL
    ON CONFLICT (holder_id, role) DO UPDATE SET version = version + 1;
    INSERT INTO number_holder_versions (holder_id, role, version)
    SELECT NEW.billing_id, 'billing', 1 WHERE NEW.billing_id IS NOT NULL
    ON CONFLICT (holder_id, role) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER numbers_holder_versions_update AFTER UPDATE OF owner_id, billing_id, e164 ON numbers
WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.billing_id IS NOT NEW.billing_id
    OR (OLD.e164 IS NOT NEW.e164 AND (NEW.owner_id IS NOT NULL OR NEW.billing_id IS NOT NULL))
BEGIN
    -- The old holders (if the number left them or moved in their order) ...
    UPDATE number_holder_versions SET version = version + 1
    WHERE holder_id = OLD.owner_id AND role = 'owner'
      AND (OLD.owner_id IS NOT NEW.owner_id OR OLD.e164 IS NOT NEW.e164);
    UPDATE number_holder_versions SET version = version + 1
    WHERE holder_id = OLD.billing_id AND role = 'billing'
      AND (OLD.billing_id IS NOT NEW.billing_id OR OLD.e164 IS NOT NEW.e164);
    -- ... and the new ones (an old holder that is also the new one was bumped above).
    INSERT INTO number_holder_versions (holder_id, role, version)
    SELECT NEW.owner_id, 'owner', 1
    WHERE NEW.owner_id IS NOT NULL AND OLD.owner_id IS NOT NEW.owner_id
    ON CONFLICT (holder_id, role) DO UPDATE SET version = version + 1;
    INSERT INTO number_holder_versions (holder_id, role, version)
    SELECT NEW.billing_id, 'billing', 1
    WHERE NEW.billing_id IS NOT NULL AND OLD.billing_id IS NOT NEW.billing_id
    ON CONFLICT (holder_id, role) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER numbers_holder_versions_delete AFTER DELETE ON numbers
WHEN OLD.owner_id IS NOT NULL OR OLD.billing_id IS NOT NULL
BEGIN
    UPDATE number_holder_versions SET version = version + 1
    WHERE holder_id = OLD.owner_id AND role = 'owner';
    UPDATE number_holder_versions SET version = version + 1
    WHERE holder_id = OLD.billing_id AND role = 'billing';
END;
