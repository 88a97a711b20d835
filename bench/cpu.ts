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
  /** CPU milliseconds of every process named postgres on this host; undefined when there are none. */
  readonly postgresMs: number | undefined;
}

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

const postgresTicks = (): number | undefined => {
  let ticks = 0;
  let found = false;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    if (!read(`/proc/${pid}/comm`)?.startsWith("postgres")) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) continue; // exited between the listing and the read
    ticks += statTicks(stat);
    found = true;
  }
  return found ? ticks : undefined;
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
    postgresMs: postgres === undefined ? undefined : postgres * tick,
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
      if (before.postgresMs !== undefined && after.postgresMs !== undefined)
        postgresMs = (postgresMs ?? 0) + after.postgresMs - before.postgresMs;
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
