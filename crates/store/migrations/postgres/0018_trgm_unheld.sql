-- Issue 17, round 3. The trigram index off the write path of held numbers: `numbers_e164_trgm`
-- covered every row, so every purchase, release and trunk change (non-HOT updates: their
-- columns are indexed) added the new row version to its GIN pending list (332 of a purchase's
-- 1,366 WAL bytes on `numbers`, merged later by VACUUM), though e164 never changes. Now it
-- covers only rows without a holder: PostgreSQL adds an index entry only for a row version its
-- predicate accepts, so a purchase (the row gains a holder) and any change of a held number
-- write nothing to it; a release (the row loses its holder) writes one. Every search names a
-- holder (`ops::number_filters`): the inventory (`owner_id IS NULL`) is served by this index;
-- an account's or family's numbers by their holder indexes, the search a filter there;
-- "visible to an account" ORs both (a BitmapOr of the holder indexes and this one).
DROP INDEX numbers_e164_trgm;
CREATE INDEX numbers_e164_trgm ON numbers USING gin (e164 public.gin_trgm_ops)
WHERE owner_id IS NULL;
