-- 001_init.sql: accounts, refresh-token families and the outbox of the auth service.
-- Applied with search_path set to the service's schema, in one transaction.

CREATE TABLE users (
    id             bigserial    PRIMARY KEY,
    name           text         NOT NULL CHECK (char_length(name) BETWEEN 2 AND 100),
    email          text         NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    password_hash  text         NOT NULL,
    role           text         NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    active         boolean      NOT NULL DEFAULT true,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

-- One account per address, whatever its case.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- Refresh tokens are stored only as the hex SHA-256 of the token.  A family is one login:
-- each refresh rotates the token (rotated_at) and adds its successor to the same family;
-- presenting a rotated token again revokes the whole family (revoked_at on every row).
CREATE TABLE refresh_tokens (
    id             bigserial    PRIMARY KEY,
    token_hash     char(64)     NOT NULL UNIQUE,
    family_id      uuid         NOT NULL,
    user_id        bigint       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at     timestamptz  NOT NULL,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    rotated_at     timestamptz,
    revoked_at     timestamptz
);

CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- The transactional outbox (the same DDL as lib/sql/outbox.sql).
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial    PRIMARY KEY,
    event_id      uuid         NOT NULL UNIQUE,
    type          text         NOT NULL,
    source        text         NOT NULL,
    payload       jsonb        NOT NULL,
    occurred_at   timestamptz  NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
