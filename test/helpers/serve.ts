/**
 * PinDesk started the way an operator starts it (`pindesk serve`, a child process) over a fresh SQLite
 * database, with its printed output captured: the first-run setup link is read from there. A second,
 * in-process set of services over the same database and pepper lets a test arrange users.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config.ts";
import { parsePepperEnv } from "../../src/crypto/keyring.ts";
import { createServices, type Services } from "../../src/services/index.ts";
import { type Db, openDb } from "../../src/store/db.ts";
import { FAST_ARGON2ID } from "./instance.ts";
import { ensureWebBuilt } from "./portal.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface ServedPinDesk {
  /** http://localhost:<port> (the portal's own address, as the setup link has it). */
  baseUrl: string;
  url(p?: string): string;
  /** The one-time link `serve` printed. */
  setupUrl: string;
  /** Everything the server printed so far. */
  output(): string;
  /** Services over the server's database, for arranging users (not the server's own). */
  services: Services;
  db: Db;
  close(): Promise<void>;
}

const waitFor = (read: () => string, pattern: RegExp, child: ChildProcess, timeoutMs: number) =>
  new Promise<RegExpMatchArray>((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const match = read().match(pattern);
      if (match) return resolve(match);
      if (child.exitCode !== null) return reject(new Error(`pindesk serve exited early:\n${read()}`));
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`pindesk serve did not print ${pattern} within ${timeoutMs} ms:\n${read()}`));
      setTimeout(tick, 50);
    };
    tick();
  });

export const servePinDesk = async (env: Record<string, string> = {}): Promise<ServedPinDesk> => {
  await ensureWebBuilt();
  const dir = await mkdtemp(path.join(tmpdir(), "pindesk-serve-"));
  const databaseUrl = `sqlite:${path.join(dir, "pindesk.db")}`;
  const pepper = `k1:${randomBytes(32).toString("base64")}`;
  const child = spawn(process.execPath, [path.join(root, "bin", "pindesk.js"), "serve", "--port", "0"], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: "production",
      PINDESK_DATA_DIR: dir,
      PINDESK_DATABASE_URL: databaseUrl,
      PINDESK_PEPPER: pepper,
      PINDESK_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  const read = () => text;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  };
  try {
    const [, port] = await waitFor(read, /PinDesk listening on http:\/\/[^:\s]+:(\d+)/, child, 60_000);
    const [setupUrl] = await waitFor(read, /http:\/\/\S+\/portal\/setup#[A-Za-z0-9_-]+/, child, 20_000);
    const baseUrl = `http://localhost:${port}`;
    const config = loadConfig(
      { databaseUrl, dataDir: dir, port: 0, logLevel: "warn" },
      { PINDESK_PEPPER: pepper, PINDESK_PUBLIC_URL: baseUrl, ...env },
    );
    const db = openDb(databaseUrl);
    const services = createServices({
      config,
      db,
      keyring: parsePepperEnv(pepper),
      hashParams: FAST_ARGON2ID,
    });
    return {
      baseUrl,
      url: (p = "/") => `${baseUrl}/portal${p}`,
      setupUrl: setupUrl as string,
      output: read,
      services,
      db,
      async close() {
        await stop();
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
};
