import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import SQLite from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  type RawBuilder,
  SqliteDialect,
  sql,
} from "kysely";
import pg from "pg";
import { migrationProvider } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

export type Dialect = "sqlite" | "postgres";

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  /** The larger of two integer expressions (GREATEST on PostgreSQL, MAX on SQLite). */
  greatest(a: RawBuilder<number> | string, b: number): RawBuilder<number>;
  /**
   * Runs `fn` in one transaction. On SQLite it starts with BEGIN IMMEDIATE, taking the write lock up
   * front, so two processes never deadlock upgrading a read lock.
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Several independent writes that may all go together: one transaction on SQLite (one commit, the
   * costly part of a write there), the plain pool on PostgreSQL (statements on separate connections
   * at once; a transaction would add two round trips). Not for writes that must be atomic.
   */
  group<T>(fn: (kysely: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Fixed statements (see `fixedStatement`) written in one transaction. On SQLite they run straight on
   * the driver, in one synchronous call, while the query builder's connection is held so that nothing
   * else runs on it in between: a sign-in's success is one call rather than a trip through the builder
   * for each of its four rows and for BEGIN and COMMIT.
   */
  writeTogether(statements: readonly CompiledQuery[]): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * A statement of the sign-in path with a fixed text, written with `?` placeholders and compiled once
 * for the dialect: each call only binds its values. Building and compiling a query through the query
 * builder costs about as much main-thread time per sign-in as running the statements on SQLite.
 * Run the result with `executeQuery` on the database or a transaction.
 */
export const fixedStatement = <Row = unknown>(dialect: Dialect, text: string) => {
  let n = 0;
  const compiled = dialect === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  return (...values: unknown[]): CompiledQuery<Row> =>
    CompiledQuery.raw(compiled, values) as CompiledQuery<Row>;
};

/**
 * A table's complete column list for a fixed statement: compiling fails when the row type gains a
 * column the list does not name, so a statement written from it never silently drops one.
 */
export const everyColumn =
  <Row>() =>
  <const Columns extends readonly (keyof Row)[]>(
    columns: Columns & (Exclude<keyof Row, Columns[number]> extends never ? unknown : never),
  ): Columns =>
    columns;

export const sqlitePathOf = (url: string): string => url.slice("sqlite:".length);

/**
 * Marks a statement of the sign-in path for a named prepared statement on PostgreSQL: parsed and
 * planned once per connection instead of at every sign-in. Only for statements whose text is fixed
 * (values are parameters), since every distinct text becomes one prepared statement per connection.
 */
export const PREPARED = "/* prepared */";

const preparedNames = new Map<string, string>();
const preparedName = (text: string) => {
  let name = preparedNames.get(text);
  if (name === undefined) {
    name = `pindesk_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return name;
};

/**
 * A pool whose clients send PREPARED statements as named prepared statements. Each connection gets
 * its wrapper once, when the pool opens it: a wrapper made at every checkout (a query, on the sign-in
 * path) costs main-thread time for nothing.
 */
export const preparingPool = (pool: pg.Pool) => {
  const wrappers = new WeakMap<pg.PoolClient, pg.PoolClient>();
  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>;
    return Object.assign(Object.create(client) as pg.PoolClient, {
      query: (text: unknown, values?: unknown[]) =>
        typeof text === "string" && text.startsWith(PREPARED)
          ? query({ name: preparedName(text), text, values })
          : query(text, values),
      release: (error?: Error | boolean) => client.release(error),
    });
  };
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
};

/**
 * Kysely prepares every query afresh; preparing costs more than running most of PinDesk's queries.
 * Prepared statements are kept per SQL text (the text holds placeholders, never values).
 */
const withStatementCache = (database: SQLite.Database, size = 500) => {
  const cache = new Map<string, SQLite.Statement>();
  return {
    prepare(sql: string) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (cache.size >= size) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
      }
      cache.set(sql, statement);
      return statement;
    },
    close() {
      cache.clear();
      database.close();
    },
  };
};

export const openDb = (url: string, options: { poolSize?: number } = {}): Db => {
  let kysely: Kysely<Database>;
  let dialect: Dialect;
  let writeTogether: Db["writeTogether"];
  if (url.startsWith("sqlite:")) {
    const file = sqlitePathOf(url);
    if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const database = new SQLite(file);
    // WAL lets readers run beside a writer; busy_timeout makes writers from other processes wait, not fail.
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma("busy_timeout = 10000");
    database.pragma("foreign_keys = ON");
    // A server's page cache (64 MiB rather than 2) and reads through mmap, not a pread per page.
    database.pragma("cache_size = -65536");
    database.pragma("mmap_size = 268435456");
    // Every sign-in commits; checkpointing every 10,000 WAL pages rather than 1,000 copies the same hot
    // pages back to the database a tenth as often (the WAL may grow to about 40 MB between checkpoints).
    database.pragma("wal_autocheckpoint = 10000");
    const statements = withStatementCache(database);
    const inOneTransaction = database.transaction((queries: readonly CompiledQuery[]) => {
      for (const query of queries) statements.prepare(query.sql).run(...query.parameters);
    });
    writeTogether = (queries) =>
      kysely.connection().execute(async () => {
        inOneTransaction.immediate(queries);
      });
    kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
    dialect = "sqlite";
  } else {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      // A server that silently drops packets must fail the request (503), not hang it.
      connectionTimeoutMillis: 10_000,
      // BIGINT columns hold epoch milliseconds: well inside Number's exact range.
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === INT8_OID
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection the server closes (restart, failover) must not crash the process; the pool
    // drops it and the next query opens a fresh one.
    pool.on("error", () => undefined);
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
    dialect = "postgres";
    writeTogether = (queries) =>
      kysely.transaction().execute(async (trx) => {
        for (const query of queries) await trx.executeQuery(query);
      });
  }
  const fn = dialect === "postgres" ? "GREATEST" : "MAX";
  const sqliteTransaction = <T>(body: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
    kysely.connection().execute(async (conn) => {
      await sql`BEGIN IMMEDIATE`.execute(conn);
      try {
        const result = await body(conn);
        await sql`COMMIT`.execute(conn);
        return result;
      } catch (error) {
        await sql`ROLLBACK`.execute(conn);
        throw error;
      }
    });
  return {
    kysely,
    dialect,
    greatest: (a, b) =>
      typeof a === "string"
        ? sql<number>`${sql.raw(fn)}(${sql.ref(a)}, ${b})`
        : sql<number>`${sql.raw(fn)}(${a}, ${b})`,
    transaction: <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
      dialect === "postgres" ? kysely.transaction().execute(fn) : sqliteTransaction(fn),
    group: <T>(fn: (kysely: Kysely<Database>) => Promise<T>): Promise<T> =>
      dialect === "postgres" ? fn(kysely) : sqliteTransaction(fn),
    writeTogether,
    ping: async () => {
      await sql`select 1`.execute(kysely);
    },
    close: () => kysely.destroy(),
  };
};

export interface MigrationOutcome {
  applied: string[];
  current: string | undefined;
}

export const migrateToLatest = async (db: Db): Promise<MigrationOutcome> => {
  // Numbered migrations are independent of each other; a database that already ran a later number
  // (a development database) still takes an earlier one it lacks rather than refusing to start.
  const migrator = new Migrator({
    db: db.kysely,
    provider: migrationProvider,
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  const all = await migrator.getMigrations();
  return {
    applied: (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName),
    current: all.filter((m) => m.executedAt).at(-1)?.name,
  };
};
