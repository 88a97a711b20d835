/**
 * Runs a closed loop of prepared requests from its own thread (see `loadFromThread` in lean-client.ts),
 * so the load generator's event loop is not the server's.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createLeanClient } from "./lean-client.ts";
import { closedLoop, warmUp } from "./load.ts";

interface Job {
  readonly address: string;
  readonly requests: readonly Uint8Array[];
  readonly concurrency: number;
  readonly durationMs: number;
  readonly warmup: { readonly warmupMs: number; readonly requests: number };
}

const job = workerData as Job;
const requests = job.requests.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
const lean = await createLeanClient(job.address, job.concurrency);
const op = async (n: number, lane: number): Promise<true | string> => {
  const res = await lean.send(lane, requests[n % requests.length] as Buffer);
  return res.status === 200 ? true : `status ${res.status}`;
};
try {
  await warmUp(job.concurrency, job.warmup, op);
  parentPort?.postMessage(await closedLoop(job.concurrency, job.durationMs, op));
} finally {
  lean.close();
}
