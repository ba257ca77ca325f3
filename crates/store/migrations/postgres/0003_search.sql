-- Substring search over numbers (`search=`, `e164 LIKE '%digits%'`): a trigram GIN index.
-- pg_trgm lives in `public` whichever schema didpool uses, and several schemas of one database
-- may migrate at once, so a concurrent creation of the extension is not an error.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL;
END
$$;
CREATE INDEX numbers_e164_trgm ON numbers USING gin (e164 public.gin_trgm_ops);
