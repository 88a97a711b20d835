/**
 * Bad input to the CLI: every case exits non-zero with one `error:` line and a `next step:`, and never
 * prints a stack trace unless asked (--debug or PINDESK_LOG_LEVEL=debug).
 */
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../../test/helpers/instance.ts";
import { redactUrl, reportFailure } from "./errors.ts";
import { commandPaths } from "./main.ts";
import { type CliResult, type CliSandbox, createCliSandbox } from "./testing.ts";

const STACK_FRAME = /^\s+at /m;

const expectCleanFailure = (res: CliResult, code: number, error: string, nextStep: string) => {
  expect(res.code).toBe(code);
  expect(res.stderr).toContain(`error: ${error}`);
  expect(res.stderr).toContain(`next step: ${nextStep}`);
  expect(res.stderr).not.toMatch(STACK_FRAME);
  expect(res.stdout).toBe("");
};

describe("pindesk bad input", () => {
  let box: CliSandbox;
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    box = await createCliSandbox(await freshDatabase("sqlite"));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    await box.close();
  });

  it("user import of a missing file names the file", async () => {
    const missing = path.join(box.dataDir, "missing.csv");
    expectCleanFailure(
      await box.cli(["user", "import", missing]),
      1,
      `cannot read the CSV file ${missing}: no such file or directory`,
      "check the path",
    );
  });

  it("policy set --file with bad JSON names the file, the problem and where", async () => {
    const file = path.join(box.dataDir, "bad.json");
    await writeFile(file, '{\n  "minLength": 6,\n}\n');
    const res = await box.cli(["policy", "set", "--file", file]);
    expectCleanFailure(res, 1, `the policy file ${file} is not valid JSON: `, "fix the file");
    expect(res.stderr).toContain("(line 3, column 1)");
    const list = path.join(box.dataDir, "list.json");
    await writeFile(list, "[8]");
    expectCleanFailure(
      await box.cli(["policy", "set", "--file", list]),
      1,
      `the policy file ${list} must hold a JSON object of settings`,
      'write the settings as an object, e.g. {"minLength": 8}',
    );
    const missing = path.join(box.dataDir, "nope.json");
    expectCleanFailure(
      await box.cli(["policy", "set", "--file", missing]),
      1,
      `cannot read the policy file ${missing}: no such file or directory`,
      "check the path",
    );
  });

  it.each([
    [["user", "list", "--limit", "abc"], "--limit <n>", "abc", "1 to 10000", "user list"],
    [["user", "list", "--limit", "0"], "--limit <n>", "0", "1 to 10000", "user list"],
    [["audit", "--limit", "abc"], "--limit <n>", "abc", "1 to 100000", "audit"],
    [["serve", "--port", "abc"], "--port <port>", "abc", "0 to 65535", "serve"],
    [["serve", "--port", "70000"], "--port <port>", "70000", "0 to 65535", "serve"],
    [["dev-mail", "--port", "x"], "--port <port>", "x", "1 to 65535", "dev-mail"],
  ])("%j names the option and the allowed range", async (args, option, value, range, command) => {
    const res = await box.cli(args);
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: `error: option '${option}' argument '${value}' is invalid. Use a whole number from ${range}.\nnext step: run "pindesk ${command} --help" to see the options and examples.\n`,
    });
  });

  it("unknown commands and missing options point at --help", async () => {
    const unknown = await box.cli(["frobnicate"]);
    expectCleanFailure(unknown, 2, "unknown command 'frobnicate'", 'run "pindesk --help"');
    const missing = await box.cli(["pin", "set"]);
    expectCleanFailure(
      missing,
      2,
      "required option '--user <upn>' not specified",
      'run "pindesk pin set --help"',
    );
    const option = await box.cli(["pin", "status", "--user", "a@b.example", "--colour"]);
    expectCleanFailure(option, 2, "unknown option '--colour'", 'run "pindesk pin status --help"');
  });

  it("an unreachable PostgreSQL is named (password masked) with what to check", async () => {
    const res = await box.cli(["migrate"], {
      env: { PINDESK_DATABASE_URL: "postgres://nobody:hunter2@127.0.0.1:1/x" },
    });
    expectCleanFailure(
      res,
      1,
      "cannot reach the database at postgres://nobody:***@127.0.0.1:1/x: the connection was refused",
      "check that PostgreSQL is running and accepts connections",
    );
    expect(res.stderr).not.toContain("hunter2");
    const user = await box.cli(["user", "list"], {
      env: { PINDESK_DATABASE_URL: "postgres://nobody@127.0.0.1:1/x" },
    });
    expectCleanFailure(
      user,
      1,
      "cannot reach the database at postgres://nobody@127.0.0.1:1/x",
      "check that PostgreSQL",
    );
  });

  it("a SQLite path that is not a database says so", async () => {
    const file = path.join(box.dataDir, "not-a-db.txt");
    await writeFile(
      file,
      "this is not a database, just some text that is long enough to have a header".repeat(20),
    );
    expectCleanFailure(
      await box.cli(["migrate"], { env: { PINDESK_DATABASE_URL: `sqlite:${file}` } }),
      1,
      `cannot open the database at sqlite:${file}: the file is not a SQLite database`,
      "point PINDESK_DATABASE_URL at PinDesk's database file",
    );
  });

  it("serve on a port in use says so and how to choose another", async () => {
    expectCleanFailure(
      await box.cli(["serve", "--port", String(busyPort)]),
      1,
      `port ${busyPort} is in use on 127.0.0.1 by another program`,
      "choose another with --port or PINDESK_PORT",
    );
    expectCleanFailure(
      await box.cli(["serve"], { env: { PINDESK_PORT: String(busyPort) } }),
      1,
      `port ${busyPort} is in use`,
      "choose another with --port or PINDESK_PORT",
    );
  });

  it("a bad setting in the environment names the variable", async () => {
    expectCleanFailure(
      await box.cli(["serve"], { env: { PINDESK_PORT: "eighty" } }),
      1,
      'PINDESK_PORT must be a whole number, got "eighty".',
      "fix that setting",
    );
  });

  it("a damaged pepper key file is named, with the advice not to delete it", async () => {
    const damaged = await createCliSandbox(await freshDatabase("sqlite"));
    try {
      await writeFile(path.join(damaged.dataDir, "pepper-keys.json"), "{ not json");
      expectCleanFailure(
        await damaged.cli(["user", "list"]),
        1,
        `the pepper key file ${path.join(damaged.dataDir, "pepper-keys.json")} is damaged (not valid JSON)`,
        "restore it from your backup. Do not delete it",
      );
    } finally {
      await damaged.close();
    }
  });

  it("service validation errors list each field under the option that sets it", async () => {
    const res = await box.cli(["user", "add", "--upn", "not-a-upn", "--display-name", "X", "--phone", "123"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      [
        "error: The request is not valid.",
        "  - --upn must look like name@domain.example (letters, digits and . _ - + before the @)",
        "  - --phone must be in international form, starting with + and the country code, e.g. +44 7700 900123",
        'next step: fix what is listed above and run the command again ("pindesk user add --help" lists the options).',
        "",
      ].join("\n"),
    );
  });

  it("--debug and PINDESK_LOG_LEVEL=debug add the stack; without them there is none", async () => {
    const env = { PINDESK_DATABASE_URL: "postgres://nobody@127.0.0.1:1/x" };
    const plain = await box.cli(["migrate"], { env });
    expect(plain.stderr).not.toMatch(STACK_FRAME);
    const flagged = await box.cli(["migrate", "--debug"], { env });
    expect(flagged.code).toBe(1);
    expect(flagged.stderr).toContain("error: cannot reach the database");
    expect(flagged.stderr).toContain("details (--debug):");
    expect(flagged.stderr).toMatch(STACK_FRAME);
    const levelled = await box.cli(["migrate"], { env: { ...env, PINDESK_LOG_LEVEL: "debug" } });
    expect(levelled.stderr).toMatch(STACK_FRAME);
  });

  it("anything unexpected is one line with a next step; the stack only with debug", () => {
    const quiet = reportFailure(new TypeError("Cannot read properties of undefined (reading 'x')\nmore"), {
      command: "user list",
      debug: false,
    });
    expect(quiet).toEqual({
      exitCode: 1,
      lines: [
        "error: unexpected failure: Cannot read properties of undefined (reading 'x')",
        "next step: run the command again with --debug to see the full details; if it keeps happening, report them with the command you ran.",
      ],
    });
    const loud = reportFailure(new Error("boom"), { command: "", debug: true });
    expect(loud.lines.join("\n")).toMatch(STACK_FRAME);
    const aggregate = reportFailure(Object.assign(new AggregateError([new Error("inner reason")], ""), {}), {
      command: "",
      debug: false,
    });
    expect(aggregate.lines[0]).toBe("error: unexpected failure: inner reason");
  });

  it("database URLs are printed with their secrets masked", () => {
    expect(redactUrl("postgres://app:s3cret@db.example:5432/pindesk?sslpassword=x&application_name=p")).toBe(
      "postgres://app:***@db.example:5432/pindesk?sslpassword=***&application_name=p",
    );
    expect(redactUrl("sqlite:./data/pindesk.db")).toBe("sqlite:./data/pindesk.db");
  });
});

describe("pindesk --help", () => {
  let box: CliSandbox;
  beforeAll(async () => {
    box = await createCliSandbox(await freshDatabase("sqlite"));
  });
  afterAll(() => box.close());

  it("the top-level help lists the commands and the exit codes", async () => {
    const res = await box.cli(["--help"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("Usage: pindesk [options] [command]");
    for (const name of ["serve", "migrate", "app", "user", "pin", "keys", "audit", "explain", "bench"])
      expect(res.stdout).toMatch(new RegExp(`^  ${name}\\b`, "m"));
    expect(res.stdout).toContain("Exit codes: 0 done, 1 failed or refused");
  });

  const paths = commandPaths();
  it("covers every command the issue names", () => {
    for (const name of [
      "serve",
      "migrate",
      "app create",
      "app list",
      "app delete",
      "user add",
      "user import",
      "pin set",
      "pin reset",
      "pin unblock",
      "pin status",
      "keys rotate",
      "audit",
      "explain",
      "bench",
    ])
      expect(paths).toContain(name);
  });

  it.each(paths)("pindesk %s --help describes the command and exits 0", async (command) => {
    const res = await box.cli([...command.split(" "), "--help"]);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe("");
    const [usage, blank, description] = res.stdout.split("\n");
    expect(usage).toMatch(new RegExp(`^Usage: pindesk ${command}\\b`));
    expect(blank).toBe("");
    expect(description?.trim().length).toBeGreaterThan(5);
  });
});
