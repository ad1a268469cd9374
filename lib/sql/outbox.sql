-- outbox.sql: the transactional outbox of a service, in its own schema.  Each service's first
-- migration carries a copy of these statements; they are safe to run again.
--
-- fv_outbox_add() inserts a row in the transaction that changes the data it describes; the
-- relay publishes unpublished rows in id order and sets published_at once the broker has
-- confirmed them.

CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial    PRIMARY KEY,
    event_id      uuid         NOT NULL UNIQUE,
    type          text         NOT NULL,
    source        text         NOT NULL,
    payload       jsonb        NOT NULL,
    occurred_at   timestamptz  NOT NULL DEFAULT now(),
    published_at  timestamptz
);

-- The relay's queue: only the rows still to publish, in id order.
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
