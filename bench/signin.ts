/**
 * Sign-in throughput over real HTTP, in-process: POST /api/v1/verify with the right PIN for many distinct
 * users (round-robin, so no single user's counter row serialises the run), while /health is sampled to see
 * whether the event loop stays responsive under hashing load.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { loadConfig } from "../src/config.ts";
import { buildApp } from "../src/http/app.ts";
import { cliContext } from "../src/services/context.ts";
import type { Metrics } from "../src/services/metrics.ts";
import { migrateToLatest, openDb } from "../src/store/db.ts";
import type { CpuPerOperation } from "./cpu.ts";
import { type BenchDatabase, benchServices } from "./databases.ts";
import { createHttpClient, fetchAppToken } from "./http.ts";
import { createLeanClient, type LeanClient, serialiseRequest } from "./lean-client.ts";
import {
  closedLoop,
  combineLoads,
  inBatches,
  type LatencySummary,
  type LoadResult,
  sampleSequentially,
  summarize,
  type ThroughputRounds,
  throughputRounds,
} from "./load.ts";

export interface SignInOptions extends ThroughputRounds {
  readonly database: BenchDatabase;
  readonly pepper: string;
  readonly users: number;
  /** How long /health is sampled with nothing else running. */
  readonly idleHealthMs: number;
  /** Pause between two /health samples, so the sampler stays a light load of its own. */
  readonly healthGapMs: number;
  /** A second, diagnostic run with this many requests in flight (0: none): one per hashing thread shows the latency-bound rate. */
  readonly saturationConcurrency: number;
}

export interface SaturationResult {
  readonly concurrency: number;
  readonly load: LoadResult;
  readonly hashMeanMs: number;
}

export interface SignInRound {
  readonly rawPerSecond: number;
  readonly perSecond: number;
}

export interface SignInResult {
  readonly concurrency: number;
  /** All rounds together. */
  readonly load: LoadResult;
  readonly rounds: readonly SignInRound[];
  /** The median of the rounds' throughput ÷ the baseline measured just before each. */
  readonly pairedRatio: number;
  readonly healthIdle: LatencySummary;
  readonly healthUnderLoad: LatencySummary;
  readonly healthErrors: number;
  /** argon2id verifies the app itself recorded during the measured window (should match completed). */
  readonly hashVerifies: number;
  /** Mean argon2id verify time inside the app during the window (its own histogram). */
  readonly hashMeanMs: number;
  readonly saturation?: SaturationResult;
  /**
   * CPU per operation over the throughput rounds (Linux only): the raw baseline's verifies and the
   * sign-ins, each split between the event loop, the other threads and a PostgreSQL server on this host.
   */
  readonly cpu?: { readonly raw: CpuPerOperation; readonly signIn: CpuPerOperation };
}

const PIN = "482915";

// Logging at "warn" into a sink: a benchmark of the log pipeline is not what we want here.
const nullStream = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

export const measureSignIn = async (options: SignInOptions): Promise<SignInResult> => {
  const { database, pepper } = options;
  const dataDir = await mkdtemp(path.join(tmpdir(), "pindesk-bench-data-"));
  // An explicit env object: this instance's config must not resize the pool the run already sized.
  const config = loadConfig(
    { databaseUrl: database.url, dataDir, host: "127.0.0.1", port: 0, logLevel: "warn" },
    { PINDESK_PEPPER: pepper },
  );
  const db = openDb(database.url);
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let client: ReturnType<typeof createHttpClient> | undefined;
  let leanClient: LeanClient | undefined;
  try {
    await migrateToLatest(db);
    const services = benchServices(config, db, pepper);
    const upns = Array.from({ length: options.users }, (_, i) => `bench${i}@contoso.com`);
    await inBatches(upns.length, options.concurrency, async (i) => {
      const upn = upns[i] as string;
      await services.users.create(cliContext, { userPrincipalName: upn, displayName: `Bench ${i}` });
      await services.pins.set(cliContext, upn, PIN);
    });
    const credentials = await services.apps.create(cliContext, "bench-signin", ["Pin.Verify"]);

    app = await buildApp(services, { logStream: nullStream(), logLevel: "warn" });
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    client = createHttpClient(address, { maxSockets: 2 });
    const http = client;
    const authorization = await fetchAppToken(http, credentials);

    const health = async () => {
      const response = await http.request("GET", "/health");
      return response.status === 200;
    };
    // The load itself goes through the lean client (see lean-client.ts), one connection per request
    // in flight; /health is sampled through node:http on a connection of its own.
    const lanes = Math.max(options.concurrency, options.saturationConcurrency);
    const lean = await createLeanClient(address, lanes);
    leanClient = lean;
    const requests = upns.map((upn) =>
      serialiseRequest("POST", "/api/v1/verify", { authorization }, { userPrincipalName: upn, pin: PIN }),
    );
    const signIn = async (sequence: number, lane: number): Promise<true | string> => {
      const response = await lean.send(lane, requests[sequence % requests.length] as Buffer);
      return response.status === 200
        ? true
        : `HTTP ${response.status}: ${response.body.toString("utf8").slice(0, 200)}`;
    };

    for (let i = 0; i < 50; i++) await health();
    const idle = await sampleSequentially(
      health,
      new Promise((resolve) => setTimeout(resolve, options.idleHealthMs)),
      options.healthGapMs,
    );

    // Throughput rounds, nothing else running: each divided by the baseline measured just before it.
    const paired = await throughputRounds(options, signIn);
    const loads = paired.rounds.map((r) => r.load);
    const rounds: SignInRound[] = paired.rounds.map((r) => ({
      rawPerSecond: r.raw.perSecond,
      perSecond: r.load.perSecond,
    }));
    const load = combineLoads(loads);
    const pairedRatio = paired.median.ratio;

    // The event loop's responsiveness under the same saturating load, measured on a run of its own so
    // that the sampling does not take from the throughput figures.
    const hashBefore = await hashVerifyTotals(services.metrics);
    const run = closedLoop(options.concurrency, options.durationMs, signIn);
    const loaded = await sampleSequentially(health, run, options.healthGapMs);
    const healthRun = await run;
    const hashAfter = await hashVerifyTotals(services.metrics);
    const hashVerifies = hashAfter.count - hashBefore.count;
    const hashSeconds = hashAfter.seconds - hashBefore.seconds;
    if (healthRun.failed > 0) loads.push(healthRun);

    let saturation: SaturationResult | undefined;
    if (options.saturationConcurrency > 0) {
      const concurrency = options.saturationConcurrency;
      const load = await closedLoop(concurrency, options.durationMs, signIn);
      const hashEnd = await hashVerifyTotals(services.metrics);
      const count = Math.max(hashEnd.count - hashAfter.count, 1);
      saturation = { concurrency, load, hashMeanMs: ((hashEnd.seconds - hashAfter.seconds) * 1000) / count };
    }

    return {
      concurrency: options.concurrency,
      load,
      rounds,
      pairedRatio,
      healthIdle: summarize(idle.latencies),
      healthUnderLoad: summarize(loaded.latencies),
      healthErrors: idle.errors + loaded.errors,
      hashVerifies,
      hashMeanMs: (hashSeconds * 1000) / Math.max(hashVerifies, 1),
      ...(saturation && { saturation }),
      ...(paired.cpu && { cpu: { raw: paired.cpu.raw, signIn: paired.cpu.endpoint } }),
    };
  } finally {
    client?.close();
    leanClient?.close();
    await app?.close();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
};

/** Count and total seconds of argon2id verifies in the app's own histogram. */
const hashVerifyTotals = async (metrics: Metrics): Promise<{ count: number; seconds: number }> => {
  const metric = await metrics.hashDuration.get();
  const total = (name: string) =>
    metric.values
      .filter((v) => v.metricName === name && v.labels.operation === "verify")
      .reduce((sum, v) => sum + v.value, 0);
  return {
    count: total("pindesk_hash_duration_seconds_count"),
    seconds: total("pindesk_hash_duration_seconds_sum"),
  };
};
