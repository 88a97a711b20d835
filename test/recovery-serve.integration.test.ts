/**
 * The retry worker runs in a server started the way `pindesk serve` starts it: a recovery code the
 * mail server refuses the first time arrives on a later attempt, without anyone pressing "Send" again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, testPepper } from "./helpers/instance.ts";
import { startSmtp } from "./helpers/portal-delivery.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAIL = "ana.lima@outlook.com";

describe("pindesk serve", () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let dataDir: string;
  let server: ChildProcess | undefined;
  let baseUrl = "";
  const output: string[] = [];

  beforeAll(async () => {
    // Refuses the first attempt to each address, accepts the next.
    smtp = await startSmtp({ refuse: (_address, attempt) => attempt === 1 });
    dataDir = await mkdtemp(path.join(tmpdir(), "pindesk-serve-"));
    const databaseUrl = `sqlite:${path.join(dataDir, "pindesk.db")}`;
    const pepper = testPepper();
    const setup = await createTestInstance("sqlite", {
      database: { url: databaseUrl, dialect: "sqlite", drop: async () => undefined },
      pepper,
      keepDatabase: true,
    });
    await setup.services.users.create(cliContext, {
      userPrincipalName: "ana.lima@contoso.com",
      displayName: "Ana Lima",
      mail: MAIL,
    });
    await setup.close();

    server = spawn(
      process.execPath,
      ["--require", "./bin/threadpool.cjs", "--import", "tsx", "src/cli/main.ts", "serve"],
      {
        cwd: root,
        env: {
          ...process.env,
          PINDESK_PORT: "0",
          PINDESK_DATA_DIR: dataDir,
          PINDESK_DATABASE_URL: databaseUrl,
          PINDESK_PEPPER: pepper,
          PINDESK_LOG_LEVEL: "warn",
          PINDESK_DELIVERY_RETRY_SECONDS: "1,1,1,1",
          ...smtp.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output.join("")}`)), 60_000);
      const onData = (chunk: Buffer) => {
        output.push(chunk.toString("utf8"));
        const match = /PinDesk listening on (http:\/\/[\d.]+:\d+)/.exec(output.join(""));
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      server?.stdout?.on("data", onData);
      server?.stderr?.on("data", (c: Buffer) => output.push(c.toString("utf8")));
      server?.once("exit", (code) => reject(new Error(`serve exited with ${code}:\n${output.join("")}`)));
    });
  }, 90_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    }
    await smtp?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("retries a refused recovery code in the background until it is delivered", async () => {
    const post = async (url: string, body: unknown) => {
      const res = await fetch(`${baseUrl}${url}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown> & { channels: { id: string }[] };
    };
    const start = await post("/portal/api/recovery/start", { userPrincipalName: "ana.lima@contoso.com" });
    const token = start.recoveryToken as string;
    await post("/portal/api/recovery/send", { recoveryToken: token, channelId: start.channels[0]?.id });
    await expect.poll(() => smtp.tries(MAIL), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // Nobody sends again: the server's own worker makes the second attempt, which is accepted.
    const code = await smtp.codeFor(MAIL, 0, "recovery code", 15_000);
    expect(code).toMatch(/^\d{8}$/);
    expect(smtp.tries(MAIL)).toBe(2);
    await expect
      .poll(async () => (await post("/portal/api/recovery/status", { recoveryToken: token })).status, {
        timeout: 10_000,
      })
      .toBe("accepted");
  }, 40_000);
});
