import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_principal_name", "text", (c) => c.notNull())
    .addColumn("upn_key", "text", (c) => c.notNull().unique())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("mail", "text")
    .addColumn("mobile_phone", "text")
    .addColumn("account_enabled", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("roles", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("last_sign_in_at", "bigint")
    .execute();

  await db.schema
    .createTable("pin_credentials")
    .addColumn("user_id", "text", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("is_temporary", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("temporary_expires_at", "bigint")
    .addColumn("must_change_reason", "text")
    .addColumn("must_change_at", "bigint")
    .addColumn("must_change_by", "text")
    .addColumn("changed_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("lockout_counters")
    .addColumn("subject", "text", (c) => c.primaryKey())
    .addColumn("failed_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("lock_count", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("locked_at", "bigint")
    .addColumn("locked_until", "bigint")
    .addColumn("last_failed_at", "bigint")
    .execute();

  await db.schema
    .createTable("pin_history")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("pin_history_user")
    .on("pin_history")
    .columns(["user_id", "created_at"])
    .execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("target_user_id", "text")
    .addColumn("target_upn", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("request_id", "text")
    .addColumn("details", "text")
    .execute();
  await db.schema.createIndex("audit_events_at").on("audit_events").columns(["at"]).execute();
  await db.schema
    .createIndex("audit_events_target")
    .on("audit_events")
    .columns(["target_user_id", "at"])
    .execute();
  await db.schema.createIndex("audit_events_action").on("audit_events").columns(["action", "at"]).execute();

  await db.schema
    .createTable("api_clients")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull())
    .addColumn("permissions", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .execute();

  await db.schema
    .createTable("policies")
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("policies_pk", ["name", "version"])
    .execute();

  await db.schema
    .createTable("signing_keys")
    .addColumn("kid", "text", (c) => c.primaryKey())
    .addColumn("algorithm", "text", (c) => c.notNull())
    .addColumn("public_jwk", "text", (c) => c.notNull())
    .addColumn("private_jwk_sealed", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("retired_at", "bigint")
    .execute();

  await db.schema
    .createTable("pin_change_tokens")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  for (const table of [
    "pin_change_tokens",
    "signing_keys",
    "policies",
    "api_clients",
    "audit_events",
    "pin_history",
    "lockout_counters",
    "pin_credentials",
    "users",
  ]) {
    await db.schema.dropTable(table).execute();
  }
};
