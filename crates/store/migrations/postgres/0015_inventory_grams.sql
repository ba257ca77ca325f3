-- Issue 17, inventory search at 1,000,000 numbers: SQLite's 0015 adds `inventory_grams`, every
-- 4-character window of each available number, kept by triggers. Measured here the same way
-- (BENCHMARKS.md, "Issue 17, round 2: inventory search"), its b-tree inserts in random key order
-- made seeding 2-3x slower, so PostgreSQL keeps serving every search from the trigram index.
COMMENT ON INDEX numbers_e164_trgm IS
    'Substring search (search=) over numbers, the inventory''s included (no inventory_grams here: see migration 0015)';
