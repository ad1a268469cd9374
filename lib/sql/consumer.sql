-- consumer.sql: what a service's event consumers have already handled, in its own schema.
-- A service with consumers and PostgreSQL carries a copy of these statements in a
-- migration; they are safe to run again.
--
-- A handler calls fv_event_seen() inside the transaction of its effect: the row and the
-- effect commit together, so an event delivered again (delivery is at least once) is
-- recognised and skipped.

CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text         NOT NULL,
    event_id      uuid         NOT NULL,
    processed_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Records older than FLORES_OUTBOX_RETENTION are deleted (by the relay, or by a periodic
-- task in a service without an outbox).
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events (processed_at);
