import { pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type CpuReading, cpuAccount, postgresDeltaMs, readCpu, statTicks } from "../bench/cpu.ts";
import type { FloorResult } from "../bench/floor.ts";
import type { LoadResult } from "../bench/load.ts";
import { buildReport } from "../bench/report.ts";
import type { SignInResult } from "../bench/signin.ts";

const linux = process.platform === "linux";

describe("bench CPU accounting", () => {
  it("reads user plus system ticks from a stat line whose command name holds spaces and parentheses", () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const line = "4242 (postgres: a (b) c) S 1 4242 4242 0 -1 4194560 120 0 3 0 731 269 0 0 20 0 1 0 55 0";
    expect(statTicks(line)).toBe(1000);
    expect(() => statTicks("garbage")).toThrow(/not a \/proc stat line/);
  });

  it("counts the database server's CPU per process, so a backend that exits mid-run takes nothing away", () => {
    const reading = (postgres: [string, number][] | undefined): CpuReading => ({
      eventLoopMs: 0,
      otherThreadsMs: 0,
      postgres: postgres && new Map(postgres),
    });
    // 101 served the earlier rounds (900 ms so far) and exits when the pool closes its idle connection;
    // 102 works on; 103 is a connection opened during the window.
    const before = reading([
      ["101", 900],
      ["102", 400],
      ["200", 50],
    ]);
    const after = reading([
      ["102", 430],
      ["103", 25],
      ["200", 52],
    ]);
    expect(postgresDeltaMs(before, after)).toBe(30 + 25 + 2);
    // A pid reused by a new process since the first reading never counts below zero.
    expect(postgresDeltaMs(reading([["7", 500]]), reading([["7", 3]]))).toBe(0);
    expect(postgresDeltaMs(reading(undefined), after)).toBeUndefined();
    expect(postgresDeltaMs(before, reading(undefined))).toBeUndefined();
  });

  it.runIf(linux)(
    "charges the main thread's work to the event loop and counts only the bracketed run",
    async () => {
      const account = cpuAccount();
      // About 200 ms of CPU on this thread, in a run that reports 4 operations.
      await account.measure(async () => {
        const until = performance.now() + 200;
        while (performance.now() < until) pbkdf2Sync("pin", "salt", 1000, 32, "sha256");
        return { completed: 4 };
      });
      // Work outside `measure` is not counted.
      const until = performance.now() + 100;
      while (performance.now() < until) pbkdf2Sync("pin", "salt", 1000, 32, "sha256");
      const per = account.perOperation();
      expect(per?.operations).toBe(4);
      // 200 ms over 4 operations is 50 ms each; ticks are 10 ms and the machine is shared.
      expect(per?.eventLoopMs).toBeGreaterThanOrEqual(30);
      expect(per?.eventLoopMs).toBeLessThanOrEqual(60);
      expect(readCpu()?.eventLoopMs).toBeGreaterThan(0);
    },
  );
});

const load = (perSecond: number): LoadResult => ({
  completed: perSecond * 5,
  failed: 0,
  seconds: 5,
  perSecond,
  meanMs: 40,
  failures: [],
});

describe("bench report: CPU per sign-in", () => {
  const result = (cpu: SignInResult["cpu"]): SignInResult => ({
    concurrency: 8,
    load: load(130),
    rounds: [{ rawPerSecond: 150, perSecond: 130 }],
    pairedRatio: 130 / 150,
    healthIdle: { samples: 10, p50: 1, p99: 2, max: 2 },
    healthUnderLoad: { samples: 10, p50: 2, p99: 5, max: 6 },
    healthErrors: 0,
    hashVerifies: 650,
    hashMeanMs: 13,
    ...(cpu && { cpu }),
  });
  const report = (dialect: "sqlite" | "postgres", cpu: SignInResult["cpu"], floor?: FloorResult) =>
    buildReport({
      threads: 2,
      durationMs: 5000,
      warmupMs: 3000,
      warmupRequests: 3000,
      rawConcurrency: 8,
      totalSeconds: 60,
      baselineBefore: load(150),
      baselineAfter: load(150),
      signIns: [{ dialect, result: result(cpu), ...(floor && { floor }) }],
      lockouts: [],
      warnings: [],
      failures: [],
    });

  it("splits what a sign-in costs beyond its hash between the event loop, the threads and the database server", () => {
    const { text, summary } = report("postgres", {
      raw: { operations: 750, eventLoopMs: 0.25, otherThreadsMs: 13, postgresMs: 0.01 },
      signIn: { operations: 650, eventLoopMs: 1.5, otherThreadsMs: 13.1, postgresMs: 0.9 },
    });
    const row = text.split("\n").find((l) => l.includes("CPU per sign-in, postgres"));
    expect(row).toContain("15.50 ms");
    expect(row).toContain("13.25 ms raw");
    expect(row).toContain("0.855");
    expect(row).toContain("event loop +1.25 ms, other threads +0.10 ms, PostgreSQL server +0.90 ms");
    expect(summary.signIn).toMatchObject({
      postgres: {
        cpuMs: {
          rawVerify: { eventLoop: 0.25, otherThreads: 13 },
          signIn: { eventLoop: 1.5, otherThreads: 13.1, postgresServer: 0.9 },
        },
      },
    });
  });

  it("says when the PostgreSQL server is not on this host, and shows no server on SQLite", () => {
    const remote = report("postgres", {
      raw: { operations: 750, eventLoopMs: 0.25, otherThreadsMs: 13, postgresMs: 0.01 },
      signIn: { operations: 650, eventLoopMs: 1.5, otherThreadsMs: 12.9, postgresMs: undefined },
    });
    expect(remote.text).toContain("other threads -0.10 ms, PostgreSQL server not on this host");
    const sqlite = report("sqlite", {
      raw: { operations: 750, eventLoopMs: 0.25, otherThreadsMs: 13, postgresMs: 0.01 },
      signIn: { operations: 650, eventLoopMs: 1.2, otherThreadsMs: 13, postgresMs: 0.01 },
    });
    const row = sqlite.text.split("\n").find((l) => l.includes("CPU per sign-in, sqlite"));
    expect(row).toContain("14.20 ms");
    expect(row).not.toContain("PostgreSQL");
  });

  it("shows the floor's ratio, PinDesk's share of it, and says so when the target is missed", () => {
    const floor: FloorResult = {
      perSecond: 140,
      pairedRatio: 0.91,
      roundRatios: [0.91],
      failed: 0,
      failures: [],
      cpu: {
        raw: { operations: 750, eventLoopMs: 0.25, otherThreadsMs: 13, postgresMs: 0 },
        floor: { operations: 700, eventLoopMs: 1.25, otherThreadsMs: 13.1, postgresMs: 1 },
      },
    };
    const { text, summary } = report("postgres", undefined, floor);
    const row = text.split("\n").find((l) => l.includes("floor: bare node:http"));
    expect(row).toContain("0.910");
    expect(row).toContain("PinDesk 0.952 of it");
    const cpuRow = text.split("\n").find((l) => l.includes("CPU per floor sign-in, postgres"));
    expect(cpuRow).toContain("event loop +1.00 ms");
    expect(cpuRow).toContain("PostgreSQL server +1.00 ms");
    expect(text).toContain("below the 0.9 target (the floor on this machine: 0.91)");
    expect(summary.signIn).toMatchObject({
      postgres: { floor: { ratio: 0.91, pinDeskOfFloor: 0.952, verifiesPerSecond: 140 } },
    });
  });

  it("shows no CPU row where /proc could not be read", () => {
    expect(report("postgres", undefined).text).not.toContain("CPU per sign-in");
  });
});
