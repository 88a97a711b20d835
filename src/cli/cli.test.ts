/**
 * The installed `pindesk` command (bin/pindesk.js) as a real process: arguments, piped stdin, exit
 * codes and signals get through to the CLI. Everything else is tested in process (cli-*.test.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../../test/helpers/instance.ts";
import { type CliSandbox, createCliSandbox } from "./testing.ts";

const bin = path.resolve(import.meta.dirname, "../../bin/pindesk.js");

const start = (box: CliSandbox, args: string[], stdin = "") => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...box.env, PINDESK_PEPPER: "" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  child.stdin.end(stdin);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
};

const runBin = async (box: CliSandbox, args: string[], stdin = "") => {
  const p = start(box, args, stdin);
  const { code } = await p.exited;
  return { code, stdout: p.out(), stderr: p.err() };
};

const waitFor = async (check: () => boolean, what: string, child: ChildProcess) => {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("bin/pindesk.js", () => {
  let box: CliSandbox;
  let busy: Server;
  beforeAll(async () => {
    box = await createCliSandbox(await freshDatabase("sqlite"));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    await box.close();
  });

  it("passes arguments and piped stdin to the CLI and its exit codes back", async () => {
    expect((await box.cli(["user", "add", "--upn", "ana@contoso.com", "--display-name", "Ana"])).code).toBe(
      0,
    );
    const set = await runBin(box, ["pin", "set", "--user", "ana@contoso.com"], "482915\n");
    expect(set).toEqual({
      code: 0,
      stdout: "PIN set for ana@contoso.com. State: Steady State.\n",
      stderr: "",
    });
    const refused = await runBin(box, ["pin", "set", "--user", "ana@contoso.com"], "12\n");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("error: ");
    expect(refused.stderr).toContain("next step: ");
    const usage = await runBin(box, ["user", "list", "--limit", "abc"]);
    expect(usage).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "error: option '--limit <n>' argument 'abc' is invalid. Use a whole number from 1 to 10000.\n" +
        'next step: run "pindesk user list --help" to see the options and examples.\n',
    });
  });

  it("serve starts, answers, and stops gracefully on SIGTERM sent to the wrapper", async () => {
    const server = start(box, ["serve", "--port", "0"]);
    await waitFor(
      () => /PinDesk listening on http:\/\/127\.0\.0\.1:\d+/.test(server.out()),
      "listening",
      server.child,
    );
    const port = /127\.0\.0\.1:(\d+)/.exec(server.out())?.[1];
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.err()).toContain("SIGTERM received: finishing open requests, then stopping.");
    // The server itself stopped too, not only the wrapper.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it("serve on a port in use exits 1 with the port named and no stack trace", async () => {
    const port = (busy.address() as { port: number }).port;
    const res = await runBin(box, ["serve", "--port", String(port)]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `error: port ${port} is in use on 127.0.0.1 by another program\nnext step: choose another with --port or PINDESK_PORT, or stop the program that uses it.\n`,
    );
  });
});
