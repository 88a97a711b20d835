/**
 * Runs the CLI in this process over its own data directory and a fresh database, and opens the same
 * runtime the CLI opens so tests can look at what a command did. Used by the CLI's tests.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { loadConfig } from "../config.ts";
import { openRuntime, type Runtime } from "../services/runtime.ts";
import type { Dialect } from "../store/db.ts";
import { run } from "./main.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A writable that keeps what was written; `isTTY` makes it look like a terminal. */
export const captureStream = (isTTY = false) => {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  if (isTTY) {
    stream.isTTY = true;
    stream.columns = 100;
  }
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
};

export interface CliSandbox {
  dataDir: string;
  databaseUrl: string;
  env: Record<string, string>;
  /** Runs `pindesk …args` in process; `stdin` is what is piped in. */
  cli(
    args: string[],
    options?: { stdin?: string; env?: Record<string, string>; ttyStderr?: boolean },
  ): Promise<CliResult>;
  /** The services over the sandbox's database and key file, as the CLI sees them. */
  runtime(): Promise<Runtime>;
  close(): Promise<void>;
}

export const createCliSandbox = async (database: {
  url: string;
  dialect: Dialect;
  drop(): Promise<void>;
}): Promise<CliSandbox> => {
  const dataDir = await mkdtemp(path.join(tmpdir(), "pindesk-cli-"));
  const env = { PINDESK_DATA_DIR: dataDir, PINDESK_DATABASE_URL: database.url };
  const opened: Runtime[] = [];
  return {
    dataDir,
    databaseUrl: database.url,
    env,
    async cli(args, options = {}) {
      const stdout = captureStream();
      const stderr = captureStream(options.ttyStderr);
      const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
      const code = await run(args, {
        stdout: stdout.stream,
        stderr: stderr.stream,
        stdin,
        env: { ...env, ...options.env },
      });
      return { code, stdout: stdout.text(), stderr: stderr.text() };
    },
    async runtime() {
      const runtime = await openRuntime(loadConfig({}, env));
      opened.push(runtime);
      return runtime;
    },
    async close() {
      for (const runtime of opened) await runtime.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};
