/** Closed-loop load and latency sampling: the measuring tools every benchmark here shares. */
import { setTimeout as sleep } from "node:timers/promises";
import { type CpuAccount, type CpuPerOperation, cpuAccount } from "./cpu.ts";

export interface LoadResult {
  /** Operations that finished and reported success. */
  readonly completed: number;
  /** Operations that finished and reported failure (wrong status, thrown error). */
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Mean time one operation took, start to finish. */
  readonly meanMs: number;
  /** The first few failure descriptions, to say what went wrong. */
  readonly failures: readonly string[];
}

/**
 * Keeps `concurrency` operations in flight until `durationMs` has passed (and, with `atLeast`, until that
 * many operations have started). Throughput is counted up to the moment the last in-flight operation
 * finished, so a slow tail is charged to the run and not hidden. `op` resolves true on success, false
 * or a description string on failure.
 */
export const closedLoop = async (
  concurrency: number,
  durationMs: number,
  op: (sequence: number, lane: number) => Promise<true | string>,
  { atLeast = 0 }: { atLeast?: number } = {},
): Promise<LoadResult> => {
  let sequence = 0;
  let completed = 0;
  let failed = 0;
  let totalMs = 0;
  const failures: string[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (lane: number) => {
    while (performance.now() < deadline || sequence < atLeast) {
      const n = sequence++;
      const began = performance.now();
      let outcome: true | string;
      try {
        outcome = await op(n, lane);
      } catch (error) {
        outcome = error instanceof Error ? error.message : String(error);
      }
      totalMs += performance.now() - began;
      if (outcome === true) {
        completed++;
      } else {
        failed++;
        if (failures.length < 5) failures.push(outcome);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, lane) => worker(lane)));
  const seconds = (performance.now() - start) / 1000;
  const meanMs = totalMs / Math.max(completed + failed, 1);
  return { completed, failed, seconds, perSecond: completed / seconds, meanMs, failures };
};

/**
 * Brings an endpoint to its steady state before it is measured: at least `warmupMs`, and at least
 * `requests` operations. The JIT optimises a function after enough calls, not after enough time: at
 * hashing rates (a couple of hundred sign-ins a second on two cores) a few seconds leave the request
 * path half-compiled, with the compiler's threads still taking CPU from the hashing ones.
 */
export const warmUp = (
  concurrency: number,
  { warmupMs, requests }: { warmupMs: number; requests: number },
  op: (sequence: number, lane: number) => Promise<true | string>,
): Promise<LoadResult> => closedLoop(concurrency, warmupMs, op, { atLeast: requests });

export interface PairedRound {
  readonly raw: LoadResult;
  readonly load: LoadResult;
  /** The endpoint's throughput ÷ the baseline measured just before it. */
  readonly ratio: number;
}

/**
 * Paired rounds: the baseline, then the endpoint, `rounds` times. A shared machine drifts, so each
 * round's throughput is divided by the baseline measured right before it; the median round is the
 * figure. Rounds are returned in the order they ran.
 */
export const pairedRounds = async (
  rounds: number,
  baseline: () => Promise<LoadResult>,
  endpoint: () => Promise<LoadResult>,
): Promise<{ rounds: PairedRound[]; median: PairedRound }> => {
  const out: PairedRound[] = [];
  for (let round = 0; round < rounds; round++) {
    const raw = await baseline();
    const load = await endpoint();
    out.push({ raw, load, ratio: load.perSecond / raw.perSecond });
  }
  const median = [...out].sort((a, b) => a.ratio - b.ratio)[Math.floor(out.length / 2)];
  if (!median) throw new Error("paired rounds need at least one round");
  return { rounds: out, median };
};

export interface LatencySummary {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile over milliseconds. */
export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
};

export const summarize = (latencies: readonly number[]): LatencySummary => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
};

/**
 * Times `probe` one call after another (never overlapping, so the sampler adds little load of its own)
 * until `until` resolves, pausing `gapMs` between calls.
 */
export const sampleSequentially = async (
  probe: () => Promise<boolean>,
  until: Promise<unknown>,
  gapMs: number,
): Promise<{ latencies: number[]; errors: number }> => {
  let done = false;
  const stop = () => {
    done = true;
  };
  until.then(stop, stop);
  const latencies: number[] = [];
  let errors = 0;
  while (!done) {
    const start = performance.now();
    const ok = await probe().catch(() => false);
    if (ok) latencies.push(performance.now() - start);
    else errors++;
    if (gapMs > 0 && !done) await sleep(gapMs);
  }
  return { latencies, errors };
};

/** Runs `tasks` with at most `limit` in flight (set-up work that must not flood the pool). */
export const inBatches = async <T>(count: number, limit: number, task: (i: number) => Promise<T>) => {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
};

/** Several runs as one: their operations over their total time. */
export const combineLoads = (loads: readonly LoadResult[]): LoadResult => {
  const completed = loads.reduce((n, l) => n + l.completed, 0);
  const failed = loads.reduce((n, l) => n + l.failed, 0);
  const seconds = loads.reduce((n, l) => n + l.seconds, 0);
  const totalMs = loads.reduce((n, l) => n + l.meanMs * (l.completed + l.failed), 0);
  return {
    completed,
    failed,
    seconds,
    perSecond: completed / Math.max(seconds, 1e-9),
    meanMs: totalMs / Math.max(completed + failed, 1),
    failures: loads.flatMap((l) => l.failures).slice(0, 5),
  };
};

export interface ThroughputRounds {
  readonly concurrency: number;
  readonly warmupMs: number;
  /** The warm-up also lasts at least this many operations (see warmUp). */
  readonly warmupRequests: number;
  readonly durationMs: number;
  readonly rounds: number;
  /** The raw argon2id baseline, measured again before each round, its CPU counted on `cpu`. */
  readonly rawBaseline: (cpu: CpuAccount) => Promise<LoadResult>;
}

/**
 * An endpoint's throughput against the raw baseline: warmed up, then paired rounds, with the CPU each
 * side used read around each run (cpu.ts), to show where an operation's CPU goes beyond its hash.
 */
export const throughputRounds = async (
  options: ThroughputRounds,
  op: (sequence: number, lane: number) => Promise<true | string>,
): Promise<{
  rounds: PairedRound[];
  median: PairedRound;
  cpu?: { readonly raw: CpuPerOperation; readonly endpoint: CpuPerOperation };
}> => {
  await warmUp(options.concurrency, { warmupMs: options.warmupMs, requests: options.warmupRequests }, op);
  const rawCpu = cpuAccount();
  const endpointCpu = cpuAccount();
  const paired = await pairedRounds(
    options.rounds,
    () => options.rawBaseline(rawCpu),
    () => endpointCpu.measure(() => closedLoop(options.concurrency, options.durationMs, op)),
  );
  const raw = rawCpu.perOperation();
  const endpoint = endpointCpu.perOperation();
  return { ...paired, ...(raw && endpoint && { cpu: { raw, endpoint } }) };
};
