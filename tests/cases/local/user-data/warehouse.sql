-- The warehouse's tables the `orders` query reads (PostgreSQL, as `pg_dump --inserts` writes
-- them, less its SET lines).
CREATE SCHEMA shop;

CREATE TABLE shop.customers (
    customer_id bigint NOT NULL PRIMARY KEY,
    active boolean NOT NULL
);

CREATE TABLE shop.orders (
    order_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    amount numeric(10,2),
    ordered_at timestamp without time zone NOT NULL
);

INSERT INTO shop.customers VALUES (1, true), (2, true), (3, false);
INSERT INTO shop.orders VALUES (10, 1, 25.50, '2024-03-04 09:00:00');
INSERT INTO shop.orders VALUES (11, 2, 3.20, '2024-03-05 12:30:00'), (12, 3, 8.00, '2024-03-05 13:00:00');
INSERT INTO shop.orders VALUES (13, 1, 0.00, '2024-03-06 18:00:00');
