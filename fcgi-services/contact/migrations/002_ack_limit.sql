-- 002_ack_limit.sql: how many acknowledgements each recipient got today, so that the
-- contact form cannot mail one address more than FLORES_ACK_PER_RECIPIENT_DAY of them.
-- Applied with search_path set to the service's schema, in one transaction.
--
-- A row per recipient and UTC day.  The recipient is not stored: only the lower-case hex
-- SHA-256 of the address normalised by the shop's one email rule (contact_ack_key()).
-- sent counts the acknowledgements handed to the SMTP server; skipped those not sent
-- because the day's were used up.  The mailer changes a row in the transaction that also
-- records the mail as handled (processed_events) and commits only after the SMTP server
-- accepted the mail: an acknowledgement that is retried or refused counts nothing.  Rows
-- older than a week are deleted by the mailer.

CREATE TABLE IF NOT EXISTS ack_sent (
    day        date     NOT NULL,
    recipient  text     NOT NULL CHECK (recipient ~ '^[0-9a-f]{64}$'),
    sent       integer  NOT NULL DEFAULT 0 CHECK (sent >= 0),
    skipped    integer  NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    PRIMARY KEY (day, recipient)
);
