import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSubgraph } from '@bilten/platform';
import { captureLogs, emailIndexOf, signUp, startTestSubgraph, type TestSubgraph } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { claimsOf, MANY_SIGNUPS, OWN_TOKENS } from './support.ts';

const BOOTSTRAP_EMAIL = `ops-${randomUUID().slice(0, 8)}@example.com`;
const BOOTSTRAP_PASSWORD = 'bootstrap admin passphrase';
const env = {
  ...MANY_SIGNUPS,
  BOOTSTRAP_ADMIN_EMAIL: `  ${BOOTSTRAP_EMAIL.toUpperCase()} `,
  BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_PASSWORD,
};

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'in-process', { env, ...OWN_TOKENS });
});

afterAll(async () => {
  await subgraph?.dispose();
});

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken } }`;

async function login(email: string, password: string) {
  const { data, errors } = await subgraph.gql<{ login: { accessToken: string } }>(LOGIN, {
    input: { email, password },
  });
  return data?.login.accessToken ? claimsOf(data.login.accessToken) : errors;
}

const liveSessions = async (userId: string) => {
  const [{ n }] = await subgraph.sql<[{ n: number }]>`
    select count(*)::int as n from identity.sessions where user_id = ${userId} and revoked_at is null`;
  return n;
};

const accounts = (email: string) =>
  subgraph.sql`select roles, email_verified_at is not null as verified from identity.users where email_index = ${emailIndexOf(email)}`;

describe('bootstrap administrator (BOOTSTRAP_ADMIN_EMAIL, BOOTSTRAP_ADMIN_PASSWORD)', () => {
  it('exists after start as a verified platform ADMIN who can sign in', async () => {
    expect(await accounts(BOOTSTRAP_EMAIL)).toEqual([{ roles: ['ADMIN'], verified: true }]);
    expect(await login(BOOTSTRAP_EMAIL, BOOTSTRAP_PASSWORD)).toMatchObject({
      roles: ['ADMIN'],
      email_verified: true,
    });
  });

  it('is idempotent: another start changes nothing, not even a password changed since', async () => {
    await subgraph.sql`update identity.users set password_hash = null where email_index = ${emailIndexOf(BOOTSTRAP_EMAIL)}`;
    const { log, lines } = captureLogs('identity-restart');
    const again = await startSubgraph(identitySubgraph, {
      databaseUrl: subgraph.database.url,
      bus: subgraph.testBus.bus,
      log,
      host: '127.0.0.1',
      port: 0,
      env,
    });
    await again.stop();
    expect(lines.find((line) => line.msg === 'bootstrap platform administrator ensured')).toMatchObject({
      outcome: 'unchanged',
    });
    expect(JSON.stringify(lines)).not.toContain(BOOTSTRAP_PASSWORD);
    expect(await accounts(BOOTSTRAP_EMAIL)).toEqual([{ roles: ['ADMIN'], verified: true }]);
    const [row] =
      await subgraph.sql`select password_hash from identity.users where email_index = ${emailIndexOf(BOOTSTRAP_EMAIL)}`;
    expect(row!.password_hash).toBeNull();
  });

  it('stops the start with one line naming the variable when the password is weak', async () => {
    await expect(
      startSubgraph(identitySubgraph, {
        databaseUrl: subgraph.database.url,
        bus: subgraph.testBus.bus,
        log: captureLogs('identity-bad-bootstrap').log,
        host: '127.0.0.1',
        port: 0,
        env: { ...env, BOOTSTRAP_ADMIN_PASSWORD: 'password' },
      }),
    ).rejects.toThrow(/BOOTSTRAP_ADMIN_PASSWORD: /);
  });
});

describe('npm run admin:create', () => {
  const cli = fileURLToPath(new URL('../src/cli/admin-create.ts', import.meta.url));
  const run = (...args: string[]) =>
    promisify(execFile)('npx', ['tsx', cli, ...args], {
      env: { ...process.env, DATABASE_URL: subgraph.database.url },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({
        code: err.code,
        stdout: err.stdout,
        stderr: err.stderr,
      }),
    );

  it('creates an administrator, saying so without the password', async () => {
    const email = `cli-${randomUUID().slice(0, 8)}@example.com`;
    const password = `cli password ${randomUUID()}`;
    const result = await run('--email', email, '--password', password);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^created platform administrator ${email} \\(`));
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(await login(email, password)).toMatchObject({ roles: ['ADMIN'], email_verified: true });
  }, 30_000);

  it('promotes an existing verified customer and keeps their password and sessions', async () => {
    const customer = await signUp(subgraph.service.url, subgraph.sql);
    const result = await run('--email', customer.email);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `made ${customer.email} (${customer.userId}) a verified platform administrator`,
    );
    expect(await accounts(customer.email)).toEqual([{ roles: ['ADMIN'], verified: true }]);
    expect(await login(customer.email, customer.password)).toMatchObject({
      sub: customer.userId,
      roles: ['ADMIN'],
    });
    expect(await liveSessions(customer.userId)).toBeGreaterThan(0);

    expect((await run('--email', customer.email)).stdout).toContain('nothing changed');
  }, 30_000);

  it('takes an unverified account away from whoever registered the address: password and sessions go', async () => {
    // Someone signs up with the address that will become an administrator's, before its owner.
    const squatter = await signUp(subgraph.service.url, subgraph.sql, { verified: false });
    expect(await liveSessions(squatter.userId)).toBeGreaterThan(0);
    const result = await run('--email', squatter.email);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('its old password and sessions are gone');
    expect(await accounts(squatter.email)).toEqual([{ roles: ['ADMIN'], verified: true }]);
    expect(await liveSessions(squatter.userId)).toBe(0);
    expect(await login(squatter.email, squatter.password)).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
    ]);

    // With --password, the given one is set instead.
    const other = await signUp(subgraph.service.url, subgraph.sql, { verified: false });
    const withPassword = await run('--email', other.email, '--password', 'a fresh admin passphrase');
    expect(withPassword.stdout).toContain('the given password is set');
    expect(await login(other.email, other.password)).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
    ]);
    expect(await login(other.email, 'a fresh admin passphrase')).toMatchObject({ roles: ['ADMIN'] });
  }, 30_000);

  it('refuses a missing email or a weak password, changing nothing', async () => {
    const missing = await run();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('usage:');
    const email = `weak-${randomUUID().slice(0, 8)}@example.com`;
    const weak = await run('--email', email, '--password', 'password');
    expect(weak.code).toBe(2);
    expect(weak.stderr).toContain('--password: ');
    expect(await accounts(email)).toEqual([]);
  }, 30_000);
});
