import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // A keyed tag of each PIN's profile (see services/pin-compliance.ts): a policy change can then tell
  // which PINs no longer comply, and mark them, without the PINs ever being readable. PINs set before
  // this column existed have none and are re-checked at their next sign-in.
  await db.schema.alterTable("pin_credentials").addColumn("profile_tag", "text").execute();
  await db.schema
    .createIndex("pin_credentials_profile_tag")
    .on("pin_credentials")
    .column("profile_tag")
    .execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.dropIndex("pin_credentials_profile_tag").execute();
  await db.schema.alterTable("pin_credentials").dropColumn("profile_tag").execute();
};
