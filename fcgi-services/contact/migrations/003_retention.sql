-- 003_retention.sql: the retention of the mailer's handled-event records.
-- Applied with search_path set to the service's schema, in one transaction.

-- Records older than FLORES_OUTBOX_RETENTION are deleted in small batches by a periodic task
-- (this schema has no outbox; the same DDL as lib/sql/consumer.sql).
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events (processed_at);
