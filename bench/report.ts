/**
 * Turns measurements into the table people read and the one-line JSON summary tools read. Targets are
 * judged here; a missed target becomes a warning, never a failure.
 */
import type { Dialect } from "../src/store/db.ts";
import type { CpuPerOperation } from "./cpu.ts";
import type { FloorResult } from "./floor.ts";
import type { LoadResult } from "./load.ts";
import type { LockoutResult } from "./lockout.ts";
import type { SignInResult } from "./signin.ts";

export const SIGN_IN_RATIO_TARGET = 0.9;
export const HEALTH_P99_TARGET_MS = 25;

export interface SignInReport {
  readonly dialect: Dialect;
  readonly result?: SignInResult;
  /** The same run's floor on this database (see floor.ts). */
  readonly floor?: FloorResult;
  readonly skipped?: string;
}

export interface LockoutReport {
  readonly dialect: Dialect;
  readonly result?: LockoutResult;
  readonly skipped?: string;
}

export interface ReportInput {
  readonly threads: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly warmupRequests: number;
  /** Verifies the raw baseline keeps in flight (as many as the endpoints' load). */
  readonly rawConcurrency: number;
  readonly totalSeconds: number;
  readonly baselineBefore: LoadResult;
  readonly baselineAfter: LoadResult;
  readonly signIns: readonly SignInReport[];
  readonly lockouts: readonly LockoutReport[];
  /** Collected while running; the report adds missed targets. */
  readonly warnings: readonly string[];
  readonly failures: readonly string[];
}

type Row = [
  measurement: string,
  value: string,
  baseline: string,
  ratio: string,
  target: string,
  result: string,
];

const perSecond = (n: number) => `${n.toFixed(1)} /s`;
const ms = (n: number) => `${n.toFixed(2)} ms`;
const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Table cells stay one short line; the full text is in the FAILED/WARNING lines below the table. */
const brief = (text = "") => {
  const line = text.split("\n")[0] ?? "";
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
};

const renderTable = (rows: readonly Row[]): string => {
  const header: Row = ["measurement", "value", "baseline", "ratio", "target", "result"];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]?.length ?? 0)));
  const line = (row: Row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join(" | ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
};

/**
 * CPU per sign-in against CPU per raw verify, over the same paired rounds: what a sign-in costs
 * beyond its hash, and on which side (PinDesk's event loop, its other threads, the database server
 * when it runs on this host). On a machine whose cores are saturated, the throughput ratio follows
 * these figures.
 */
const cpuRows = (
  label: string,
  dialect: Dialect,
  cpu: { readonly raw: CpuPerOperation; readonly signIn: CpuPerOperation } | undefined,
) => {
  if (!cpu) return undefined;
  const { raw, signIn } = cpu;
  const server = dialect === "postgres" ? (signIn.postgresMs ?? 0) : 0;
  const rawTotal = raw.eventLoopMs + raw.otherThreadsMs;
  const total = signIn.eventLoopMs + signIn.otherThreadsMs + server;
  const signed = (n: number) => `${n >= 0 ? "+" : "-"}${Math.abs(n).toFixed(2)} ms`;
  const parts = [
    `event loop ${signed(signIn.eventLoopMs - raw.eventLoopMs)}`,
    `other threads ${signed(signIn.otherThreadsMs - raw.otherThreadsMs)}`,
    ...(dialect === "postgres"
      ? [
          signIn.postgresMs === undefined
            ? "PostgreSQL server not on this host"
            : `PostgreSQL server +${server.toFixed(2)} ms`,
        ]
      : []),
  ];
  const row: Row = [
    `  CPU per ${label}, ${dialect} (raw verify's beside it)`,
    ms(total),
    `${ms(rawTotal)} raw`,
    (rawTotal / Math.max(total, 1e-9)).toFixed(3),
    "",
    parts.join(", "),
  ];
  const json = {
    rawVerify: { eventLoop: round(raw.eventLoopMs), otherThreads: round(raw.otherThreadsMs) },
    signIn: {
      eventLoop: round(signIn.eventLoopMs),
      otherThreads: round(signIn.otherThreadsMs),
      ...(dialect === "postgres" && {
        postgresServer: signIn.postgresMs === undefined ? null : round(signIn.postgresMs),
      }),
    },
  };
  return { row, json };
};

export const buildReport = (input: ReportInput): { text: string; summary: Record<string, unknown> } => {
  const { threads, baselineBefore, baselineAfter } = input;
  const warnings = [...input.warnings];
  const baselinePerSecond = (baselineBefore.perSecond + baselineAfter.perSecond) / 2;
  // One verify's own time on a hashing thread: the pool's threads over its throughput (the mean
  // latency would count the time a verify waited in the queue behind the others in flight).
  const rawMeanMs = (threads * 1000) / Math.max(baselinePerSecond, 1e-9);
  // The baseline is taken before and after the sign-in runs; their spread says how noisy the machine was.
  const spread =
    Math.abs(baselineBefore.perSecond - baselineAfter.perSecond) / Math.max(baselinePerSecond, 1e-9);
  if (spread > 0.15) {
    warnings.push(
      `the raw argon2id baseline moved ${(spread * 100).toFixed(0)}% between before and after: the machine is noisy, read ratios with care`,
    );
  }

  const rows: Row[] = [
    [
      `argon2id verify, raw, before (${input.rawConcurrency} in flight)`,
      perSecond(baselineBefore.perSecond),
      "",
      "",
      "",
      "",
    ],
    [
      `argon2id verify, raw, after (${input.rawConcurrency} in flight)`,
      perSecond(baselineAfter.perSecond),
      "",
      "",
      "",
      "",
    ],
    [
      "argon2id verify, raw, mean = baseline",
      perSecond(baselinePerSecond),
      "",
      "",
      "",
      `spread ${(spread * 100).toFixed(1)}%`,
    ],
  ];

  const signInJson: Record<string, unknown> = {};
  for (const { dialect, result, floor, skipped } of input.signIns) {
    if (!result) {
      rows.push([`sign-in, ${dialect}`, "-", "", "", "", brief(skipped)]);
      signInJson[dialect] = { skipped };
      continue;
    }
    const { load, healthIdle: idle, healthUnderLoad: loaded, saturation } = result;
    // Each round is divided by the baseline measured right before it; the median round is the figure.
    const ratio = result.pairedRatio;
    const roundRatios = result.rounds.map((r) => (r.perSecond / r.rawPerSecond).toFixed(2)).join(" ");
    const ratioMet = ratio >= SIGN_IN_RATIO_TARGET;
    if (!ratioMet) {
      warnings.push(
        `sign-in on ${dialect}: ${ratio.toFixed(2)} of raw argon2id throughput, below the ${SIGN_IN_RATIO_TARGET} target${floor ? ` (the floor on this machine: ${floor.pairedRatio.toFixed(2)})` : ""}`,
      );
    }
    const healthMet = loaded.p99 <= HEALTH_P99_TARGET_MS;
    if (!healthMet) {
      warnings.push(
        `/health p99 under load on ${dialect}: ${loaded.p99.toFixed(1)} ms, above the ${HEALTH_P99_TARGET_MS} ms target`,
      );
    }
    rows.push(
      [
        `sign-in POST /api/v1/verify, ${dialect} (${result.concurrency} in flight)`,
        perSecond(load.perSecond),
        `paired rounds`,
        ratio.toFixed(3),
        `>= ${SIGN_IN_RATIO_TARGET.toFixed(2)}`,
        `${ratioMet ? "ok" : "WARN"} (rounds ${roundRatios})`,
      ],
      [
        `/health p50 under that load, ${dialect} (n=${loaded.samples})`,
        ms(loaded.p50),
        `${ms(idle.p50)} idle`,
        `${(loaded.p50 / idle.p50).toFixed(1)}x`,
        "",
        "",
      ],
      [
        `/health p99 under that load, ${dialect} (idle n=${idle.samples})`,
        ms(loaded.p99),
        `${ms(idle.p99)} idle`,
        `${(loaded.p99 / idle.p99).toFixed(1)}x`,
        `<= ${HEALTH_P99_TARGET_MS} ms`,
        healthMet ? "ok" : "WARN",
      ],
    );
    const cpu = cpuRows("sign-in", dialect, result.cpu);
    if (cpu) rows.push(cpu.row);
    const floorCpu =
      floor &&
      cpuRows("floor sign-in", dialect, floor.cpu && { raw: floor.cpu.raw, signIn: floor.cpu.floor });
    if (floor) {
      rows.push([
        `  floor: bare node:http + driver, same writes, ${dialect}`,
        perSecond(floor.perSecond),
        "paired rounds",
        floor.pairedRatio.toFixed(3),
        "",
        `PinDesk ${(ratio / floor.pairedRatio).toFixed(3)} of it (rounds ${floor.roundRatios.map((r) => r.toFixed(2)).join(" ")})`,
      ]);
      if (floorCpu) rows.push(floorCpu.row);
    }
    const latencyBound = saturation ? saturation.load.perSecond / baselinePerSecond : 0;
    if (saturation) {
      // With one request per thread no hash waits for a thread, so the app's timer measures the hash
      // itself; the gap to the baseline is then a pool left idle while each request does its database
      // and HTTP work (busy < 100%), or hashes slowed by the event loop sharing the cores.
      const poolBusy = (saturation.load.perSecond * saturation.hashMeanMs) / 1000 / threads;
      rows.push(
        [
          `  one request per hashing thread, ${dialect} (${saturation.concurrency} in flight)`,
          perSecond(saturation.load.perSecond),
          perSecond(baselinePerSecond),
          latencyBound.toFixed(3),
          "",
          "latency-bound, no target",
        ],
        [
          `    argon2id verify inside the app, ${dialect}`,
          `${ms(saturation.hashMeanMs)} each`,
          `${ms(rawMeanMs)} raw`,
          `${(saturation.hashMeanMs / rawMeanMs).toFixed(2)}x`,
          "",
          `pool busy ${(poolBusy * 100).toFixed(0)}%`,
        ],
        [
          `    request time, ${dialect}`,
          ms(saturation.load.meanMs),
          "",
          "",
          "",
          `${ms(saturation.load.meanMs - saturation.hashMeanMs)} outside argon2id`,
        ],
      );
    }
    signInJson[dialect] = {
      verifiesPerSecond: round(load.perSecond, 1),
      ratio: round(ratio),
      rounds: result.rounds.map((r) => ({
        rawPerSecond: round(r.rawPerSecond, 1),
        perSecond: round(r.perSecond, 1),
        ratio: round(r.perSecond / r.rawPerSecond),
      })),
      ratioTarget: SIGN_IN_RATIO_TARGET,
      ratioMet,
      requests: load.completed,
      failedRequests: load.failed,
      seconds: round(load.seconds, 2),
      hashVerifiesRecorded: result.hashVerifies,
      requestMeanMs: round(load.meanMs),
      rawHashMeanMs: round(rawMeanMs),
      health: {
        idle: { p50Ms: round(idle.p50), p99Ms: round(idle.p99), samples: idle.samples },
        underLoad: { p50Ms: round(loaded.p50), p99Ms: round(loaded.p99), samples: loaded.samples },
        p99Ratio: round(loaded.p99 / idle.p99, 2),
        p99TargetMs: HEALTH_P99_TARGET_MS,
        p99Met: healthMet,
      },
      concurrency: result.concurrency,
      ...(cpu && { cpuMs: cpu.json }),
      ...(floor && {
        floor: {
          verifiesPerSecond: round(floor.perSecond, 1),
          ratio: round(floor.pairedRatio),
          rounds: floor.roundRatios.map((r) => round(r)),
          pinDeskOfFloor: round(ratio / floor.pairedRatio),
          ...(floorCpu && { cpuMs: floorCpu.json }),
        },
      }),
      ...(saturation && {
        onePerThread: {
          concurrency: saturation.concurrency,
          verifiesPerSecond: round(saturation.load.perSecond, 1),
          ratio: round(latencyBound),
          hashMeanMs: round(saturation.hashMeanMs),
          poolBusy: round((saturation.load.perSecond * saturation.hashMeanMs) / 1000 / threads),
        },
      }),
    };
  }

  const lockoutJson: Record<string, unknown> = {};
  for (const { dialect, result, skipped } of input.lockouts) {
    if (!result) {
      rows.push([`lockout race, ${dialect}, 2 processes`, "-", "", "", "", brief(skipped)]);
      lockoutJson[dialect] = { skipped };
      continue;
    }
    const statuses = Object.entries(result.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([status, n]) => `${status}x${n}`)
      .join(" ");
    rows.push([
      `lockout race, ${dialect}, 2 processes, ${result.burst} wrong PINs`,
      `${result.evaluated} evaluated (${result.evaluatedPerProcess.join("+")}); ${statuses}`,
      "",
      "",
      `= ${result.threshold}`,
      result.failures.length === 0 ? "PASS" : "FAIL",
    ]);
    lockoutJson[dialect] = {
      burst: result.burst,
      threshold: result.threshold,
      evaluated: result.evaluated,
      evaluatedPerProcess: result.evaluatedPerProcess,
      answeredPerProcess: result.answeredPerProcess,
      statuses: result.statuses,
      lockEvents: result.lockEvents,
      rightPinAfterLock: result.rightPinAfter,
      ok: result.failures.length === 0,
    };
  }

  const text = [
    "",
    `PinDesk benchmark: libuv pool ${threads} threads, ${input.durationMs / 1000} s per run; each endpoint warmed up for at least ${input.warmupMs / 1000} s and ${input.warmupRequests.toLocaleString("en-US")} requests`,
    "",
    renderTable(rows),
    "",
    ...warnings.map((w) => `WARNING: ${w}`),
    ...input.failures.map((f) => `FAILED: ${f}`),
  ].join("\n");

  const summary = {
    benchmark: "pindesk",
    threads,
    durationSeconds: input.durationMs / 1000,
    totalSeconds: round(input.totalSeconds, 1),
    baseline: {
      verifiesPerSecond: round(baselinePerSecond, 1),
      before: round(baselineBefore.perSecond, 1),
      after: round(baselineAfter.perSecond, 1),
      spread: round(spread),
      meanVerifyMs: round(rawMeanMs),
    },
    signIn: signInJson,
    lockout: lockoutJson,
    warnings,
    // One line each: a child's captured output stays in the FAILED lines above.
    failures: input.failures.map((f) => f.split("\n")[0] ?? f),
    ok: input.failures.length === 0,
  };
  return { text, summary };
};
