// Billing publishes no domain events yet: payment succeeded, failed and refunded arrive with
// the billing issue, declared here as zod-typed definitions like identity's.
export {};
