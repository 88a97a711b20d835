/**
 * The floor: the least a PIN sign-in over HTTP can cost on this machine and this database, measured in
 * the same run as PinDesk's own. A bare node:http server (no framework, no token, no validation, no
 * logging, no metrics) that per request reserves a guess on the user's counter in one statement,
 * verifies the PIN with the same hasher, and writes the success (the counter and one audit row: one
 * statement on PostgreSQL, one transaction on SQLite), straight through the driver, over PinDesk's own
 * tables and indexes. These are the writes exact lockout and the audit trail cannot do without.
 *
 * Its ratio to raw argon2id is what the machine and the database leave to any Node.js implementation;
 * the distance between it and PinDesk's ratio is what PinDesk itself costs.
 */
import http from "node:http";
import Database from "better-sqlite3";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { createHasher, OWASP_ARGON2ID } from "../src/crypto/hasher.ts";
import { parsePepperEnv } from "../src/crypto/keyring.ts";
import { fixedStatement, migrateToLatest, openDb, sqlitePathOf } from "../src/store/db.ts";
import { AUDIT_INSERT, type AuditRow, auditValues } from "../src/store/repos/audit-events.ts";
import {
  type CounterRules,
  createLockoutCountersRepo,
  reservationStatement,
  reserveValues,
  successText,
} from "../src/store/repos/lockout-counters.ts";
import type { CpuPerOperation } from "./cpu.ts";
import type { BenchDatabase } from "./databases.ts";
import { createLeanClient, serialiseRequest } from "./lean-client.ts";
import { combineLoads, type ThroughputRounds, throughputRounds } from "./load.ts";

export interface FloorOptions extends ThroughputRounds {
  readonly database: BenchDatabase;
  readonly pepper: string;
  readonly users: number;
}

export interface FloorResult {
  readonly perSecond: number;
  /** The median of the rounds' throughput ÷ the baseline measured just before each. */
  readonly pairedRatio: number;
  readonly roundRatios: readonly number[];
  readonly failed: number;
  readonly failures: readonly string[];
  readonly cpu?: { readonly raw: CpuPerOperation; readonly floor: CpuPerOperation };
}

const PIN = "482915";
const RULES: CounterRules = { threshold: 10, decaySeconds: 0, lockSeconds: () => 60 };

/** The two trips of a sign-in, straight through the driver. */
interface FloorStore {
  reserve(subject: string): Promise<boolean>;
  recordSuccess(subject: string, failedAtReservation: number, audit: AuditRow): Promise<void>;
  close(): Promise<void>;
}

const openFloorStore = (database: BenchDatabase): FloorStore => {
  const reserveSql = reservationStatement(database.dialect, "?")(RULES)().sql;
  const reserveArgs = (subject: string) => reserveValues([subject], Date.now(), RULES);
  if (database.dialect === "sqlite") {
    const sqlite = new Database(sqlitePathOf(database.url));
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("synchronous = NORMAL");
    const reserve = sqlite.prepare(reserveSql);
    const success = sqlite.prepare(successText("sqlite"));
    const insert = sqlite.prepare(AUDIT_INSERT);
    const write = sqlite.transaction((subject: string, failed: number, audit: AuditRow) => {
      success.run(failed, subject);
      insert.run(...auditValues(audit));
    });
    return {
      reserve: async (subject) => reserve.get(...reserveArgs(subject)) !== undefined,
      recordSuccess: async (subject, failed, audit) => write(subject, failed, audit),
      close: async () => {
        sqlite.close();
      },
    };
  }
  // PinDesk's pool size; an idle connection the server closes (the database dropped at the end of the
  // run) must not crash the process, as in PinDesk's own pool.
  const pool = new pg.Pool({ connectionString: database.url, max: 10 });
  pool.on("error", () => undefined);
  // The counter's success and the audit row in one statement, as PinDesk writes them.
  const successSql = fixedStatement(
    "postgres",
    `WITH counter AS (${successText("postgres")} RETURNING subject) ${AUDIT_INSERT}`,
  )().sql;
  return {
    reserve: async (subject) =>
      (await pool.query({ name: "floor_reserve", text: reserveSql, values: reserveArgs(subject) }))
        .rowCount === 1,
    recordSuccess: async (subject, failed, audit) => {
      await pool.query({
        name: "floor_success",
        text: successSql,
        values: [failed, subject, ...auditValues(audit)],
      });
    },
    close: () => pool.end(),
  };
};

export const measureFloor = async (options: FloorOptions): Promise<FloorResult> => {
  const { database } = options;
  // PinDesk's schema, and a counter row for every user, made through PinDesk's own code.
  const db = openDb(database.url);
  const subjects = Array.from({ length: options.users }, (_, i) => `pin:floor-${i}`);
  try {
    await migrateToLatest(db);
    const counters = createLockoutCountersRepo(db);
    for (const subject of subjects) await counters.ensure(subject);
  } finally {
    await db.close();
  }

  const hasher = createHasher(parsePepperEnv(options.pepper), OWASP_ARGON2ID);
  const stored = await hasher.hash(PIN);
  const store = openFloorStore(database);
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      let status = 200;
      let body: string;
      try {
        const { userPrincipalName, pin } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          userPrincipalName: string;
          pin: string;
        };
        const subject = `pin:${userPrincipalName}`;
        if (!(await store.reserve(subject))) throw new Error("no place reserved");
        const { ok } = await hasher.verify(stored, pin);
        if (!ok) throw new Error("wrong PIN");
        const now = Date.now();
        await store.recordSuccess(subject, 0, {
          id: uuidv7(),
          at: now,
          actor: "app:floor",
          target_user_id: null,
          target_upn: userPrincipalName,
          action: "pin.verify",
          outcome: "success",
          reason: null,
          ip: request.socket.remoteAddress ?? null,
          user_agent: request.headers["user-agent"] ?? null,
          request_id: null,
          details: null,
        });
        body = JSON.stringify({ result: "success" });
      } catch (error) {
        status = 500;
        body = JSON.stringify({ error: (error as Error).message });
      }
      response.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
  });
  // Connections stay open across the baseline rounds in between, as PinDesk's do.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const lean = await createLeanClient(`http://127.0.0.1:${port}`, options.concurrency);
  try {
    // Requests of the size PinDesk gets (a bearer token is about this long), though nothing reads the token.
    const requests = subjects.map((subject) =>
      serialiseRequest(
        "POST",
        "/api/v1/verify",
        { authorization: `Bearer ${"x".repeat(600)}` },
        { userPrincipalName: subject.slice("pin:".length), pin: PIN },
      ),
    );
    const signIn = async (sequence: number, lane: number): Promise<true | string> => {
      const response = await lean.send(lane, requests[sequence % requests.length] as Buffer);
      return response.status === 200 ? true : `HTTP ${response.status}: ${response.body.toString("utf8")}`;
    };
    const paired = await throughputRounds(options, signIn);
    const { perSecond, failed, failures } = combineLoads(paired.rounds.map((r) => r.load));
    return {
      perSecond,
      pairedRatio: paired.median.ratio,
      roundRatios: paired.rounds.map((r) => r.ratio),
      failed,
      failures,
      ...(paired.cpu && { cpu: { raw: paired.cpu.raw, floor: paired.cpu.endpoint } }),
    };
  } finally {
    lean.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  }
};
