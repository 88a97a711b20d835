/**
 * Regression: the hashing thread pool used to be sized from inside the app, after module loading had
 * already started libuv's pool with its default 4 threads, so PINDESK_HASH_THREADS did nothing. The
 * preload that `npm start`, `npm run pindesk` and bin/pindesk.js use must size it for real.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const preload = fileURLToPath(new URL("../bin/threadpool.cjs", import.meta.url));
// Starts the pool (an fs call), then reports the process's thread count.
const probe = `require("node:fs").readFile(__filename, () => setTimeout(() => console.log(require("node:fs").readdirSync("/proc/self/task").length + " " + process.env.UV_THREADPOOL_SIZE), 50));`;

const threadsWith = (env: Record<string, string>): { threads: number; poolSize: string } => {
  const { UV_THREADPOOL_SIZE: _drop, PINDESK_HASH_THREADS: _drop2, ...base } = process.env;
  const out = execFileSync(process.execPath, ["--require", preload, "-e", probe], {
    env: { ...base, ...env },
    encoding: "utf8",
  }).trim();
  const [threads, poolSize] = out.split(" ");
  return { threads: Number(threads), poolSize: poolSize ?? "" };
};

describe.skipIf(process.platform !== "linux")("hashing thread pool", () => {
  it("is sized by PINDESK_HASH_THREADS before anything starts it", () => {
    const one = threadsWith({ PINDESK_HASH_THREADS: "1" });
    const six = threadsWith({ PINDESK_HASH_THREADS: "6" });
    expect(one.poolSize).toBe("1");
    expect(six.poolSize).toBe("6");
    expect(six.threads - one.threads).toBe(5);
  });

  it("keeps an explicit UV_THREADPOOL_SIZE", () => {
    expect(threadsWith({ UV_THREADPOOL_SIZE: "3", PINDESK_HASH_THREADS: "7" }).poolSize).toBe("3");
  });

  it("falls back to the core count on a bad value (the configuration check reports it)", () => {
    expect(Number(threadsWith({ PINDESK_HASH_THREADS: "lots" }).poolSize)).toBeGreaterThanOrEqual(1);
  });
});
