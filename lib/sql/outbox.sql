-- outbox.sql: the transactional outbox of a service, in its own schema.  Each service's first
-- migration carries a copy of these statements; they are safe to run again.
--
-- fv_outbox_add() inserts a row in the transaction that changes the data it describes; the
-- relay publishes unpublished rows in id order and sets published_at once the broker has
-- confirmed them.  A secret row (fv_outbox_add_secret: a password-reset link) has its
-- payload replaced by {"redacted":true} in that same update; published rows older than
-- FLORES_OUTBOX_RETENTION are deleted by the relay.

CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial    PRIMARY KEY,
    event_id      uuid         NOT NULL UNIQUE,
    type          text         NOT NULL,
    source        text         NOT NULL,
    payload       jsonb        NOT NULL,
    occurred_at   timestamptz  NOT NULL DEFAULT now(),
    published_at  timestamptz,
    secret        boolean      NOT NULL DEFAULT false
);

-- The relay's queue: only the rows still to publish, in id order.
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- The relay's retention: the published rows, oldest first.
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
