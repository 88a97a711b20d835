/**
 * Where the CPU went during a measured run, from Linux's /proc: this process's event loop (the main
 * thread), its other threads (the libuv pool that hashes, V8's compiler and collector helpers), and
 * the PostgreSQL server's processes when the server runs on this host. A throughput ratio says how
 * much was lost; this says to whom. Elsewhere (no /proc) every reading is undefined and nothing is shown.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface CpuReading {
  /** CPU milliseconds of this process's main thread. */
  readonly eventLoopMs: number;
  /** CPU milliseconds of this process's other threads. */
  readonly otherThreadsMs: number;
  /**
   * CPU milliseconds of each process named postgres on this host, by pid; undefined when there are
   * none. Kept per process because the server's processes come and go during a run (a pool closes an
   * idle connection, and its backend exits): a sum over whoever is alive would drop an exited
   * backend's whole lifetime from the second reading and could even come out negative.
   */
  readonly postgres: ReadonlyMap<string, number> | undefined;
}

/**
 * The PostgreSQL server's CPU between two readings: for each process alive at the second, what it
 * used since the first (all of it when it started in between). A process that exited in between is
 * left out; its share of the window cannot be known, so the figure errs low, never negative.
 */
export const postgresDeltaMs = (before: CpuReading, after: CpuReading): number | undefined => {
  if (before.postgres === undefined || after.postgres === undefined) return undefined;
  let ms = 0;
  for (const [pid, used] of after.postgres) ms += Math.max(used - (before.postgres.get(pid) ?? 0), 0);
  return ms;
};

/**
 * User plus system time of one /proc/<pid>/stat (or task stat) line, in clock ticks. The command name
 * (field 2) is in parentheses and may itself hold spaces and parentheses, so the fields are counted
 * from the last ")"; utime and stime are fields 14 and 15 of the whole line.
 */
export const statTicks = (line: string): number => {
  const end = line.lastIndexOf(")");
  if (end < 0) throw new Error(`not a /proc stat line: ${line.slice(0, 40)}`);
  const fields = line
    .slice(end + 2)
    .trim()
    .split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error("no CPU times in a /proc stat line");
  return utime + stime;
};

let ticksPerSecond: number | undefined;
const msPerTick = (): number => {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return 1000 / ticksPerSecond;
};

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

const postgresTicks = (): Map<string, number> | undefined => {
  const ticks = new Map<string, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    if (!read(`/proc/${pid}/comm`)?.startsWith("postgres")) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) continue; // exited between the listing and the read
    ticks.set(pid, statTicks(stat));
  }
  return ticks.size > 0 ? ticks : undefined;
};

/** The CPU time used so far; undefined where /proc is not there to read. */
export const readCpu = (): CpuReading | undefined => {
  if (process.platform !== "linux" || read("/proc/self/stat") === undefined) return undefined;
  const tick = msPerTick();
  let main = 0;
  let others = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = read(`/proc/self/task/${tid}/stat`);
    if (stat === undefined) continue;
    if (tid === String(process.pid)) main += statTicks(stat);
    else others += statTicks(stat);
  }
  const postgres = postgresTicks();
  return {
    eventLoopMs: main * tick,
    otherThreadsMs: others * tick,
    postgres: postgres === undefined ? undefined : new Map([...postgres].map(([pid, t]) => [pid, t * tick])),
  };
};

/** CPU milliseconds per operation between two readings. */
export interface CpuPerOperation {
  readonly operations: number;
  readonly eventLoopMs: number;
  readonly otherThreadsMs: number;
  readonly postgresMs: number | undefined;
}

/**
 * Adds up CPU time over several measured windows (the rounds of a run) and divides by the
 * operations they completed. Windows are bracketed with `measure`; what runs between them is not
 * counted.
 */
export const cpuAccount = () => {
  let operations = 0;
  let eventLoopMs = 0;
  let otherThreadsMs = 0;
  let postgresMs: number | undefined;
  let available = true;
  return {
    async measure<T extends { completed: number }>(run: () => Promise<T>): Promise<T> {
      const before = readCpu();
      const result = await run();
      const after = readCpu();
      if (!before || !after) {
        available = false;
        return result;
      }
      operations += result.completed;
      eventLoopMs += after.eventLoopMs - before.eventLoopMs;
      otherThreadsMs += after.otherThreadsMs - before.otherThreadsMs;
      const server = postgresDeltaMs(before, after);
      if (server !== undefined) postgresMs = (postgresMs ?? 0) + server;
      return result;
    },
    perOperation(): CpuPerOperation | undefined {
      if (!available || operations === 0) return undefined;
      return {
        operations,
        eventLoopMs: eventLoopMs / operations,
        otherThreadsMs: otherThreadsMs / operations,
        postgresMs: postgresMs === undefined ? undefined : postgresMs / operations,
      };
    },
  };
};

export type CpuAccount = ReturnType<typeof cpuAccount>;
