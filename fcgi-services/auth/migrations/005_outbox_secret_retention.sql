-- 005_outbox_secret_retention.sql: secret outbox rows and the retention of published events.
-- Applied with search_path set to the service's schema, in one transaction.

-- Secret events (the same DDL as lib/sql/outbox.sql): a row written with
-- fv_outbox_add_secret() has its payload replaced by {"redacted":true} once published.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS secret boolean NOT NULL DEFAULT false;

-- Retention (FLORES_OUTBOX_RETENTION): published rows and handled-event records older than
-- it are deleted in small batches, oldest first.
CREATE INDEX IF NOT EXISTS outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events (processed_at);

-- Password-reset mails written before this migration: their links are redacted once
-- published, and those still waiting become secret.
UPDATE outbox SET payload = '{"redacted":true}'::jsonb, secret = true
    WHERE type = 'mail.requested' AND payload->>'template' = 'password_reset'
    AND published_at IS NOT NULL;
UPDATE outbox SET secret = true
    WHERE type = 'mail.requested' AND payload->>'template' = 'password_reset'
    AND published_at IS NULL;
