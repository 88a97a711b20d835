/**
 * Lockout race across processes: two real `pindesk serve` processes over one database take a burst of
 * concurrent wrong PINs for one user, split between them. However the burst interleaves, exactly
 * `threshold` PINs may be evaluated (the attempt is reserved in the database before the hash runs).
 * This is the benchmark's one functional check.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config.ts";
import { cliContext } from "../src/services/context.ts";
import { migrateToLatest, openDb } from "../src/store/db.ts";
import { type BenchDatabase, benchServices } from "./databases.ts";
import { createHttpClient, fetchAppToken, type HttpClient } from "./http.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI_ENTRY = "src/cli/main.ts";
const LISTENING = /PinDesk listening on (https?:\/\/[^\s"',]+)/;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

export interface LockoutOptions {
  readonly database: BenchDatabase;
  readonly pepper: string;
  readonly burst: number;
  /** The environment the server processes inherit (PINDESK_* for the database, data dir and pepper are set on top). */
  readonly baseEnv: NodeJS.ProcessEnv;
}

export interface LockoutResult {
  readonly threshold: number;
  readonly burst: number;
  /** argon2id verifies the two processes recorded during the burst (their /metrics), per process. */
  readonly evaluatedPerProcess: readonly number[];
  readonly evaluated: number;
  /**
   * Requests each process answered with 401 or 423 (the burst is split evenly between them). Which
   * process evaluates the PINs is a race of its own: one may take every place, so this, not the
   * evaluated counts, shows that both were in the race.
   */
  readonly answeredPerProcess: readonly number[];
  readonly statuses: Readonly<Record<string, number>>;
  readonly lockEvents: number;
  /** What the right PIN gets once the burst is over (423: still locked, as it must be). */
  readonly rightPinAfter: number;
  readonly failures: readonly string[];
}

interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly name: string;
}

// Children are stopped in `finally`; this is the last resort if the benchmark itself dies first.
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

const startServer = (name: string, env: NodeJS.ProcessEnv): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI_ENTRY, "serve", "--port", "0"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    child.once("exit", () => running.delete(child));
    let output = "";
    let settled = false;
    const timer = setTimeout(
      () => fail(new Error(`${name} did not print "PinDesk listening on …" within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${error.message}\n--- ${name} output ---\n${output.slice(-2000)}`));
    };
    const onData = (chunk: Buffer) => {
      // Keep draining after start-up so a chatty child never blocks on a full pipe; remember only the tail.
      output = (output + chunk.toString("utf8")).slice(-8000);
      const match = settled ? null : LISTENING.exec(output);
      if (match?.[1]) {
        settled = true;
        clearTimeout(timer);
        const url = new URL(match[1]);
        if (url.hostname === "0.0.0.0" || url.hostname === "::" || url.hostname === "[::]")
          url.hostname = "127.0.0.1";
        resolve({ child, url: url.origin, name });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (error) => fail(error));
    child.once("exit", (code, signal) =>
      fail(new Error(`${name} exited early (code ${code}, signal ${signal})`)),
    );
  });

const stopServer = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
};

/** Sum of pindesk_hash_duration_seconds_count{operation="verify"} in a Prometheus text exposition. */
const verifyCountOf = async (client: HttpClient): Promise<number> => {
  const response = await client.request("GET", "/metrics");
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  let total = 0;
  for (const line of response.body.split("\n")) {
    const match = /^pindesk_hash_duration_seconds_count\{([^}]*)\}\s+(\S+)/.exec(line);
    if (match?.[1]?.includes('operation="verify"')) total += Number(match[2]);
  }
  return total;
};

export const runLockoutRace = async (options: LockoutOptions): Promise<LockoutResult> => {
  const { database, pepper, burst } = options;
  if (!existsSync(path.resolve(ROOT, CLI_ENTRY))) {
    throw new Error(`${CLI_ENTRY} does not exist: the race needs two real \`pindesk serve\` processes`);
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), "pindesk-bench-race-"));
  const upn = "race@contoso.com";
  const rightPin = "482915";
  const config = loadConfig(
    { databaseUrl: database.url, dataDir, port: 0, logLevel: "warn" },
    { PINDESK_PEPPER: pepper },
  );
  // Set-up goes through the services in-process, over the same database the servers will share.
  const db = openDb(database.url);
  const servers: ServerProcess[] = [];
  const clients: HttpClient[] = [];
  try {
    await migrateToLatest(db);
    const services = benchServices(config, db, pepper);
    await services.users.create(cliContext, { userPrincipalName: upn, displayName: "Race" });
    await services.pins.set(cliContext, upn, rightPin);
    const credentials = await services.apps.create(cliContext, "bench-race", ["Pin.Verify"]);
    const { threshold } = (await services.policies.pinPolicy()).lockout;

    const env: NodeJS.ProcessEnv = {
      ...options.baseEnv,
      PINDESK_DATABASE_URL: database.url,
      PINDESK_DATA_DIR: dataDir,
      PINDESK_PEPPER: pepper,
      PINDESK_HOST: "127.0.0.1",
      PINDESK_PORT: "0",
    };
    const started = await Promise.allSettled([startServer("server A", env), startServer("server B", env)]);
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const refused = started.find((s) => s.status === "rejected");
    if (refused) throw (refused as PromiseRejectedResult).reason;

    for (const server of servers) {
      clients.push(createHttpClient(server.url, { maxSockets: Math.ceil(burst / servers.length) }));
    }
    const [first] = clients;
    if (!first) throw new Error("no server started");
    // A token from one process must be honoured by the other: signing keys live in the shared database.
    const authorization = await fetchAppToken(first, credentials);
    const before = await Promise.all(clients.map(verifyCountOf));

    const responses = await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        (clients[i % clients.length] as HttpClient)
          .request("POST", "/api/v1/verify", {
            headers: { authorization },
            body: { userPrincipalName: upn, pin: String(100000 + i * 7) },
          })
          .then(
            (r) => String(r.status),
            (error: Error) => `error:${error.message}`,
          ),
      ),
    );
    const statuses: Record<string, number> = {};
    const answeredPerProcess = clients.map(() => 0);
    responses.forEach((status, i) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      const server = i % clients.length;
      if (status === "401" || status === "423")
        answeredPerProcess[server] = (answeredPerProcess[server] ?? 0) + 1;
    });

    const after = await Promise.all(clients.map(verifyCountOf));
    const evaluatedPerProcess = after.map((n, i) => n - (before[i] ?? 0));
    const evaluated = evaluatedPerProcess.reduce((a, b) => a + b, 0);
    const lockEvents = (await services.audit.query({ action: "pin.locked", targetUpn: upn, limit: 10 }))
      .length;
    const rightPinAfter = (
      await first.request("POST", "/api/v1/verify", {
        headers: { authorization },
        body: { userPrincipalName: upn, pin: rightPin },
      })
    ).status;

    const failures: string[] = [];
    if (evaluated !== threshold)
      failures.push(
        `${evaluated} wrong PINs were evaluated across both processes; the threshold is ${threshold}`,
      );
    const unexpected = Object.keys(statuses).filter((s) => s !== "401" && s !== "423");
    if (unexpected.length > 0)
      failures.push(`unexpected answers: ${unexpected.map((s) => `${s}×${statuses[s]}`).join(", ")}`);
    if (lockEvents !== 1) failures.push(`${lockEvents} pin.locked audit events; exactly 1 expected`);
    if (rightPinAfter !== 423)
      failures.push(`the right PIN got ${rightPinAfter} after the lock; 423 expected`);

    return {
      threshold,
      burst,
      evaluatedPerProcess,
      evaluated,
      answeredPerProcess,
      statuses,
      lockEvents,
      rightPinAfter,
      failures,
    };
  } finally {
    for (const client of clients) client.close();
    await Promise.all(servers.map((s) => stopServer(s.child)));
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
};
