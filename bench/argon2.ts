/**
 * The baseline every throughput figure is divided by: raw argon2id verifies per second through the app's
 * own hasher (same parameters, same pepper handling, same libuv pool), with nothing else around it.
 */
import { createHasher, OWASP_ARGON2ID } from "../src/crypto/hasher.ts";
import { parsePepperEnv } from "../src/crypto/keyring.ts";
import type { CpuAccount } from "./cpu.ts";
import { closedLoop, type LoadResult } from "./load.ts";

export interface RawVerifyOptions {
  readonly pepper: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Counts the CPU of the measured verifies (not of the warm-up). */
  readonly cpu?: CpuAccount;
}

export const measureRawVerify = async (options: RawVerifyOptions): Promise<LoadResult> => {
  const hasher = createHasher(parsePepperEnv(options.pepper), OWASP_ARGON2ID);
  const pin = "482915";
  const stored = await hasher.hash(pin);
  const op = async (): Promise<true | string> => ((await hasher.verify(stored, pin)).ok ? true : "no match");
  await closedLoop(options.concurrency, options.warmupMs, op);
  const run = () => closedLoop(options.concurrency, options.durationMs, op);
  return options.cpu ? options.cpu.measure(run) : run();
};
