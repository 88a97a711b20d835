import { type Kysely, PostgresAdapter, sql } from "kysely";
import { searchKey, searchTokens } from "../search-keys.ts";

/**
 * The help desk's user search over millions of users:
 * - accent- and case-folded name and mail keys (computed by the users repository; SQLite's lower()
 *   folds ASCII only), and a word table so a surname finds "Lee Locked";
 * - the PIN's stored facts copied onto the user row (pin_flag: 0 no PIN, 1 set, 2 must be changed;
 *   pin_changed_at for expiry) by triggers, whoever writes the credential, so a state filter is an
 *   index range in user-name order. Lockouts stay on the counter (a partial index finds the few locked);
 *   time-dependent rules (a lock running out, a PIN expiring) are evaluated at query time.
 */
// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // Byte order on PostgreSQL whatever the database's locale, so a prefix is one index range.
  const keyType = postgres ? sql`text collate "C"` : sql`text`;

  await sql`alter table users add column name_key ${keyType}`.execute(db);
  await sql`alter table users add column mail_key ${keyType}`.execute(db);
  await db.schema
    .alterTable("users")
    .addColumn("pin_flag", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("users").addColumn("pin_changed_at", "bigint").execute();

  await sql`create table user_search_tokens (
    user_id text not null references users (id) on delete cascade,
    token ${keyType} not null,
    primary key (user_id, token)
  )`.execute(db);

  // Search keys and words for the users already there, in batches.
  let after = "";
  for (;;) {
    const batch: { id: string; user_principal_name: string; display_name: string; mail: string | null }[] =
      await db
        .selectFrom("users")
        .select(["id", "user_principal_name", "display_name", "mail"])
        .where("id", ">", after)
        .orderBy("id")
        .limit(1000)
        .execute();
    if (batch.length === 0) break;
    for (const u of batch) {
      await db
        .updateTable("users")
        .set({ name_key: searchKey(u.display_name), mail_key: u.mail === null ? null : searchKey(u.mail) })
        .where("id", "=", u.id)
        .execute();
    }
    const tokens = batch.flatMap((u) =>
      searchTokens(u.display_name, u.user_principal_name).map((token) => ({ user_id: u.id, token })),
    );
    if (tokens.length > 0) await db.insertInto("user_search_tokens").values(tokens).execute();
    after = batch[batch.length - 1]?.id as string;
  }

  // The PIN's stored facts on the user row, kept by triggers.
  await sql`update users set
      pin_flag = coalesce((select case when p.is_temporary = 1 or p.must_change_reason is not null then 2 else 1 end
                           from pin_credentials p where p.user_id = users.id), 0),
      pin_changed_at = (select p.changed_at from pin_credentials p where p.user_id = users.id)`.execute(db);
  const flag = (row: "NEW") =>
    sql.raw(`case when ${row}.is_temporary = 1 or ${row}.must_change_reason is not null then 2 else 1 end`);
  if (postgres) {
    await sql`create function pindesk_user_pin_state() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then
          update users set pin_flag = 0, pin_changed_at = null where id = old.user_id;
        else
          update users set pin_flag = ${flag("NEW")}, pin_changed_at = new.changed_at where id = new.user_id;
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger pin_credentials_user_state_insert after insert on pin_credentials
      for each row execute function pindesk_user_pin_state()`.execute(db);
    await sql`create trigger pin_credentials_user_state_update after update on pin_credentials
      for each row when (old.is_temporary is distinct from new.is_temporary
        or old.must_change_reason is distinct from new.must_change_reason
        or old.changed_at is distinct from new.changed_at
        or old.user_id is distinct from new.user_id)
      execute function pindesk_user_pin_state()`.execute(db);
    await sql`create trigger pin_credentials_user_state_delete after delete on pin_credentials
      for each row execute function pindesk_user_pin_state()`.execute(db);
  } else {
    await sql`create trigger pin_credentials_user_state_insert after insert on pin_credentials begin
      update users set pin_flag = ${flag("NEW")}, pin_changed_at = new.changed_at where id = new.user_id;
    end`.execute(db);
    await sql`create trigger pin_credentials_user_state_update after update on pin_credentials
      when old.is_temporary is not new.is_temporary
        or old.must_change_reason is not new.must_change_reason
        or old.changed_at is not new.changed_at
      begin
        update users set pin_flag = ${flag("NEW")}, pin_changed_at = new.changed_at where id = new.user_id;
      end`.execute(db);
    await sql`create trigger pin_credentials_user_state_delete after delete on pin_credentials begin
      update users set pin_flag = 0, pin_changed_at = null where id = old.user_id;
    end`.execute(db);
  }

  // Replaced by the folded keys (lower() folds ASCII only on SQLite).
  await db.schema.dropIndex("users_display_key").execute();
  await db.schema.dropIndex("users_mail_key").execute();
  await sql`create index users_name_key on users (name_key, id)`.execute(db);
  await sql`create index users_mail_search on users (mail_key, id)`.execute(db);
  await sql`create index users_pin_upn on users (pin_flag, upn_key)`.execute(db);
  await sql`create index users_pin_name on users (pin_flag, name_key, id)`.execute(db);
  await sql`create index users_pin_changed on users (pin_flag, pin_changed_at)`.execute(db);
  await sql`create index user_search_tokens_token on user_search_tokens (token, user_id)`.execute(db);
  // The locked few, whatever the number of users (a lock that ran out keeps locked_at until the next try).
  await sql`create index lockout_counters_locked on lockout_counters (subject) where locked_at is not null`.execute(
    db,
  );
  // Audit filters by who did it and by the user's name when the user no longer exists.
  await sql`create index audit_events_actor on audit_events (actor, at)`.execute(db);
  await sql`create index audit_events_target_upn on audit_events (target_upn, at)`.execute(db);
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema.dropIndex("audit_events_target_upn").execute();
  await db.schema.dropIndex("audit_events_actor").execute();
  await db.schema.dropIndex("lockout_counters_locked").execute();
  for (const name of ["insert", "update", "delete"])
    await sql
      .raw(`drop trigger pin_credentials_user_state_${name}${postgres ? " on pin_credentials" : ""}`)
      .execute(db);
  if (postgres) await sql`drop function pindesk_user_pin_state()`.execute(db);
  await db.schema.dropTable("user_search_tokens").execute();
  for (const index of [
    "users_name_key",
    "users_mail_search",
    "users_pin_upn",
    "users_pin_name",
    "users_pin_changed",
  ])
    await db.schema.dropIndex(index).execute();
  for (const column of ["name_key", "mail_key", "pin_flag", "pin_changed_at"])
    await db.schema.alterTable("users").dropColumn(column).execute();
  await sql`create index users_display_key on users (lower(display_name), id)`.execute(db);
  await sql`create index users_mail_key on users (lower(mail), id)`.execute(db);
};
