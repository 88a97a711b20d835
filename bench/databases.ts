/**
 * Every benchmark runs over a database of its own: a new SQLite file, or a new PostgreSQL database
 * (pindesk_bench_<random>) created on the server and dropped afterwards. Never a shared one.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { type Config, testPostgresUrl } from "../src/config.ts";
import { OWASP_ARGON2ID } from "../src/crypto/hasher.ts";
import { parsePepperEnv } from "../src/crypto/keyring.ts";
import { createServices } from "../src/services/index.ts";
import type { Db, Dialect } from "../src/store/db.ts";

/** Where these machines run PostgreSQL (trust auth); used when PINDESK_TEST_POSTGRES_URL is unset. */
const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  readonly dialect: Dialect;
  readonly url: string;
  drop(): Promise<void>;
}

export type PostgresAvailability =
  | { readonly available: true; readonly adminUrl: string }
  | { readonly available: false; readonly required: boolean; readonly reason: string };

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, "//***@");

/**
 * PostgreSQL runs when PINDESK_TEST_POSTGRES_URL is set (then it must answer), or when the default local
 * server answers.
 */
export const findPostgres = async (): Promise<PostgresAvailability> => {
  const configured = testPostgresUrl();
  const adminUrl = configured ?? DEFAULT_POSTGRES_URL;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return { available: true, adminUrl };
  } catch (error) {
    return {
      available: false,
      required: configured !== undefined,
      reason: `${redact(adminUrl)}: ${(error as Error).message}`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
};

export const createBenchDatabase = async (
  dialect: Dialect,
  postgresAdminUrl?: string,
): Promise<BenchDatabase> => {
  if (dialect === "sqlite") {
    const dir = await mkdtemp(path.join(tmpdir(), "pindesk-bench-"));
    return {
      dialect,
      url: `sqlite:${path.join(dir, "pindesk.db")}`,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (!postgresAdminUrl) throw new Error("no PostgreSQL server to create the benchmark database on");
  const name = `pindesk_bench_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    dialect,
    url: url.toString(),
    // FORCE: a child process that did not exit cleanly must not leave the database behind.
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
};

/** The app's services over a benchmark database, hashing at the production parameters. */
export const benchServices = (config: Config, db: Db, pepper: string) =>
  createServices({ config, db, keyring: parsePepperEnv(pepper), hashParams: OWASP_ARGON2ID });
