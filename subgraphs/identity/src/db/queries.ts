import type { Database, Transaction } from '@bilten/platform';
import { eq, inArray } from 'drizzle-orm';
import { type OrganizationRow, organizations, type UserRow, users } from './schema.ts';

/** Inserts unless the email is taken; `undefined` means it was. */
export async function insertUser(db: Database, row: typeof users.$inferInsert): Promise<UserRow | undefined> {
  const [user] = await db.insert(users).values(row).onConflictDoNothing({ target: users.email }).returning();
  return user;
}

export async function insertOrganization(
  db: Database | Transaction,
  row: typeof organizations.$inferInsert,
): Promise<OrganizationRow | undefined> {
  const [organization] = await db
    .insert(organizations)
    .values(row)
    .onConflictDoNothing({ target: organizations.slug })
    .returning();
  return organization;
}

export const usersByIds = (db: Database, ids: string[]) =>
  db.select().from(users).where(inArray(users.id, ids));

export const organizationsByIds = (db: Database, ids: string[]) =>
  db.select().from(organizations).where(inArray(organizations.id, ids));

export async function organizationBySlug(db: Database, slug: string): Promise<OrganizationRow | undefined> {
  const [organization] = await db.select().from(organizations).where(eq(organizations.slug, slug));
  return organization;
}
