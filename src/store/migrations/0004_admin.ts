import { type Kysely, sql } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // Case-insensitive prefix search by name and mail over millions of users (UPN already has upn_key).
  await sql`create index users_display_key on users (lower(display_name), id)`.execute(db);
  await sql`create index users_mail_key on users (lower(mail), id)`.execute(db);
  // The PIN policy version a PIN was last checked against: a policy change can tell how many PINs
  // predate it (they are re-checked at their next sign-in; the PINs themselves are never readable).
  await db.schema.alterTable("pin_credentials").addColumn("policy_version", "integer").execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.alterTable("pin_credentials").dropColumn("policy_version").execute();
  await db.schema.dropIndex("users_mail_key").execute();
  await db.schema.dropIndex("users_display_key").execute();
};
