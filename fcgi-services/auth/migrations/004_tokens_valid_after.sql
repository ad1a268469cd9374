-- 004_tokens_valid_after.sql: the cutoff before which a user's access tokens are revoked.
-- Applied with search_path set to the service's schema, in one transaction.
--
-- Unix seconds.  logout-all, a password change or reset, a deactivation and a demotion set
-- it to now + 1 (a token minted in the same second before the event is covered too); a
-- token minted later carries iat = max(now, tokens_valid_after).  The gateway refuses a
-- token of the user whose iat is earlier: auth pushes (user, cutoff) to its revocation
-- endpoint at once, and every cutoff younger than the access-token lifetime again every 10 s.
ALTER TABLE users ADD COLUMN IF NOT EXISTS tokens_valid_after bigint NOT NULL DEFAULT 0;

-- The periodic re-push: the recent cutoffs only.
CREATE INDEX IF NOT EXISTS users_tokens_valid_after ON users (tokens_valid_after)
    WHERE tokens_valid_after > 0;
