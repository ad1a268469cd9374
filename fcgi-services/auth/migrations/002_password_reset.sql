-- 002_password_reset.sql: one-time password-reset tokens.
-- Applied with search_path set to the service's schema, in one transaction.
--
-- Like refresh tokens, a reset token is stored only as the hex SHA-256 of the token that was
-- mailed.  It is good once (used_at) and until expires_at (30 minutes by default); asking for
-- a new one revokes the user's earlier unused ones (revoked_at), and so does a reset.

CREATE TABLE password_resets (
    id             bigserial    PRIMARY KEY,
    user_id        bigint       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     char(64)     NOT NULL UNIQUE,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    expires_at     timestamptz  NOT NULL,
    used_at        timestamptz,
    revoked_at     timestamptz
);

-- A user's tokens that may still be used: the ones a new request or a reset revokes.
CREATE INDEX password_resets_open ON password_resets (user_id)
    WHERE used_at IS NULL AND revoked_at IS NULL;
