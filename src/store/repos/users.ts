import { type Expression, type Kysely, type Selectable, type SqlBool, sql } from "kysely";
import { DIRECTORY_ROLES, isAdministrator } from "../../domain/roles.ts";
import { type Db, fixedStatement } from "../db.ts";
import type { Database, PinCredentialsTable, UsersTable } from "../schema.ts";
import { searchKey, searchTokens } from "../search-keys.ts";

export type UserRow = Selectable<UsersTable>;
export type PinCredentialRow = Selectable<PinCredentialsTable>;

export interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  mobilePhone: string | null;
  accountEnabled: boolean;
  roles: string[];
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
}

export const upnKey = (upn: string): string => upn.trim().toLowerCase();

/** The user columns a User is read from (named, never `*`: a prepared statement must not change shape). */
export const USER_COLUMNS = [
  "id",
  "user_principal_name",
  "display_name",
  "mail",
  "mobile_phone",
  "account_enabled",
  "roles",
  "created_at",
  "updated_at",
  "last_sign_in_at",
] as const;

/** The credential's columns, selected beside a user's as `p_<column>` (see userWithPinFromRow). */
export const PIN_COLUMNS = [
  "user_id",
  "hash",
  "is_temporary",
  "temporary_expires_at",
  "must_change_reason",
  "must_change_at",
  "must_change_by",
  "changed_at",
  "created_at",
  "policy_version",
  "profile_tag",
] as const;

/**
 * The select list of a user with their credential (`users` joined with `pin_credentials` as `p`), in
 * the shape `userWithPinFromRow` reads.
 */
export const USER_WITH_PIN_SELECT = [
  ...USER_COLUMNS.map((c) => `users.${c}`),
  ...PIN_COLUMNS.map((c) => `p.${c} AS p_${c}`),
].join(", ");

export type UserWithPinRow = Pick<UserRow, (typeof USER_COLUMNS)[number]> & {
  [K in (typeof PIN_COLUMNS)[number] as `p_${K}`]: PinCredentialRow[K] | null;
};

/** A user row joined to its (possibly missing) credential, as the sign-in path reads it. */
export const userWithPinFromRow = (
  row: UserWithPinRow,
): { user: User; pin: PinCredentialRow | undefined } => {
  const pin: PinCredentialRow | undefined =
    row.p_user_id === null || row.p_hash === null
      ? undefined
      : {
          user_id: row.p_user_id,
          hash: row.p_hash,
          is_temporary: row.p_is_temporary ?? 0,
          temporary_expires_at: row.p_temporary_expires_at,
          must_change_reason: row.p_must_change_reason,
          must_change_at: row.p_must_change_at,
          must_change_by: row.p_must_change_by,
          changed_at: row.p_changed_at ?? 0,
          created_at: row.p_created_at ?? 0,
          policy_version: row.p_policy_version ?? null,
          profile_tag: row.p_profile_tag ?? null,
        };
  return { user: toUser(row), pin };
};

type UserColumnsRow = Pick<UserRow, (typeof USER_COLUMNS)[number]>;
const USER_SELECT = USER_COLUMNS.join(", ");

const toUser = (row: UserColumnsRow): User => ({
  id: row.id,
  userPrincipalName: row.user_principal_name,
  displayName: row.display_name,
  mail: row.mail,
  mobilePhone: row.mobile_phone,
  accountEnabled: row.account_enabled === 1,
  roles: JSON.parse(row.roles) as string[],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastSignInAt: row.last_sign_in_at,
});

export interface NewUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail?: string | null;
  mobilePhone?: string | null;
  accountEnabled?: boolean;
  roles?: string[];
}

export type UserPatch = Partial<
  Pick<User, "userPrincipalName" | "displayName" | "mail" | "mobilePhone" | "accountEnabled" | "roles">
>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------------
// PIN state: one rule for the filter, the counts and the row shown (the same precedence as the PIN
// service's status: No PIN, Account Lockout, Must Change, Steady State).

export type PinState = "Steady State" | "Must Change" | "Account Lockout" | "No PIN";
export const PIN_STATES: readonly PinState[] = ["Steady State", "Must Change", "Account Lockout", "No PIN"];

/** What the state depends on besides stored rows: the time, and the policy's expiry and decay. */
export interface StateRules {
  now: number;
  /** PIN lifetime in ms under the policy; null when PINs do not expire. */
  expirationMs: number | null;
  /** Failures older than this are forgotten (policy lockout.decaySeconds); 0 = never. */
  decaySeconds: number;
}

/** pin_flag values (kept by triggers from the credential; see migration 0005). */
const NO_PIN = 0;
const PIN_SET = 1;
const PIN_MARKED = 2;

export interface CounterFacts {
  failed_count: number;
  locked_at: number | null;
  locked_until: number | null;
  last_failed_at: number | null;
}

export const isLockedNow = (counter: CounterFacts | undefined, now: number): boolean =>
  !!counter && counter.locked_at !== null && (counter.locked_until === null || counter.locked_until > now);

export const pinStateOf = (
  row: Pick<UserRow, "pin_flag" | "pin_changed_at">,
  counter: CounterFacts | undefined,
  rules: StateRules,
): PinState => {
  if (row.pin_flag === NO_PIN) return "No PIN";
  if (isLockedNow(counter, rules.now)) return "Account Lockout";
  const expired =
    rules.expirationMs !== null &&
    row.pin_changed_at !== null &&
    row.pin_changed_at + rules.expirationMs <= rules.now;
  return row.pin_flag === PIN_MARKED || expired ? "Must Change" : "Steady State";
};

/** Wrong PINs that still count (a lock that ran out, or failures past the decay time, start afresh). */
export const failedAttemptsOf = (counter: CounterFacts | undefined, rules: StateRules): number => {
  if (!counter) return 0;
  const expiredLock = counter.locked_at !== null && !isLockedNow(counter, rules.now);
  const decayed =
    rules.decaySeconds > 0 &&
    counter.last_failed_at !== null &&
    counter.last_failed_at < rules.now - rules.decaySeconds * 1000;
  return expiredLock || decayed ? 0 : counter.failed_count;
};

/** The SQL twin of isLockedNow, for a counter aliased `c`. */
const lockedNow = (now: number) =>
  sql<SqlBool>`c.locked_at is not null and (c.locked_until is null or c.locked_until > ${now})`;

/** Whether the user row's PIN is locked now (one primary-key probe of the counter). */
const userLocked = (now: number) =>
  sql<SqlBool>`exists (select 1 from lockout_counters c where c.subject = ${"pin:"} || users.id and ${lockedNow(now)})`;

// ---------------------------------------------------------------------------------------------------
// Search

export interface SearchRow extends UserRow {
  sort_key: string;
}

export interface SearchPage {
  rows: UserRow[];
  counters: Map<string, CounterFacts>;
  next: SearchCursor | null;
}

/** Keyset position: source (-1 for the lockout list), sort key and id of the last row shown. */
export interface SearchCursor {
  s: number;
  k: string;
  i: string;
}

const HI = "\uffff";
/** Below this many expired PINs, gathering them and sorting is cheaper than scanning in name order. */
const GATHER_LIMIT = 2000;

export interface SearchOptions {
  q: string;
  state: PinState | undefined;
  limit: number;
  cursor: SearchCursor | undefined;
  rules: StateRules;
}

export const createUsersRepo = (db: Db) => {
  const { kysely } = db;
  // The sign-in path's lookup: a fixed statement (see db.ts).
  const findWithPin = fixedStatement<UserWithPinRow>(
    db.dialect,
    `SELECT ${USER_WITH_PIN_SELECT} FROM users LEFT JOIN pin_credentials p ON p.user_id = users.id WHERE users.upn_key = ?`,
  );
  /**
   * The search's queries read a few index entries each and stop at a LIMIT; on PostgreSQL the planner
   * may still start parallel workers for them, which costs more than the query (3 to 5 ms a time), so
   * they run with parallelism off. Not on CockroachDB, which has no such setting.
   */
  let parallelSetting: boolean | undefined;
  const readOnly = async <T>(fn: (k: Kysely<Database>) => Promise<T>): Promise<T> => {
    if (db.dialect !== "postgres" || kysely.isTransaction) return fn(kysely);
    if (parallelSetting === undefined) {
      const version = await sql<{ v: string }>`select version() as v`.execute(kysely);
      parallelSetting = !/cockroach/i.test(version.rows[0]?.v ?? "");
    }
    if (!parallelSetting) return fn(kysely);
    return kysely.transaction().execute(async (trx) => {
      await sql`set local max_parallel_workers_per_gather = 0`.execute(trx);
      return fn(trx);
    });
  };
  /**
   * A user row and its search words are written together: in the caller's transaction when one is
   * passed (a repo built over a transaction must be given it too: on SQLite a second one would wait
   * for the first), else in one of their own.
   */
  const atomically = <T>(trx: Kysely<Database> | undefined, fn: (trx: Kysely<Database>) => Promise<T>) =>
    trx ? fn(trx) : kysely.isTransaction ? fn(kysely) : db.transaction(fn);

  const writeTokens = async (
    trx: Kysely<Database>,
    id: string,
    displayName: string,
    userPrincipalName: string,
  ) => {
    await trx.deleteFrom("user_search_tokens").where("user_id", "=", id).execute();
    const tokens = searchTokens(displayName, userPrincipalName);
    if (tokens.length > 0)
      await trx
        .insertInto("user_search_tokens")
        .values(tokens.map((token) => ({ user_id: id, token })))
        .execute();
  };

  // Every Graph request looks its user up by id or by name: fixed statements (see db.ts).
  const byId = fixedStatement<UserColumnsRow>(db.dialect, `SELECT ${USER_SELECT} FROM users WHERE id = ?`);
  const byUpn = fixedStatement<UserColumnsRow>(
    db.dialect,
    `SELECT ${USER_SELECT} FROM users WHERE upn_key = ?`,
  );

  const findById = async (id: string): Promise<User | undefined> => {
    const [row] = (await kysely.executeQuery(byId(id.toLowerCase()))).rows;
    return row && toUser(row);
  };

  const findByUpn = async (upn: string): Promise<User | undefined> => {
    const [row] = (await kysely.executeQuery(byUpn(upnKey(upn)))).rows;
    return row && toUser(row);
  };

  const countersOf = async (ids: string[]): Promise<Map<string, CounterFacts>> => {
    const out = new Map<string, CounterFacts>();
    if (ids.length === 0) return out;
    const rows = await kysely
      .selectFrom("lockout_counters")
      .select(["subject", "failed_count", "locked_at", "locked_until", "last_failed_at"])
      .where(
        "subject",
        "in",
        ids.map((id) => `pin:${id}`),
      )
      .execute();
    for (const r of rows) out.set(r.subject.slice(4), r);
    return out;
  };

  const searchWith = async (k: Kysely<Database>, options: SearchOptions): Promise<SearchPage> => {
    const { rules, limit, cursor } = options;
    const q = options.q.trim();
    const need = limit + 1;
    const qUpn = upnKey(q);
    const qKey = searchKey(q);
    const words = qKey.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
    const cutoff = rules.expirationMs === null ? null : rules.now - rules.expirationMs;

    // Conditions on the users row for each source, used both to match and to exclude earlier sources.
    const inRange = (column: string, key: string) =>
      sql<SqlBool>`(${sql.ref(column)} >= ${key} and ${sql.ref(column)} < ${key + HI})`;
    const matchUpn = () => inRange("users.upn_key", qUpn);
    const matchName = () => inRange("users.name_key", qKey);
    const matchMail = () => sql<SqlBool>`(users.mail_key is not null and ${inRange("users.mail_key", qKey)})`;
    const wordExists = (word: string, alias: string) =>
      sql<SqlBool>`exists (select 1 from user_search_tokens ${sql.raw(alias)} where ${sql.raw(alias)}.user_id = users.id and ${sql.raw(alias)}.token >= ${word} and ${sql.raw(alias)}.token < ${word + HI})`;
    const matchWords = () =>
      words.length === 0
        ? sql<SqlBool>`1 = 0`
        : sql<SqlBool>`(${sql.join(
            words.map((w, n) => wordExists(w, `w${n}`)),
            sql` and `,
          )})`;
    const matchers = [matchUpn, matchName, matchMail, matchWords];

    // A state's branches: each is an index range of its own; Must Change under an expiry policy is
    // the marked PINs plus the expired ones, merged in key order.
    type Branch = { flag: number | null; extra: Expression<SqlBool>[]; gather: boolean };
    const notLocked = sql<SqlBool>`not ${userLocked(rules.now)}`;
    let expiredFew = false;
    if (options.state === "Must Change" && cutoff !== null) {
      const probe = await k
        .selectFrom((eb) =>
          eb
            .selectFrom("users")
            .select("id")
            .where("pin_flag", "=", PIN_SET)
            .where("pin_changed_at", "<=", cutoff)
            .limit(GATHER_LIMIT)
            .as("x"),
        )
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst();
      expiredFew = Number(probe?.n ?? 0) < GATHER_LIMIT;
    }
    const branches = (): Branch[] => {
      switch (options.state) {
        case "No PIN":
          return [{ flag: NO_PIN, extra: [], gather: false }];
        case "Steady State":
          return [
            {
              flag: PIN_SET,
              extra: [
                ...(cutoff === null ? [] : [sql<SqlBool>`users.pin_changed_at > ${cutoff}`]),
                notLocked,
              ],
              gather: false,
            },
          ];
        case "Must Change":
          return [
            { flag: PIN_MARKED, extra: [notLocked], gather: false },
            ...(cutoff === null
              ? []
              : [
                  {
                    flag: PIN_SET,
                    extra: [sql<SqlBool>`users.pin_changed_at <= ${cutoff}`, notLocked],
                    gather: expiredFew,
                  },
                ]),
          ];
        default:
          return [{ flag: null, extra: [], gather: false }];
      }
    };

    const after = (key: Expression<string>, id: Expression<string> | null, c: SearchCursor) =>
      id === null
        ? sql<SqlBool>`${key} > ${c.k}`
        : sql<SqlBool>`(${key} > ${c.k} or (${key} = ${c.k} and ${id} > ${c.i}))`;

    /** Reads up to `n` rows of one source and branch, in (key, id) order, after the cursor. */
    const read = async (source: number, branch: Branch, n: number, from?: SearchCursor) => {
      const tokenSource = source === 3;
      const column = q
        ? (["users.upn_key", "users.name_key", "users.mail_key"][source] ?? "")
        : "users.upn_key";
      const keyRef = tokenSource ? sql<string>`t.token` : sql<string>`${sql.ref(column)}`;
      // The user name is unique: it orders alone. Other keys are broken by id (the token index holds it).
      const idRef =
        column === "users.upn_key" ? null : tokenSource ? sql<string>`t.user_id` : sql<string>`users.id`;
      let query = (
        tokenSource
          ? k
              .selectFrom("user_search_tokens as t")
              .innerJoin("users", "users.id", "t.user_id")
              .where("t.token", ">=", words[0] ?? "")
              .where("t.token", "<", `${words[0] ?? ""}${HI}`)
              // One row per user: the user's first matching word.
              .where(
                sql<SqlBool>`not exists (select 1 from user_search_tokens d where d.user_id = t.user_id and d.token >= ${words[0] ?? ""} and d.token < ${`${words[0] ?? ""}${HI}`} and d.token < t.token)`,
              )
          : k.selectFrom("users")
      )
        .selectAll("users")
        .select(keyRef.as("sort_key"))
        .limit(n);
      if (q) {
        if (tokenSource) {
          for (const [i, w] of words.slice(1).entries()) query = query.where(wordExists(w, `x${i}`));
        } else query = query.where((matchers[source] as () => Expression<SqlBool>)());
        for (const earlier of matchers.slice(0, source)) query = query.where(sql<SqlBool>`not ${earlier()}`);
      }
      if (branch.flag !== null) query = query.where("users.pin_flag", "=", branch.flag);
      for (const e of branch.extra) query = query.where(e);
      if (from) query = query.where(after(keyRef, idRef, from));
      // Gathering: the ORDER BY is not an index order, so the database starts from the narrow range.
      query = query.orderBy(branch.gather ? sql`${keyRef} || ''` : keyRef);
      if (idRef) query = query.orderBy(idRef);
      return (await query.execute()) as SearchRow[];
    };

    /** The locked users (few, whatever the directory's size), optionally matching the search. */
    const readLocked = async (n: number, from?: SearchCursor) => {
      let query = k
        .selectFrom("lockout_counters as c")
        .crossJoin("users")
        .selectAll("users")
        .select(sql<string>`users.upn_key`.as("sort_key"))
        .where(sql<SqlBool>`users.id = substr(c.subject, 5)`)
        .where("c.subject", ">=", "pin:")
        .where("c.subject", "<", "pin;")
        .where(lockedNow(rules.now))
        .where("users.pin_flag", "!=", NO_PIN)
        .orderBy(sql`users.upn_key || ''`)
        .limit(n);
      if (q)
        query = query.where(
          sql<SqlBool>`(${sql.join(
            matchers.map((m) => m()),
            sql` or `,
          )})`,
        );
      if (from) query = query.where("users.upn_key", ">", from.k);
      return (await query.execute()) as SearchRow[];
    };

    const rows: SearchRow[] = [];
    const origins: number[] = [];
    if (options.state === "Account Lockout") {
      for (const r of await readLocked(need, cursor)) {
        rows.push(r);
        origins.push(-1);
      }
    } else {
      const sourceCount = q ? matchers.length : 1;
      for (let source = cursor?.s ?? 0; source < sourceCount && rows.length < need; source++) {
        const from = cursor && cursor.s === source ? cursor : undefined;
        const want = need - rows.length;
        const merged = (await Promise.all(branches().map((b) => read(source, b, want, from)))).flat();
        merged.sort((a, b) =>
          a.sort_key < b.sort_key ? -1 : a.sort_key > b.sort_key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
        );
        for (const r of merged.slice(0, want)) {
          rows.push(r);
          origins.push(source);
        }
      }
    }
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const origin = origins[page.length - 1];
    const next =
      rows.length > limit && last && origin !== undefined
        ? { s: origin, k: last.sort_key, i: last.id }
        : null;
    return {
      rows: page.map(({ sort_key: _key, ...row }) => row),
      counters: await countersOf(page.map((r) => r.id)),
      next,
    };
  };

  return {
    async insert(user: NewUser, now: number, trx?: Kysely<Database>): Promise<User> {
      const row = {
        id: user.id,
        user_principal_name: user.userPrincipalName.trim(),
        upn_key: upnKey(user.userPrincipalName),
        display_name: user.displayName,
        mail: user.mail ?? null,
        mobile_phone: user.mobilePhone ?? null,
        account_enabled: user.accountEnabled === false ? 0 : 1,
        roles: JSON.stringify(user.roles ?? []),
        created_at: now,
        updated_at: now,
        last_sign_in_at: null,
        name_key: searchKey(user.displayName),
        mail_key: user.mail ? searchKey(user.mail) : null,
      };
      await atomically(trx, async (trx) => {
        await trx.insertInto("users").values(row).execute();
        await writeTokens(trx, row.id, row.display_name, row.user_principal_name);
      });
      return toUser(row);
    },

    findById,
    findByUpn,

    /** The user and their PIN credential in one round trip (the sign-in path). */
    async findByUpnWithPin(
      upn: string,
    ): Promise<{ user: User; pin: PinCredentialRow | undefined } | undefined> {
      const [row] = (await kysely.executeQuery(findWithPin(upnKey(upn)))).rows;
      return row ? userWithPinFromRow(row) : undefined;
    },

    /** Graph addresses users by id or by userPrincipalName in the same path segment. */
    async findByIdOrUpn(idOrUpn: string): Promise<User | undefined> {
      return GUID.test(idOrUpn) ? findById(idOrUpn) : findByUpn(idOrUpn);
    },

    async update(
      id: string,
      patch: UserPatch,
      now: number,
      trx?: Kysely<Database>,
    ): Promise<User | undefined> {
      await atomically(trx, async (trx) => {
        await trx
          .updateTable("users")
          .set({
            ...(patch.userPrincipalName !== undefined && {
              user_principal_name: patch.userPrincipalName.trim(),
              upn_key: upnKey(patch.userPrincipalName),
            }),
            ...(patch.displayName !== undefined && {
              display_name: patch.displayName,
              name_key: searchKey(patch.displayName),
            }),
            ...(patch.mail !== undefined && {
              mail: patch.mail,
              mail_key: patch.mail ? searchKey(patch.mail) : null,
            }),
            ...(patch.mobilePhone !== undefined && { mobile_phone: patch.mobilePhone }),
            ...(patch.accountEnabled !== undefined && { account_enabled: patch.accountEnabled ? 1 : 0 }),
            ...(patch.roles !== undefined && { roles: JSON.stringify(patch.roles) }),
            updated_at: now,
          })
          .where("id", "=", id)
          .execute();
        if (patch.displayName !== undefined || patch.userPrincipalName !== undefined) {
          const current = await trx
            .selectFrom("users")
            .select(["display_name", "user_principal_name"])
            .where("id", "=", id)
            .executeTakeFirst();
          if (current) await writeTokens(trx, id, current.display_name, current.user_principal_name);
        }
      });
      return findById(id);
    },

    async touchSignIn(id: string, now: number): Promise<void> {
      await kysely.updateTable("users").set({ last_sign_in_at: now }).where("id", "=", id).execute();
    },

    async delete(id: string): Promise<boolean> {
      const result = await kysely.deleteFrom("users").where("id", "=", id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    /** Keyset-paged listing by UPN, optionally filtered by UPN or display-name prefix (case-insensitive). */
    async list(options: {
      prefix?: string;
      displayNamePrefix?: string;
      after?: string;
      limit: number;
    }): Promise<User[]> {
      let query = kysely.selectFrom("users").selectAll().orderBy("upn_key").limit(options.limit);
      if (options.prefix) {
        const key = upnKey(options.prefix);
        query = query.where("upn_key", ">=", key).where("upn_key", "<", `${key}\uffff`);
      }
      if (options.displayNamePrefix) {
        // LIKE with its wildcards escaped: the prefix is data, not a pattern.
        const pattern = `${options.displayNamePrefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        query = query.where(sql<boolean>`lower(display_name) like ${pattern} escape '\\'`);
      }
      if (options.after) query = query.where("upn_key", ">", upnKey(options.after));
      return (await query.execute()).map(toUser);
    },

    /** Whether any user holds a role that opens the admin portal (one indexed-free probe, stops at the first). */
    async hasAdministrator(): Promise<boolean> {
      const roles = DIRECTORY_ROLES.filter((r) => isAdministrator([r]));
      const row = await kysely
        .selectFrom("users")
        .select("id")
        .where((eb) => eb.or(roles.map((r) => eb("roles", "like", `%${JSON.stringify(r)}%`))))
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },

    countersOf,

    /**
     * The help desk's search: prefix of the user name, of the display name, of the mail address, then
     * of any word of the name, each read through its own index in key order and excluding what an
     * earlier source matched; keyset-paged. A state filter is part of each index range (No PIN, Steady
     * State, Must Change) or, for Account Lockout, starts from the few locked counters. Only the page's
     * rows are joined to their counters.
     */
    async search(options: SearchOptions): Promise<SearchPage> {
      return readOnly((k) => searchWith(k, options));
    },

    /**
     * Users per state without reading a row per user: counts over the PIN-flag index, the expired PINs
     * by their change date, and the locked few from the counters' partial index.
     */
    async countByState(rules: StateRules): Promise<Record<PinState, number>> {
      const cutoff = rules.expirationMs === null ? null : rules.now - rules.expirationMs;
      const perFlag = await kysely
        .selectFrom("users")
        .select(["pin_flag", (eb) => eb.fn.countAll().as("n")])
        .groupBy("pin_flag")
        .execute();
      const flagCount = (flag: number) => Number(perFlag.find((r) => r.pin_flag === flag)?.n ?? 0);
      const expired =
        cutoff === null
          ? 0
          : Number(
              (
                await kysely
                  .selectFrom("users")
                  .select((eb) => eb.fn.countAll().as("n"))
                  .where("pin_flag", "=", PIN_SET)
                  .where("pin_changed_at", "<=", cutoff)
                  .executeTakeFirst()
              )?.n ?? 0,
            );
      const locked = await kysely
        .selectFrom("lockout_counters as c")
        .crossJoin("users")
        .select(["users.pin_flag", "users.pin_changed_at"])
        .where(sql<SqlBool>`users.id = substr(c.subject, 5)`)
        .where("c.subject", ">=", "pin:")
        .where("c.subject", "<", "pin;")
        .where(lockedNow(rules.now))
        .where("users.pin_flag", "!=", NO_PIN)
        .execute();
      const isExpired = (r: { pin_changed_at: number | null }) =>
        cutoff !== null && r.pin_changed_at !== null && r.pin_changed_at <= cutoff;
      const lockedMarked = locked.filter((r) => r.pin_flag === PIN_MARKED).length;
      const lockedExpired = locked.filter((r) => r.pin_flag === PIN_SET && isExpired(r)).length;
      const lockedSteady = locked.length - lockedMarked - lockedExpired;
      return {
        "Steady State": flagCount(PIN_SET) - expired - lockedSteady,
        "Must Change": flagCount(PIN_MARKED) + expired - lockedMarked - lockedExpired,
        "Account Lockout": locked.length,
        "No PIN": flagCount(NO_PIN),
      };
    },
  };
};

export type UsersRepo = ReturnType<typeof createUsersRepo>;
