-- 001_init.sql: profiles, delivery addresses, the outbox and the consumers' record of handled
-- events of the user service.  Applied with search_path set to the service's schema, in one
-- transaction.

-- One profile per account, keyed by the auth service's user id.  Created from user.registered,
-- or on first use from the access token's identity when the event has not arrived yet
-- (name NULL until it does).  role and active are the administrators' to change; each change
-- bumps version and leaves as user.role_changed, so that auth applies them in order.
CREATE TABLE profiles (
    id             bigint       PRIMARY KEY CHECK (id > 0),
    name           text         CHECK (name IS NULL OR char_length(name) BETWEEN 1 AND 100),
    email          text         NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    phone          text         CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{7,14}$'),
    role           text         NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    active         boolean      NOT NULL DEFAULT true,
    version        bigint       NOT NULL DEFAULT 0,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

-- The administrators' listing, newest first.
CREATE INDEX profiles_newest ON profiles (created_at DESC, id DESC);

-- A user's delivery addresses.  Exactly one is the default while the user has any: the
-- partial unique index allows at most one, and the service keeps at least one.
CREATE TABLE addresses (
    id             bigserial    PRIMARY KEY,
    user_id        bigint       NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    label          text         CHECK (label IS NULL OR char_length(label) <= 40),
    recipient      text         NOT NULL CHECK (char_length(recipient) BETWEEN 2 AND 100),
    street         text         NOT NULL CHECK (char_length(street) BETWEEN 3 AND 200),
    city           text         NOT NULL CHECK (char_length(city) BETWEEN 2 AND 100),
    region         text         NOT NULL CHECK (char_length(region) BETWEEN 2 AND 100),
    postal_code    text         CHECK (postal_code IS NULL OR postal_code ~ '^[0-9]{7}$'),
    phone          text         CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{7,14}$'),
    is_default     boolean      NOT NULL DEFAULT false,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX addresses_user ON addresses (user_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

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

-- Events the consumers have handled (the same DDL as lib/sql/consumer.sql).
CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text         NOT NULL,
    event_id      uuid         NOT NULL,
    processed_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
