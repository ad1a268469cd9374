-- 001_init.sql: the mailer's memory, in the schema "mail" of the contact service.
-- Applied with search_path set to the service's schema, in one transaction.
--
-- The contact form itself keeps nothing: its messages live on the event bus until mailed.
-- What is kept here is which mail requests have been sent (consumer "mailer": the
-- mail.requested event id; "order-mail": the order event id), so that a request delivered
-- twice is mailed once.  A row is written in the transaction that is open while the SMTP
-- server accepts the mail, and committed only after it did.

-- The consumers' processed events (the same DDL as lib/sql/consumer.sql).
CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text         NOT NULL,
    event_id      uuid         NOT NULL,
    processed_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
