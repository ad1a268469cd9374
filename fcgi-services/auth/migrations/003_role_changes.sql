-- 003_role_changes.sql: role and active changes made by administrators in the user service
-- (user.role_changed), and the consumers' record of handled events.
-- Applied with search_path set to the service's schema, in one transaction.

-- The version of the last change applied: a change older than it (delivered late or again)
-- changes nothing.
ALTER TABLE users ADD COLUMN IF NOT EXISTS access_version bigint NOT NULL DEFAULT 0;

-- Events the consumers have handled (the same DDL as lib/sql/consumer.sql).
CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text         NOT NULL,
    event_id      uuid         NOT NULL,
    processed_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
