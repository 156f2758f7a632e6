/** SQL statements a service has sent for GraphQL requests so far (`db_queries_total{pool="requests"}`). */
export async function requestStatements(serviceUrl: string): Promise<number> {
  const text = await (await fetch(serviceUrl.replace(/\/graphql$/, '/metrics'))).text();
  const value = /^db_queries_total\{[^}]*pool="requests"[^}]*\} (\d+)$/m.exec(text)?.[1];
  if (value === undefined) throw new Error('db_queries_total{pool="requests"} is missing from /metrics');
  return Number(value);
}

/** SQL statements one run of `request` costs (after a warm-up run, so connection set-up is not counted). */
export async function statementsOf(serviceUrl: string, request: () => Promise<unknown>): Promise<number> {
  await request();
  const before = await requestStatements(serviceUrl);
  await request();
  return (await requestStatements(serviceUrl)) - before;
}
