-- 001_init.sql: reviews, the reviewers' display names, delivered purchases, the outbox and
-- the consumers' record of handled events.  Applied with search_path set to the service's
-- schema, in one transaction.

-- One review per user and product (reviews_user_product).  product_id is the catalogue's
-- business id; users are known by the id in their access token.
CREATE TABLE reviews (
    id                 bigserial    PRIMARY KEY,
    product_id         text         NOT NULL CHECK (product_id ~ '^[A-Z0-9_-]{1,32}$'),
    user_id            bigint       NOT NULL CHECK (user_id > 0),
    rating             smallint     NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title              text         CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 120),
    comment            text         NOT NULL CHECK (char_length(comment) BETWEEN 10 AND 2000),
    verified_purchase  boolean      NOT NULL DEFAULT false,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX reviews_user_product ON reviews (user_id, product_id);

-- A product's page of reviews, newest first, and its summary.
CREATE INDEX reviews_product_newest ON reviews (product_id, created_at DESC, id DESC);

-- Display names of reviewers, kept from user.registered (the access token carries no name).
CREATE TABLE reviewers (
    user_id            bigint       PRIMARY KEY,
    name               text         NOT NULL,
    updated_at         timestamptz  NOT NULL DEFAULT now()
);

-- Products a user has received (an order of theirs reached "delivered"), from
-- order.status_changed: a review of one of them is a verified purchase.
CREATE TABLE purchases (
    user_id            bigint       NOT NULL,
    product_id         text         NOT NULL,
    order_id           bigint       NOT NULL,
    delivered_at       timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);

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
