-- The last holder's master account sees a number it released (as its last holder does); a
-- number's audit trail is read by E.164 across every row it had; a pending verification times
-- out (its deadline is kept in reservation_expires_at).
ALTER TABLE numbers ADD COLUMN last_billing_id TEXT;
CREATE INDEX numbers_by_last_billing ON numbers(last_billing_id) WHERE last_billing_id IS NOT NULL;
CREATE INDEX number_events_by_e164 ON number_events(e164);
CREATE INDEX did_assignment_audit_by_e164 ON did_assignment_audit(e164);
DROP INDEX numbers_due_reservation;
CREATE INDEX numbers_due_reservation ON numbers(reservation_expires_at) WHERE state IN ('reserved', 'pending_verification');
