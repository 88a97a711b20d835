/**
 * Benchmarks of the Graph QR surface, QR sign-in and the admin user search. Each figure comes with a
 * baseline measured in the same run (GET /health throughput, raw argon2id, a primary-key lookup).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { loadConfig } from "../src/config.ts";
import { buildApp } from "../src/http/app.ts";
import { cliContext } from "../src/services/context.ts";
import { migrateToLatest, openDb } from "../src/store/db.ts";
import { adminSearchRows } from "./admin-search.ts";
import { measureRawVerify } from "./argon2.ts";
import { benchServices } from "./databases.ts";
import { createHttpClient, fetchAppToken } from "./http.ts";
import { createLeanClient, loadFromThread, serialiseRequest } from "./lean-client.ts";
import { closedLoop, pairedRounds, warmUp } from "./load.ts";

const nullStream = () => {
  const s = new PassThrough();
  s.resume();
  return s;
};

const progress = (line: string) => process.stderr.write(`bench: ${line}\n`);

export interface ExtrasOptions {
  threads: number;
  durationMs: number;
  warmupMs: number;
  /** Each endpoint's warm-up also lasts at least this many requests (see load.ts warmUp). */
  warmupRequests: number;
  /** Paired rounds of the QR sign-in measurement (the median is the figure). */
  rounds: number;
  searchUsers: number;
  /** Where to create the PostgreSQL database for the search benchmark; SQLite only when absent. */
  postgresAdminUrl?: string | undefined;
}

export interface ExtraRow {
  name: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  result: string;
}

const instance = async (pepper: string) => {
  const dir = await mkdtemp(path.join(tmpdir(), "pindesk-bench-x-"));
  const config = loadConfig(
    {
      databaseUrl: `sqlite:${path.join(dir, "pindesk.db")}`,
      dataDir: dir,
      host: "127.0.0.1",
      port: 0,
      logLevel: "warn",
    },
    { PINDESK_PEPPER: pepper, PINDESK_SIGNIN_RATE_PER_MINUTE: "1000000" },
  );
  const db = openDb(config.databaseUrl);
  await migrateToLatest(db);
  const services = benchServices(config, db, pepper);
  const app = await buildApp(services, { logStream: nullStream(), logLevel: "warn" });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    services,
    db,
    address,
    async close() {
      await app.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

export const runExtras = async (
  options: ExtrasOptions,
): Promise<{ rows: ExtraRow[]; warnings: string[]; summary: object }> => {
  const rows: ExtraRow[] = [];
  const warnings: string[] = [];
  const summary: Record<string, unknown> = {};
  const pepper = `k1:${randomBytes(32).toString("base64")}`;
  const x = await instance(pepper);
  try {
    const { services } = x;
    // --- Graph: GET qrCodePinMethod, against GET /health on the same server.
    progress("Graph GET qrCodePinMethod vs GET /health (SQLite)");
    const users = 100;
    const ids: string[] = [];
    const now = Date.now();
    for (let i = 0; i < users; i++) {
      const user = await services.users.create(cliContext, {
        userPrincipalName: `qr${i}@contoso.com`,
        displayName: `QR ${i}`,
      });
      await services.qr.createMethod(cliContext, user.id, {
        standardQRCode: {
          startDateTime: new Date(now).toISOString(),
          expireDateTime: new Date(now + 30 * 86_400_000).toISOString(),
        },
        pin: { code: String(48_291_573 + i * 7919) },
      });
      ids.push(user.id);
    }
    const { clientId, clientSecret } = await services.apps.create(cliContext, "bench", [
      "UserAuthMethod-QR.Read.All",
    ]);
    const concurrency = 16;
    const client = createHttpClient(x.address, { maxSockets: concurrency });
    const token = await fetchAppToken(client, { clientId, clientSecret });
    const auth = { headers: { authorization: token } };
    // The load goes through the lean client (see lean-client.ts), from a thread of its own: these
    // requests cost less than the event loop can serve, so a client on the server's own event loop
    // would take about half of what is measured.
    const warmup = { warmupMs: options.warmupMs, requests: options.warmupRequests };
    const load = (requests: readonly Buffer[]) =>
      loadFromThread({ address: x.address, requests, concurrency, durationMs: options.durationMs, warmup });
    const healthLoad = await load([serialiseRequest("GET", "/health", {})]);
    const graph = await load(
      ids.map((id) =>
        serialiseRequest("GET", `/v1.0/users/${id}/authentication/qrCodePinMethod`, auth.headers),
      ),
    );
    rows.push({
      name: "Graph GET qrCodePinMethod, sqlite",
      value: `${graph.perSecond.toFixed(0)} /s`,
      baseline: `${healthLoad.perSecond.toFixed(0)} /s /health`,
      ratio: (graph.perSecond / healthLoad.perSecond).toFixed(3),
      target: ">= 5000 /s",
      result: graph.perSecond >= 5000 ? "ok" : "WARN",
    });
    if (healthLoad.failed > 0)
      warnings.push(`GET /health: ${healthLoad.failed} failed (${healthLoad.failures.join("; ")})`);
    if (graph.failed > 0)
      warnings.push(`Graph GET qrCodePinMethod: ${graph.failed} failed (${graph.failures.join("; ")})`);
    if (graph.perSecond < 5000)
      warnings.push(`Graph GET qrCodePinMethod: ${graph.perSecond.toFixed(0)}/s, below 5,000/s`);
    summary.graphGet = {
      perSecond: graph.perSecond,
      healthPerSecond: healthLoad.perSecond,
      failed: graph.failed,
    };

    // --- QR sign-in throughput against raw argon2id, same pool.
    progress("QR sign-in vs raw argon2id (SQLite)");
    const badges: { raw: string; pin: string }[] = [];
    for (let i = 0; i < 50; i++) {
      const user = await services.users.create(cliContext, {
        userPrincipalName: `badge${i}@contoso.com`,
        displayName: `B ${i}`,
      });
      const pin = String(73_016_482 + i * 104_729);
      const method = await services.qr.createMethod(cliContext, user.id, {
        standardQRCode: {
          startDateTime: new Date(now).toISOString(),
          expireDateTime: new Date(now + 30 * 86_400_000).toISOString(),
        },
        pin: { code: String(Number(pin) + 1) },
      });
      // The PIN given at creation must be changed; the worker's own PIN is in Steady State.
      await services.pins.set(cliContext, user.id, pin, { forceChange: false, qrProfile: true });
      badges.push({
        raw: Buffer.from(method.standardQRCode?.image?.rawContent ?? "", "base64").toString("utf8"),
        pin,
      });
    }
    // As for the verify API: enough in flight to keep every hashing thread busy.
    const inFlight = options.threads * 4;
    const qrRequests = badges.map((badge) =>
      serialiseRequest("POST", "/api/v1/signin/qr", {}, { qrCode: badge.raw, pin: badge.pin }),
    );
    // Sign-in is bound by the cores, not by the event loop: its client stays in this process, as for
    // the verify API, so both sides of the ratio see the same machine.
    const lean = await createLeanClient(x.address, inFlight);
    const qrOp = async (n: number, lane: number): Promise<true | string> => {
      const res = await lean.send(lane, qrRequests[n % qrRequests.length] as Buffer);
      return res.status === 200 ? true : `status ${res.status}: ${res.body.toString("utf8").slice(0, 80)}`;
    };
    await warmUp(inFlight, warmup, qrOp);
    // Paired rounds, as for the verify API: each round divided by the baseline measured right before it.
    const paired = await pairedRounds(
      options.rounds,
      () =>
        measureRawVerify({
          pepper,
          concurrency: inFlight,
          warmupMs: Math.min(options.warmupMs, 500),
          durationMs: options.durationMs,
        }),
      () => closedLoop(inFlight, options.durationMs, qrOp),
    );
    const { raw, load: qr, ratio: qrRatio } = paired.median;
    const ratios = paired.rounds.map((p) => p.ratio).sort((a, b) => a - b);
    rows.push({
      name: `QR sign-in POST /api/v1/signin/qr, sqlite (${inFlight} in flight)`,
      value: `${qr.perSecond.toFixed(1)} /s`,
      baseline: `${raw.perSecond.toFixed(1)} /s argon2id`,
      ratio: qrRatio.toFixed(3),
      target: ">= 0.90",
      result: `${qrRatio >= 0.9 ? "ok" : "WARN"} (median of rounds ${ratios.map((r) => r.toFixed(2)).join(" ")})`,
    });
    if (qrRatio < 0.9)
      warnings.push(`QR sign-in: ${qrRatio.toFixed(2)} of raw argon2id throughput, below 0.90`);
    const qrFailed = paired.rounds.reduce((n, p) => n + p.load.failed, 0);
    if (qrFailed > 0) warnings.push(`QR sign-in: ${qrFailed} failed (${qr.failures.join("; ")})`);
    summary.qrSignIn = {
      perSecond: qr.perSecond,
      rawPerSecond: raw.perSecond,
      ratio: qrRatio,
      rounds: ratios,
      failed: qrFailed,
    };
    client.close();
    lean.close();
  } finally {
    await x.close();
  }

  // --- Admin user search over many seeded users (SQLite, and PostgreSQL when there is one).
  if (options.searchUsers > 0) {
    const search = await adminSearchRows({
      users: options.searchUsers,
      postgresAdminUrl: options.postgresAdminUrl,
    });
    rows.push(...search.rows);
    warnings.push(...search.warnings);
    summary.userSearch = search.summary;
  }
  return { rows, warnings, summary };
};

export const formatExtras = (rows: ExtraRow[]): string => {
  const header = ["measurement", "value", "baseline", "ratio", "target", "result"];
  const cells = rows.map((r) => [r.name, r.value, r.baseline, r.ratio, r.target, r.result]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(" | ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...cells.map(line)].join("\n");
};
