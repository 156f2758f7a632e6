-- The placeholder createOrder's orders name no reservation and cannot become checkout orders:
-- they go before the orders table takes its checkout shape.
DELETE FROM "orders"."orders";
