-- Every ledger entry names what it is about (Vobiz's `reference`, a required field): charges and
-- refunds of a number were written `did:<e164>`, payments (opening balances, top-ups) without
-- one. Those now read `payment:<entry id>`, as the engine writes them from now on.
UPDATE ledger SET reference = 'payment:' || id WHERE reference IS NULL;
