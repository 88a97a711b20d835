/**
 * Test instances: the real app over a fresh database — a new SQLite file, or a new PostgreSQL database
 * created from PINDESK_TEST_POSTGRES_URL and dropped afterwards. Never a shared database.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { type Config, loadConfig, testPostgresUrl } from "../../src/config.ts";
import { type HashParams, OWASP_ARGON2ID } from "../../src/crypto/hasher.ts";
import { type Keyring, parsePepperEnv } from "../../src/crypto/keyring.ts";
import { AppError } from "../../src/errors/app-error.ts";
import { buildApp } from "../../src/http/app.ts";
import { type Clock, cliContext } from "../../src/services/context.ts";
import { createServices, type Services } from "../../src/services/index.ts";
import { type Db, type Dialect, migrateToLatest, openDb } from "../../src/store/db.ts";

/** The dialects every storage-touching suite runs on. PostgreSQL is required when CI sets its URL. */
export const dialects: Dialect[] = testPostgresUrl() ? ["sqlite", "postgres"] : ["sqlite"];

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(private current = Date.parse("2026-05-25T09:00:00Z")) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(iso: string): void {
    this.current = Date.parse(iso);
  }
}

/**
 * What a service call ended in: `ok` when it resolved, otherwise the AppError code it was refused
 * with; any other error is rethrown.
 */
export const outcomeOf = async (p: Promise<unknown>, ok = "ok"): Promise<string> => {
  try {
    await p;
    return ok;
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
};

export const testPepper = (): string => `k1:${randomBytes(32).toString("base64")}`;

export interface FreshDatabase {
  url: string;
  dialect: Dialect;
  drop(): Promise<void>;
}

/** Creates an empty database of the dialect; `drop` removes it. */
export const freshDatabase = async (dialect: Dialect): Promise<FreshDatabase> => {
  if (dialect === "sqlite") {
    const dir = await mkdtemp(path.join(tmpdir(), "pindesk-test-"));
    return {
      url: `sqlite:${path.join(dir, "pindesk.db")}`,
      dialect,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const adminUrl = testPostgresUrl();
  if (!adminUrl) throw new Error("PINDESK_TEST_POSTGRES_URL is not set");
  const name = `pindesk_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dialect,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
};

export interface TestInstance {
  app: FastifyInstance;
  services: Services;
  db: Db;
  config: Config;
  clock: FakeClock;
  keyring: Keyring;
  dialect: Dialect;
  databaseUrl: string;
  /** Everything the app logged, as text. */
  logs(): string;
  close(): Promise<void>;
}

export interface InstanceOptions {
  /** Defaults to a cheaper argon2id so suites stay quick; security suites pass OWASP_ARGON2ID. */
  hashParams?: HashParams;
  pepper?: string;
  database?: FreshDatabase;
  /** Keep the database after close (for a second instance over the same data). */
  keepDatabase?: boolean;
  /** Extra environment for the instance's configuration (SMTP, public URL, …). */
  env?: Record<string, string>;
}

/** Cheap but real argon2id parameters for tests that are not about hashing cost. */
export const FAST_ARGON2ID: HashParams = Object.freeze({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
export { OWASP_ARGON2ID };

export const createTestInstance = async (
  dialect: Dialect,
  options: InstanceOptions = {},
): Promise<TestInstance> => {
  const database = options.database ?? (await freshDatabase(dialect));
  const pepper = options.pepper ?? testPepper();
  const dataDir = await mkdtemp(path.join(tmpdir(), "pindesk-data-"));
  const config = loadConfig(
    { databaseUrl: database.url, dataDir, port: 0, logLevel: "info" },
    { PINDESK_PEPPER: pepper, ...options.env },
  );
  const keyring = parsePepperEnv(pepper);
  const db = openDb(database.url);
  await migrateToLatest(db);
  const clock = new FakeClock();
  const services = createServices({
    config,
    db,
    keyring,
    clock,
    hashParams: options.hashParams ?? FAST_ARGON2ID,
  });
  const logStream = new PassThrough();
  const chunks: string[] = [];
  logStream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  const app = await buildApp(services, { logStream, logLevel: "info" });
  await app.ready();
  return {
    app,
    services,
    db,
    config,
    clock,
    keyring,
    dialect,
    databaseUrl: database.url,
    logs: () => chunks.join(""),
    async close() {
      await app.close();
      await db.close();
      if (!options.keepDatabase) await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};

/** Creates an API client with the permissions and returns a bearer token for it. */
/** Gives `upn` a QR badge valid from now for 90 days, with `pin` (set by the help desk, so it must change). */
export const giveBadge = (instance: TestInstance, upn: string, pin = "48291573") => {
  const now = instance.clock.now();
  return instance.services.qr.createMethod(cliContext, upn, {
    standardQRCode: {
      startDateTime: new Date(now).toISOString(),
      expireDateTime: new Date(now + 90 * 86_400_000).toISOString(),
    },
    pin: { code: pin },
  });
};

export const bearerFor = async (instance: TestInstance, ...permissions: string[]): Promise<string> => {
  const { clientId, clientSecret } = await instance.services.apps.create(
    cliContext,
    `test-${permissions.join("-") || "none"}`,
    permissions,
  );
  const response = await instance.app.inject({
    method: "POST",
    url: "/oauth2/v2.0/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
      scope: "api://pindesk/.default",
    }).toString(),
  });
  if (response.statusCode !== 200) throw new Error(`token request failed: ${response.body}`);
  return `Bearer ${(response.json() as { access_token: string }).access_token}`;
};
