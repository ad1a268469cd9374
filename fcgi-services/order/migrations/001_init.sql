-- 001_init.sql: orders, their per-day numbers, idempotency keys, the outbox and the
-- consumers' record of handled events.  Applied with search_path set to the service's
-- schema, in one transaction.

-- An order.  items, shipping_address and status_history are kept as the API shows them.
-- stage follows the stock reservation (see handlers.c):
--   reserving  the row exists, stock is being taken line by line; reserved lists the lines
--              the product service confirmed, so that a crash can be reconciled by hand
--   held       every line is reserved (pending .. delivered)
--   releasing  the order was cancelled; its stock is being given back
--   released   nothing of the order is held (cancelled, or OUT_OF_STOCK)
-- Rows still "reserving" are not shown by the API.
CREATE TABLE orders (
    id                bigserial    PRIMARY KEY,
    number            text         NOT NULL UNIQUE CHECK (number ~ '^FV-[0-9]{8}-[0-9]{5,}$'),
    user_id           bigint       NOT NULL CHECK (user_id > 0),
    email             text,
    status            text         NOT NULL CHECK (status IN ('pending', 'confirmed',
                                     'preparing', 'shipped', 'delivered', 'cancelled')),
    reason            text,
    stage             text         NOT NULL CHECK (stage IN ('reserving', 'held', 'releasing',
                                     'released')),
    items             jsonb        NOT NULL,
    reserved          jsonb        NOT NULL DEFAULT '[]',
    subtotal          bigint       NOT NULL CHECK (subtotal >= 0),
    shipping          bigint       NOT NULL CHECK (shipping >= 0),
    total             bigint       NOT NULL CHECK (total >= 0),
    shipping_address  jsonb        NOT NULL,
    address_id        bigint,
    delivery_date     date,
    payment_method    text         NOT NULL CHECK (payment_method IN ('webpay', 'transfer', 'cash')),
    notes             text,
    status_history    jsonb        NOT NULL DEFAULT '[]',
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX orders_user_newest ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_newest ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_newest ON orders (status, created_at DESC, id DESC);

-- The last number given out on each day (Chile time): FV-YYYYMMDD-NNNNN.
CREATE TABLE order_days (
    day               date         PRIMARY KEY,
    last              integer      NOT NULL
);

-- Idempotency-Key: the first request with a key claims the row (its own transaction) and
-- stores its answer; requests with the same key wait for that answer and repeat it.
CREATE TABLE idempotency_keys (
    user_id           bigint       NOT NULL,
    key               text         NOT NULL,
    fingerprint       text         NOT NULL,
    http_status       integer,
    response          text,
    order_id          bigint,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
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
