import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const main = path.resolve(import.meta.dirname, "main.ts");
let dir: string;
const run = (args: string[], stdin?: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", "tsx", main, ...args],
      {
        env: {
          ...process.env,
          PINDESK_DATA_DIR: dir,
          PINDESK_DATABASE_URL: `sqlite:${dir}/cli.db`,
          PINDESK_PEPPER: "",
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(stdin ?? "");
  });

describe("pindesk CLI", () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "pindesk-cli-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("adds a user, sets a PIN from stdin, reports status, resets to a temporary PIN", async () => {
    const added = await run([
      "user",
      "add",
      "--upn",
      "ana@contoso.com",
      "--display-name",
      "Ana",
      "--phone",
      "+447700900123",
    ]);
    expect(JSON.parse(added.stdout)).toMatchObject({
      userPrincipalName: "ana@contoso.com",
      mobilePhone: "+447700900123",
    });
    const set = await run(["pin", "set", "--user", "ana@contoso.com"], "482915\n");
    expect(set.stdout).toContain("PIN set for ana@contoso.com. State: Steady State.");
    const bad = await run(["pin", "set", "--user", "ana@contoso.com"], "12\n");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: Use at least 6 characters");
    expect(bad.stderr).toContain("next step:");
    expect(bad.stderr).not.toContain("    at ");
    const status = await run(["pin", "status", "--user", "ana@contoso.com", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: "Steady State" });
    const temp = await run(["pin", "reset", "--user", "ana@contoso.com", "--temporary"]);
    const pin = /Temporary PIN for ana@contoso.com: (\d{8})/.exec(temp.stdout)?.[1];
    expect(pin).toBeDefined();
    expect(temp.stdout).toContain("they must change it at sign-in");
    const audit = await run(["audit", "--user", "ana@contoso.com"]);
    const lines = audit.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(audit.stdout).not.toContain("482915");
    expect(audit.stdout).not.toContain(pin);
  });

  it("creates an API client and prints its secret once as JSON", async () => {
    const res = await run(["app", "create", "--name", "door", "--permission", "Pin.Verify"]);
    expect(JSON.parse(res.stdout)).toEqual({
      clientId: expect.any(String),
      clientSecret: expect.any(String),
    });
    expect(res.stderr).toContain("not shown again");
  });

  it("explains codes in any form, and unknown ones without a stack trace", async () => {
    expect((await run(["explain", "0X80072F0C"])).stdout).toContain("0x80072F0C");
    expect((await run(["explain", "pinTooShort"])).stdout).toContain("pinTooShort");
    const unknown = await run(["explain", "garbage"]);
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toContain("try these steps");
    expect(unknown.stderr).toBe("");
  });

  it("imports users from CSV and reports bad rows by line", async () => {
    const file = path.join(dir, "users.csv");
    await writeFile(
      file,
      "userPrincipalName,displayName,mail\nbo@contoso.com,Bo,bo@fabrikam.com\nnot-an-upn,Bad,\ncy@contoso.com,Cy,\n",
    );
    const res = await run(["user", "import", file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("line 3:");
    expect(res.stdout).toContain("Imported 2 users; 1 row rejected.");
  });
});
