/**
 * The benchmark suite. Shared two-core machines are noisy, so every figure is reported as a ratio against
 * a baseline measured in the same run; a missed target is a warning. Only a functional failure (the
 * lockout race evaluating more or fewer PINs than the threshold, errors under load) fails the run.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Dialect } from "../src/store/db.ts";
import { measureRawVerify } from "./argon2.ts";
import type { CpuAccount } from "./cpu.ts";
import { createBenchDatabase, findPostgres } from "./databases.ts";
import { formatExtras, runExtras } from "./extras.ts";
import { type FloorResult, measureFloor } from "./floor.ts";
import type { LoadResult } from "./load.ts";
import { runLockoutRace } from "./lockout.ts";
import { buildReport, type LockoutReport, type SignInReport } from "./report.ts";
import { measureSignIn } from "./signin.ts";

export interface SuiteOptions {
  /** The libuv thread pool size the app runs with (the raw baseline's concurrency). */
  readonly threads: number;
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

const USAGE =
  "npm run bench [-- --duration <s>] [--warmup <s>] [--warmup-requests <n>] [--rounds <n>] [--users <n>] [--burst <n>] [--saturation <n>] [--search-users <n>] [--no-postgres]";

const parseOptions = (argv: readonly string[]) => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: "string", default: "5" },
      // Each endpoint is warmed up for at least this long and this many requests (see load.ts warmUp).
      warmup: { type: "string", default: "3" },
      "warmup-requests": { type: "string", default: "3000" },
      users: { type: "string", default: "200" },
      burst: { type: "string", default: "500" },
      saturation: { type: "string" },
      rounds: { type: "string", default: "5" },
      "search-users": { type: "string", default: "1000000" },
      "no-postgres": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const number = (name: string, raw: string | undefined, min: number) => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`--${name} must be a number >= ${min}.\n${USAGE}`);
    return value;
  };
  const positive = (name: string, raw: string | undefined) => number(name, raw, Number.MIN_VALUE);
  return {
    help: values.help === true,
    durationMs: positive("duration", values.duration) * 1000,
    warmupMs: positive("warmup", values.warmup) * 1000,
    warmupRequests: Math.round(number("warmup-requests", values["warmup-requests"] as string, 0)),
    users: Math.round(positive("users", values.users)),
    rounds: Math.round(number("rounds", values.rounds as string, 1)),
    burst: Math.round(positive("burst", values.burst)),
    /** undefined: twice the pool. */
    searchUsers: Math.round(number("search-users", values["search-users"] as string, 0)),
    saturation:
      values.saturation === undefined ? undefined : Math.round(number("saturation", values.saturation, 0)),
    postgres: values["no-postgres"] !== true,
  };
};

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

export const main = async ({ threads, argv, env }: SuiteOptions): Promise<number> => {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Throughput is measured with enough requests in flight to keep every hashing thread busy while
  // other requests do their database and HTTP work; one request per thread is measured too, as the
  // latency-bound figure it is.
  const loadConcurrency = options.saturation ?? threads * 4;
  const pepper = `k1:${randomBytes(32).toString("base64")}`;
  const warnings: string[] = [];
  const failures: string[] = [];
  const startedAt = performance.now();

  const postgres = options.postgres
    ? await findPostgres()
    : ({ available: false, required: false, reason: "--no-postgres" } as const);
  const dialects: Dialect[] = ["sqlite"];
  if (postgres.available) dialects.push("postgres");
  else if (postgres.required)
    failures.push(`PINDESK_TEST_POSTGRES_URL is set but unreachable: ${postgres.reason}`);
  else warnings.push(`PostgreSQL skipped (${postgres.reason})`);
  const adminUrl = postgres.available ? postgres.adminUrl : undefined;
  const skipReason = postgres.available ? "" : `skipped: ${postgres.reason}`;

  // The raw baseline runs as many verifies in flight as the endpoints do, so the pool never waits for
  // the event loop to hand it the next one: with only one per thread, each thread idles between
  // verifies while an idle core wakes up (0-26 %, median 7 %, fewer verifies/s measured here), and
  // every ratio would be flattered by it.
  const baseline = async (label: string): Promise<LoadResult> => {
    progress(`raw argon2id verify, ${label} (${loadConcurrency} in flight, ${options.durationMs / 1000} s)`);
    return measureRawVerify({
      pepper,
      concurrency: loadConcurrency,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
    });
  };

  const rawBaseline = (cpu: CpuAccount) =>
    measureRawVerify({
      cpu,
      pepper,
      concurrency: loadConcurrency,
      warmupMs: Math.min(options.warmupMs, 500),
      durationMs: options.durationMs,
    });

  // What PinDesk's sign-in and the floor are both measured with.
  const throughput = {
    pepper,
    concurrency: loadConcurrency,
    users: options.users,
    warmupMs: options.warmupMs,
    warmupRequests: options.warmupRequests,
    durationMs: options.durationMs,
    rounds: options.rounds,
    rawBaseline,
  };

  // The floor of each database, right after PinDesk's sign-in on it (see floor.ts).
  const measureDialectFloor = async (dialect: Dialect): Promise<FloorResult | undefined> => {
    progress(`floor on ${dialect}: a bare node:http server doing only the writes lockout needs`);
    const database = await createBenchDatabase(dialect, adminUrl);
    try {
      const floor = await measureFloor({ ...throughput, database });
      if (floor.failed > 0)
        failures.push(`floor on ${dialect}: ${floor.failed} requests failed (${floor.failures.join("; ")})`);
      return floor;
    } catch (error) {
      failures.push(`floor on ${dialect}: ${(error as Error).message}`);
      return undefined;
    } finally {
      await database.drop();
    }
  };

  // The baseline is taken before and after the sign-in runs; their mean is the divisor.
  const baselineBefore = await baseline("before");

  const signIns: SignInReport[] = [];
  for (const dialect of ["sqlite", "postgres"] as const) {
    if (!dialects.includes(dialect)) {
      signIns.push({ dialect, skipped: skipReason });
      continue;
    }
    progress(
      `sign-in over HTTP on ${dialect} (${options.users} users, ${loadConcurrency} in flight, then ${threads})`,
    );
    const database = await createBenchDatabase(dialect, adminUrl);
    try {
      const result = await measureSignIn({
        ...throughput,
        database,
        idleHealthMs: 1500,
        healthGapMs: 5,
        saturationConcurrency: threads,
      });
      const floor = await measureDialectFloor(dialect);
      signIns.push({ dialect, result, ...(floor && { floor }) });
      if (result.load.failed > 0) {
        failures.push(
          `sign-in on ${dialect}: ${result.load.failed} requests failed (${result.load.failures.join("; ")})`,
        );
      }
      const saturationLoad = result.saturation?.load;
      if (saturationLoad && saturationLoad.failed > 0) {
        failures.push(
          `sign-in on ${dialect} at ${threads} in flight: ${saturationLoad.failed} requests failed (${saturationLoad.failures.join("; ")})`,
        );
      }
      if (result.healthErrors > 0)
        failures.push(`/health on ${dialect}: ${result.healthErrors} failed requests`);
    } catch (error) {
      failures.push(`sign-in on ${dialect}: ${(error as Error).message}`);
      signIns.push({ dialect, skipped: `error: ${(error as Error).message}` });
    } finally {
      await database.drop();
    }
  }

  const baselineAfter = await baseline("after");

  const lockouts: LockoutReport[] = [];
  for (const dialect of ["sqlite", "postgres"] as const) {
    if (!dialects.includes(dialect)) {
      lockouts.push({ dialect, skipped: skipReason });
      continue;
    }
    progress(`lockout race on ${dialect}: ${options.burst} concurrent wrong PINs over two server processes`);
    const database = await createBenchDatabase(dialect, adminUrl);
    try {
      const result = await runLockoutRace({ database, pepper, burst: options.burst, baseEnv: env });
      lockouts.push({ dialect, result });
      for (const failure of result.failures) failures.push(`lockout race on ${dialect}: ${failure}`);
    } catch (error) {
      failures.push(`lockout race on ${dialect}: ${(error as Error).message}`);
      lockouts.push({ dialect, skipped: `error: ${(error as Error).message.split("\n")[0]}` });
    } finally {
      await database.drop();
    }
  }

  const { text, summary } = buildReport({
    threads,
    rawConcurrency: loadConcurrency,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    warmupRequests: options.warmupRequests,
    totalSeconds: (performance.now() - startedAt) / 1000,
    baselineBefore,
    baselineAfter,
    signIns,
    lockouts,
    warnings,
    failures,
  });
  progress("QR surface and admin search");
  const extras = await runExtras({
    threads,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    warmupRequests: options.warmupRequests,
    rounds: options.rounds,
    searchUsers: options.searchUsers,
    postgresAdminUrl: adminUrl,
  });
  const extraWarnings = extras.warnings.map((w) => `WARNING: ${w}`).join("\n");
  process.stdout.write(
    `${text}\n\nQR code + PIN surface and admin search\n\n${formatExtras(extras.rows)}\n${extraWarnings ? `\n${extraWarnings}\n` : ""}${JSON.stringify({ ...summary, extras: extras.summary })}\n`,
  );
  return failures.length === 0 ? 0 : 1;
};
