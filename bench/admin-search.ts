/**
 * The admin portal's user search over a large directory (1,000,000 users by default), on SQLite and on
 * PostgreSQL: text search, state filters, both together, the dashboard, and deep paging. Seeding is
 * done inside the database (one INSERT … SELECT per table over a generated series), with names whose
 * search keys and words the bench checks against the users repository's own functions.
 * Every figure is reported with a same-run baseline: a primary-key lookup of a user.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { loadConfig } from "../src/config.ts";
import { cliContext } from "../src/services/context.ts";
import type { PinState } from "../src/services/pin-service.ts";
import { type Dialect, migrateToLatest, openDb } from "../src/store/db.ts";
import { searchKey, searchTokens } from "../src/store/search-keys.ts";
import { benchServices, createBenchDatabase } from "./databases.ts";
import type { ExtraRow } from "./extras.ts";
import { percentile } from "./load.ts";

export const SEARCH_P95_TARGET_MS = 20;
export const DASHBOARD_P95_TARGET_MS = 250;

const FIRST = [
  "ana",
  "ben",
  "carla",
  "dev",
  "eva",
  "finn",
  "gita",
  "hugo",
  "ines",
  "jon",
  "kim",
  "lena",
  "mark",
  "nia",
  "omar",
  "pia",
  "raj",
  "sara",
  "tom",
  "uma",
  "vik",
  "wen",
  "yan",
  "zoe",
];
const LAST = [
  "lopez",
  "ng",
  "smith",
  "khan",
  "park",
  "rossi",
  "meyer",
  "silva",
  "kowalski",
  "haddad",
  "ito",
  "okafor",
];

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);
const DAY = 86_400_000;

export interface SearchFigures {
  dialect: Dialect;
  users: number;
  seedSeconds: number;
  /** p95 in ms of each group of searches, and of the baseline. */
  baselineP95: number;
  text: { p50: number; p95: number; n: number };
  state: { p50: number; p95: number; n: number };
  textAndState: { p50: number; p95: number; n: number };
  expiry: { p50: number; p95: number; n: number };
  dashboardP95: number;
  slowest: { label: string; p95: number }[];
  counts: Record<string, number>;
}

/**
 * Users 0…n-1: user i is FIRST[i % 24] LAST[(i / 24) % 12] with number i. One in ten has no PIN; of the
 * rest about one in a thousand must change it, one in a thousand is locked (a third of them by a lock
 * that already ran out), and PINs were set over the last 400 days (for the expiry scenario).
 */
export const seedDirectory = async (db: ReturnType<typeof openDb>, n: number, now: number) => {
  const k = db.kysely;
  const series = (from: number, to: number) =>
    db.dialect === "postgres"
      ? sql`(select g as i from generate_series(${sql.lit(from)}, ${sql.lit(to)}) as g)`
      : sql`(with recursive s(i) as (select ${sql.lit(from)} union all select i + 1 from s where i < ${sql.lit(to)}) select i from s)`;
  const names = (column: string, list: string[]) =>
    sql.raw(`(case ${list.map((v, i) => `when ${column} = ${i} then '${v}'`).join(" ")} end)`);
  const first = names("i % 24", FIRST);
  const last = names("(i / 24) % 12", LAST);
  const id =
    db.dialect === "postgres"
      ? sql`lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0')`
      : sql`printf('%08x-0000-4000-8000-%012x', i, i)`;
  const cap = (expr: unknown) => sql`upper(substr(${expr}, 1, 1)) || substr(${expr}, 2)`;
  const text = (expr: unknown) =>
    db.dialect === "postgres" ? sql`(${expr})::text` : sql`cast(${expr} as text)`;
  const batch = 100_000;
  for (let from = 0; from < n; from += batch) {
    const to = Math.min(from + batch, n) - 1;
    const range = sql`${series(from, to)} as s where 1 = 1`;
    await db.transaction(async (trx) => {
      await sql`insert into users (id, user_principal_name, upn_key, display_name, mail, mobile_phone,
          account_enabled, roles, created_at, updated_at, last_sign_in_at, name_key, mail_key)
        select ${id}, ${first} || '.' || ${last} || ${text(sql`i`)} || '@contoso.com',
          ${first} || '.' || ${last} || ${text(sql`i`)} || '@contoso.com',
          ${cap(first)} || ' ' || ${cap(last)} || ' ' || ${text(sql`i`)},
          case when i % 3 = 0 then ${first} || ${text(sql`i`)} || '@fabrikam.com' end, null, 1, '[]',
          ${sql.lit(now)}, ${sql.lit(now)}, case when i % 2 = 0 then ${sql.lit(now)} - i * 1000 end,
          ${first} || ' ' || ${last} || ' ' || ${text(sql`i`)},
          case when i % 3 = 0 then ${first} || ${text(sql`i`)} || '@fabrikam.com' end
        from ${range}`.execute(trx);
      // The words of "Ana Lopez 12" / ana.lopez12: ana, lopez, 12, lopez12.
      for (const token of [first, last, text(sql`i`), sql`${last} || ${text(sql`i`)}`])
        await sql`insert into user_search_tokens (user_id, token) select ${id}, ${token} from ${range}`.execute(
          trx,
        );
      await sql`insert into pin_credentials (user_id, hash, is_temporary, temporary_expires_at, must_change_reason,
          must_change_at, must_change_by, changed_at, created_at)
        select ${id}, 'x', 0, null, case when i % 997 = 1 then 'adminReset' end, null, null,
          ${sql.lit(now)} - (i % 400) * cast(${sql.lit(DAY)} as bigint), ${sql.lit(now)}
        from ${range} and i % 10 <> 0`.execute(trx);
      await sql`insert into lockout_counters (subject, failed_count, lock_count, locked_at, locked_until, last_failed_at)
        select 'pin:' || ${id}, 10, 1, ${sql.lit(now)} - 1000,
          case when i % 3 = 0 then null when i % 3 = 1 then ${sql.lit(now)} + 3600000 else ${sql.lit(now)} - 1 end,
          ${sql.lit(now)} - 1000
        from ${range} and i % 10 <> 0 and i % 1009 = 3`.execute(trx);
    });
    if (from > 0 && from % 200_000 === 0) progress(`  ${from.toLocaleString("en")} users`);
  }
  // As a directory that has been running a while: statistics gathered, dirty pages written out.
  if (db.dialect === "postgres") {
    await sql`vacuum analyze`.execute(k);
    await sql`checkpoint`.execute(k);
  } else await sql`analyze`.execute(k);
  // The generated keys and words must be what the repository computes for those names.
  const sample = await k
    .selectFrom("users")
    .select(["id", "display_name", "user_principal_name", "name_key", "mail", "mail_key"])
    .where(
      "id",
      "in",
      [0, 1, 7, 97, 1234, n - 1]
        .filter((i) => i < n)
        .map((i) => `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`),
    )
    .execute();
  for (const u of sample) {
    const tokens = (
      await k.selectFrom("user_search_tokens").select("token").where("user_id", "=", u.id).execute()
    )
      .map((t) => t.token)
      .sort();
    const expected = searchTokens(u.display_name, u.user_principal_name).sort();
    if (
      u.name_key !== searchKey(u.display_name) ||
      u.mail_key !== (u.mail ? searchKey(u.mail) : null) ||
      JSON.stringify(tokens) !== JSON.stringify(expected)
    )
      throw new Error(`seeded search keys differ from the repository's for ${u.user_principal_name}`);
  }
};

const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), n: sorted.length };
};

export const measureAdminSearch = async (options: {
  dialect: Dialect;
  users: number;
  postgresAdminUrl?: string | undefined;
  reps?: number;
}): Promise<SearchFigures> => {
  const reps = options.reps ?? 30;
  const database = await createBenchDatabase(options.dialect, options.postgresAdminUrl);
  const dir = await mkdtemp(path.join(tmpdir(), "pindesk-bench-search-"));
  const pepper = `k1:${randomBytes(32).toString("base64")}`;
  const config = loadConfig(
    { databaseUrl: database.url, dataDir: dir, host: "127.0.0.1", port: 0, logLevel: "warn" },
    { PINDESK_PEPPER: pepper },
  );
  const db = openDb(config.databaseUrl);
  try {
    await migrateToLatest(db);
    const services = benchServices(config, db, pepper);
    const now = Date.now();
    progress(`seeding ${options.users.toLocaleString("en")} users on ${options.dialect}`);
    const began = performance.now();
    await seedDirectory(db, options.users, now);
    const seedSeconds = (performance.now() - began) / 1000;
    progress(`seeded in ${seedSeconds.toFixed(0)} s; measuring searches on ${options.dialect}`);

    const time = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    const slowest: { label: string; p95: number }[] = [];
    const run = async (label: string, fn: () => Promise<unknown>, times = reps) => {
      await fn();
      const ms: number[] = [];
      for (let i = 0; i < times; i++) ms.push(await time(fn));
      const s = stats(ms);
      slowest.push({ label, p95: s.p95 });
      return ms;
    };
    const search = (q: string, state?: PinState, cursor?: string) => () =>
      services.admin.searchUsers(cliContext, {
        ...(q && { q }),
        ...(state && { state }),
        ...(cursor && { cursor }),
        limit: 25,
      });

    const ids = Array.from({ length: 50 }, (_, j) => {
      const i = Math.floor((j * 7919 * 131) % options.users);
      return `${i.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    });
    let next = 0;
    const baseline = await run("primary-key lookup", () =>
      services.repos.users.findById(ids[next++ % ids.length] as string),
    );

    // What a help desk types: a first name, a surname, "first last", "last first", the start of a user
    // name or mail, a typo that matches nothing.
    const terms = [
      "a",
      "ana",
      "ana.lopez1",
      "kim.p",
      "Mark Smith",
      "smith mark",
      "mark smith 9",
      "zoe",
      "sara",
      "omar1",
      "uma.ito9",
      "x",
      "lopez",
      "okafor 12",
      "eva2@fab",
      "nomatch",
    ];
    const statesAll: PinState[] = ["Steady State", "Must Change", "Account Lockout", "No PIN"];
    // One pass over everything first, so the figures are of a warm directory, not of the first reads.
    for (const q of terms) for (const st of [undefined, ...statesAll]) await search(q, st)();
    const text: number[] = [];
    for (const q of terms) text.push(...(await run(`q=${q}`, search(q))));
    const states = statesAll;
    const state: number[] = [];
    for (const s of states) state.push(...(await run(`state=${s}`, search("", s))));
    const both: number[] = [];
    for (const q of ["a", "ana", "mark smith", "lopez", "kim.p"])
      for (const s of states) both.push(...(await run(`q=${q} + state=${s}`, search(q, s))));
    // Deep paging through a broad term.
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const t0 = performance.now();
      const r = await services.admin.searchUsers(cliContext, {
        q: "a",
        limit: 25,
        ...(cursor && { cursor }),
      });
      text.push(performance.now() - t0);
      cursor = r.nextCursor ?? undefined;
      if (!cursor) break;
    }
    const dashboard = stats(await run("dashboard", () => services.admin.dashboard(cliContext), 10));
    const counts = (await services.admin.dashboard(cliContext)).usersPerState;

    // PINs expire after 365 days: about one in eleven of them is now Must Change, by the clock alone.
    await services.policies.update(cliContext, { expirationDays: 365 });
    const expiry: number[] = [];
    for (const [q, s] of [
      ["", "Must Change"],
      ["", "Steady State"],
      ["ana", "Must Change"],
      ["a", "Steady State"],
    ] as const)
      expiry.push(...(await run(`expiry policy: q=${q} + state=${s}`, search(q, s))));
    await run("expiry policy: dashboard", () => services.admin.dashboard(cliContext), 5);

    slowest.sort((a, b) => b.p95 - a.p95);
    return {
      dialect: options.dialect,
      users: options.users,
      seedSeconds,
      baselineP95: stats(baseline).p95,
      text: stats(text),
      state: stats(state),
      textAndState: stats(both),
      expiry: stats(expiry),
      dashboardP95: dashboard.p95,
      slowest: slowest.slice(0, 8),
      counts,
    };
  } finally {
    await db.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
};

const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The search figures as rows of the benchmark report, each against the same run's primary-key lookup. */
export const adminSearchRows = async (options: {
  users: number;
  postgresAdminUrl?: string | undefined;
}): Promise<{ rows: ExtraRow[]; warnings: string[]; summary: Record<string, unknown> }> => {
  const rows: ExtraRow[] = [];
  const warnings: string[] = [];
  const summary: Record<string, unknown> = {};
  const dialects: Dialect[] = options.postgresAdminUrl ? ["sqlite", "postgres"] : ["sqlite"];
  const n = options.users.toLocaleString("en");
  for (const dialect of dialects) {
    const f = await measureAdminSearch({
      dialect,
      users: options.users,
      postgresAdminUrl: options.postgresAdminUrl,
    });
    const base = `${ms(f.baselineP95)} pk lookup`;
    const row = (what: string, s: { p50: number; p95: number }) => {
      rows.push({
        name: `admin user search p95, ${what}, ${n} users, ${dialect}`,
        value: `${ms(s.p95)} (p50 ${ms(s.p50)})`,
        baseline: base,
        ratio: `${(s.p95 / f.baselineP95).toFixed(1)}x`,
        target: `<= ${SEARCH_P95_TARGET_MS} ms`,
        result: s.p95 <= SEARCH_P95_TARGET_MS ? "ok" : "WARN",
      });
      if (s.p95 > SEARCH_P95_TARGET_MS)
        warnings.push(
          `user search (${what}) on ${dialect}: p95 ${ms(s.p95)}, above ${SEARCH_P95_TARGET_MS} ms`,
        );
    };
    row("text", f.text);
    row("state filter", f.state);
    row("text + state", f.textAndState);
    row("state with PIN expiry", f.expiry);
    rows.push({
      name: `admin dashboard p95, ${n} users, ${dialect}`,
      value: ms(f.dashboardP95),
      baseline: base,
      ratio: `${(f.dashboardP95 / f.baselineP95).toFixed(1)}x`,
      target: `<= ${DASHBOARD_P95_TARGET_MS} ms`,
      result: f.dashboardP95 <= DASHBOARD_P95_TARGET_MS ? "ok" : "WARN",
    });
    if (f.dashboardP95 > DASHBOARD_P95_TARGET_MS)
      warnings.push(
        `admin dashboard on ${dialect}: p95 ${ms(f.dashboardP95)}, above ${DASHBOARD_P95_TARGET_MS} ms`,
      );
    // The slowest single search, so one slow kind of query is not hidden in a group's percentile.
    const worst = f.slowest.find((x) => !x.label.includes("dashboard") && x.label !== "primary-key lookup");
    if (worst)
      rows.push({
        name: `slowest single search p95 (${worst.label}), ${n} users, ${dialect}`,
        value: ms(worst.p95),
        baseline: base,
        ratio: `${(worst.p95 / f.baselineP95).toFixed(1)}x`,
        target: `<= ${SEARCH_P95_TARGET_MS} ms`,
        result: worst.p95 <= SEARCH_P95_TARGET_MS ? "ok" : "WARN",
      });
    summary[dialect] = f;
  }
  return { rows, warnings, summary };
};
