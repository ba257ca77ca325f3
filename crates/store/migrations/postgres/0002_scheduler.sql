-- Verification, reservations, quarantine visibility, imported numbers' SIP settings, and the
-- indexes the scheduler's due-item scan uses.
ALTER TABLE accounts ADD COLUMN verification TEXT NOT NULL DEFAULT 'verified';
ALTER TABLE numbers ADD COLUMN last_owner_id TEXT;
ALTER TABLE numbers ADD COLUMN reservation_expires_at TIMESTAMPTZ;
ALTER TABLE numbers ADD COLUMN sip_config TEXT;
CREATE INDEX numbers_due_release ON numbers(release_at) WHERE release_at IS NOT NULL;
CREATE INDEX numbers_due_quarantine ON numbers(quarantine_until) WHERE state = 'quarantined';
CREATE INDEX numbers_due_reservation ON numbers(reservation_expires_at) WHERE state = 'reserved';
CREATE INDEX numbers_due_renewal ON numbers(next_billing_date) WHERE state = 'active' AND origin = 'stock';
CREATE INDEX numbers_awaiting_verification ON numbers(billing_id) WHERE state IN ('reserved', 'pending_verification');
CREATE INDEX numbers_by_last_owner ON numbers(last_owner_id) WHERE last_owner_id IS NOT NULL;
