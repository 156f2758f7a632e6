// Catalog publishes no domain events yet: publishing, rescheduling and cancellation arrive with
// the catalog issue, declared here as zod-typed definitions like identity's.
export {};
