/** The pindesk commands, run in process on each dialect: what they print, what they change. */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dialects, freshDatabase, testPepper } from "../../test/helpers/instance.ts";
import { keyFilePath } from "../crypto/keyring.ts";
import { cliContext } from "../services/context.ts";
import { migrationProvider } from "../store/migrations/index.ts";
import { type CliSandbox, createCliSandbox } from "./testing.ts";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(dialects)("pindesk commands on %s", (dialect) => {
  let box: CliSandbox;
  const sandbox = async () => {
    box = await createCliSandbox(await freshDatabase(dialect));
    return box;
  };
  afterEach(async () => {
    await box?.close();
  });

  const addAna = async () => {
    const added = await box.cli(["user", "add", "--upn", "ana@contoso.com", "--display-name", "Ana Lopez"]);
    expect(added.code).toBe(0);
  };
  const storedHash = async (upn: string) => {
    const { services } = await box.runtime();
    const user = await services.repos.users.findByUpn(upn);
    return (await services.repos.pins.get(user?.id ?? ""))?.hash ?? "";
  };

  it("migrate applies every migration to an empty database, then has nothing to apply", async () => {
    await sandbox();
    const names = Object.keys(await migrationProvider.getMigrations());
    const first = await box.cli(["migrate"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Applied ${names.length} migration(s) to `);
    expect(first.stdout.trim().endsWith(`: ${names.join(", ")}`)).toBe(true);
    const again = await box.cli(["migrate"]);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain("is up to date; nothing to apply.");
  });

  it("user add prints the user with ISO 8601 times and accepts --mobile-phone as --phone", async () => {
    await sandbox();
    const added = await box.cli([
      "user",
      "add",
      "--upn",
      "ana@contoso.com",
      "--display-name",
      "Ana Lopez",
      "--mobile-phone",
      "+44 7700 900123",
    ]);
    expect(added.code).toBe(0);
    const user = JSON.parse(added.stdout) as Record<string, unknown>;
    expect(user).toEqual({
      id: expect.any(String),
      userPrincipalName: "ana@contoso.com",
      displayName: "Ana Lopez",
      mail: null,
      mobilePhone: "+44 7700 900123",
      accountEnabled: true,
      roles: [],
      createdDateTime: expect.stringMatching(ISO),
      lastSignInDateTime: null,
    });
    expect(added.stderr).toContain("Created a new pepper key file in ");
    expect(
      added.stderr.endsWith("Created ana@contoso.com. Next: pindesk pin set --user ana@contoso.com\n"),
    ).toBe(true);
    const withPhone = await box.cli([
      "user",
      "add",
      "--upn",
      "bo@contoso.com",
      "--display-name",
      "Bo",
      "--phone",
      "+15550100",
    ]);
    expect(JSON.parse(withPhone.stdout)).toMatchObject({ mobilePhone: "+15550100" });
    const both = await box.cli([
      "user",
      "add",
      "--upn",
      "cy@contoso.com",
      "--display-name",
      "Cy",
      "--phone",
      "+15550100",
      "--mobile-phone",
      "+15550199",
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("error: --phone and --mobile-phone are the same setting");
    const listed = await box.cli(["user", "list", "--json"]);
    expect(
      (JSON.parse(listed.stdout) as { createdDateTime: string }[]).map((u) => u.createdDateTime),
    ).toEqual([expect.stringMatching(ISO), expect.stringMatching(ISO)]);
  });

  it("user disable and enable switch the account, say what it means, and leave a second call alone", async () => {
    await sandbox();
    await addAna();
    const disabled = await box.cli(["user", "disable", "ana@contoso.com"]);
    expect(disabled).toMatchObject({ code: 0 });
    expect(disabled.stdout).toBe("ana@contoso.com disabled: nothing signs them in until it is enabled.\n");
    const again = await box.cli(["user", "disable", "ana@contoso.com"]);
    expect(again.stdout).toBe("ana@contoso.com is already disabled; nothing changed.\n");
    const shown = await box.cli(["user", "show", "ana@contoso.com"]);
    expect(shown.stdout).toContain('"accountEnabled": false');
    const enabled = await box.cli(["user", "enable", "ana@contoso.com"]);
    expect(enabled.stdout).toBe("ana@contoso.com enabled: they can sign in again.\n");
    const unknown = await box.cli(["user", "enable", "nobody@contoso.com"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("No user has that id or user principal name.");
  });

  it("pin set keeps the spaces of a piped PIN, so the policy rejects them; status --json", async () => {
    await sandbox();
    await addAna();
    const spaced = await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: " 482915 \n" });
    expect(spaced.code).toBe(1);
    expect(spaced.stderr).toContain(
      "error: The PIN contains a character that cannot be used, such as a space",
    );
    expect(spaced.stderr).toContain("next step: ");
    const none = await box.cli(["pin", "status", "--user", "ana@contoso.com", "--json"]);
    expect(JSON.parse(none.stdout)).toMatchObject({ state: "No PIN" });
    const set = await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "482915\r\n" });
    expect(set).toMatchObject({ code: 0, stdout: "PIN set for ana@contoso.com. State: Steady State.\n" });
    const status = await box.cli(["pin", "status", "--user", "ana@contoso.com", "--json"]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      userPrincipalName: "ana@contoso.com",
      state: "Steady State",
      reason: null,
      failedAttempts: 0,
      attemptsRemaining: 10,
      lockedUntil: null,
      isTemporary: false,
      changedAt: expect.stringMatching(ISO),
    });
    const { services } = await box.runtime();
    expect((await services.pins.verify(cliContext, "ana@contoso.com", "482915")).result).toBe("success");
  });

  it("regression: pin reset follows forceChangeAfterAdminReset unless --force-change / --no-force-change is given", async () => {
    await sandbox();
    await addAna();
    const byDefault = await box.cli(["pin", "reset", "--user", "ana@contoso.com"], { stdin: "739164\n" });
    expect(byDefault.stdout).toContain("State: Must Change");
    const policy = await box.cli(["policy", "set", "forceChangeAfterAdminReset=false"]);
    expect(policy.code).toBe(0);
    const steady = await box.cli(["pin", "reset", "--user", "ana@contoso.com"], { stdin: "582036\n" });
    expect(steady).toMatchObject({
      code: 0,
      stdout: "PIN reset for ana@contoso.com. State: Steady State — they can sign in with it now.\n",
    });
    const forced = await box.cli(["pin", "reset", "--user", "ana@contoso.com", "--force-change"], {
      stdin: "640297\n",
    });
    expect(forced.stdout).toBe(
      "PIN reset for ana@contoso.com. State: Must Change — they must choose a new PIN at their next sign-in.\n",
    );
    await box.cli(["policy", "set", "forceChangeAfterAdminReset=true"]);
    const kept = await box.cli(["pin", "reset", "--user", "ana@contoso.com", "--no-force-change"], {
      stdin: "951738\n",
    });
    expect(kept.stdout).toContain("State: Steady State");
    const status = await box.cli(["pin", "status", "--user", "ana@contoso.com", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: "Steady State" });
  });

  it("pin reset --temporary prints the PIN once; a lifetime outside 1-720 hours names the option and range", async () => {
    await sandbox();
    await addAna();
    const temp = await box.cli([
      "pin",
      "reset",
      "--user",
      "ana@contoso.com",
      "--temporary",
      "--expires-in-hours",
      "2",
    ]);
    expect(temp.code).toBe(0);
    expect(temp.stdout).toMatch(/^Temporary PIN for ana@contoso\.com: \d{8}\n/);
    const status = JSON.parse(
      (await box.cli(["pin", "status", "--user", "ana@contoso.com", "--json"])).stdout,
    );
    expect(status).toMatchObject({ state: "Must Change", reason: "temporaryPin", isTemporary: true });
    for (const hours of ["abc", "0", "721"]) {
      const bad = await box.cli([
        "pin",
        "reset",
        "--user",
        "ana@contoso.com",
        "--temporary",
        "--expires-in-hours",
        hours,
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe(
        `error: option '--expires-in-hours <hours>' argument '${hours}' is invalid. Use a whole number from 1 to 720.\nnext step: run "pindesk pin reset --help" to see the options and examples.\n`,
      );
    }
    const conflicting = await box.cli([
      "pin",
      "reset",
      "--user",
      "ana@contoso.com",
      "--temporary",
      "--no-force-change",
    ]);
    expect(conflicting.code).toBe(2);
    expect(conflicting.stderr).toContain("--no-force-change cannot be used with --temporary");
  });

  it("pin unblock returns a locked PIN to Steady State; a PIN that is not locked is left alone, exit 0", async () => {
    await sandbox();
    await addAna();
    await box.cli(["policy", "set", "lockout.threshold=3", "lockout.mode=permanent"]);
    await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "482915\n" });
    const { services } = await box.runtime();
    for (let i = 0; i < 3; i++)
      await expect(services.pins.verify(cliContext, "ana@contoso.com", "000019")).rejects.toThrow();
    const locked = await box.cli(["pin", "status", "--user", "ana@contoso.com", "--json"]);
    expect(JSON.parse(locked.stdout)).toMatchObject({ state: "Account Lockout", lockedUntil: null });
    const unblocked = await box.cli(["pin", "unblock", "--user", "ana@contoso.com"]);
    expect(unblocked.code).toBe(0);
    expect(unblocked.stdout).toContain("Unblocked ana@contoso.com. State: Steady State.\n");
    expect((await services.pins.verify(cliContext, "ana@contoso.com", "482915")).result).toBe("success");
    const again = await box.cli(["pin", "unblock", "--user", "ana@contoso.com"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^Nothing to unblock: ana@contoso\.com is not locked\. State: Steady State — /,
    );
    expect(again.stderr).toBe("");
    const unknown = await box.cli(["pin", "unblock", "--user", "nobody@contoso.com"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: No user has that id or user principal name.");
    expect(unknown.stderr).toContain(
      "next step: Check the spelling, or list users with `pindesk user list`.",
    );
  });

  it("pin remove takes the PIN away; with no PIN left there is nothing to remove, exit 0; a group without a command is wrong usage", async () => {
    await sandbox();
    await addAna();
    await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "482915\n" });
    const removed = await box.cli(["pin", "remove", "--user", "ana@contoso.com"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("Removed the PIN of ana@contoso.com. State: No PIN.");
    const again = await box.cli(["pin", "remove", "--user", "ana@contoso.com"]);
    expect(again).toMatchObject({ code: 0, stderr: "" });
    expect(again.stdout).toBe(
      "ana@contoso.com has no PIN: nothing to remove. Set one with: pindesk pin set --user ana@contoso.com\n",
    );
    const group = await box.cli(["pin"]);
    expect(group.code).toBe(2);
    expect(group.stderr + group.stdout).toContain("Usage: pindesk pin [options] [command]");
  });

  it("admin create prints a one-time link and says which address it is built on", async () => {
    await sandbox();
    const res = await box.cli(["admin", "create"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^Open this one-time link to create an administrator/);
    expect(res.stdout).toMatch(/ {2}https?:\/\/\S+\/portal\/setup#\S+\n/);
    expect(res.stderr).toContain("If PinDesk is reached at another address or port, set PINDESK_PUBLIC_URL");
  });

  it("app create, list and delete", async () => {
    await sandbox();
    const created = await box.cli(["app", "create", "--name", "door", "--permission", "Pin.Verify"]);
    expect(created.code).toBe(0);
    const { clientId, clientSecret } = JSON.parse(created.stdout) as {
      clientId: string;
      clientSecret: string;
    };
    expect(created.stderr).toContain(`Created API client ${clientId}. Store the clientSecret now`);
    const listed = await box.cli(["app", "list", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ clientId, name: "door", permissions: ["Pin.Verify"], lastUsedAt: null }),
    ]);
    expect(listed.stdout).not.toContain(clientSecret);
    const tableView = await box.cli(["app", "list"]);
    expect(tableView.stdout).toMatch(
      new RegExp(`^clientId +name +permissions +lastUsedAt\\n-+.*\\n${clientId}  door +Pin\\.Verify\\n$`),
    );
    const deleted = await box.cli(["app", "delete", clientId]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(
      `Deleted API client ${clientId}: its secret no longer gets tokens; tokens already issued stop working within 5 seconds.`,
    );
    expect((await box.cli(["app", "list"])).stdout).toContain("No API clients yet.");
    const twice = await box.cli(["app", "delete", clientId]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe(
      "error: No API client has that id.\nnext step: List API clients with `pindesk app list`.\n",
    );
    const blank = await box.cli(["app", "create", "--name", " ", "--permission", "Pin.Verify"]);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain("error: The request is not valid.\n  - --name must be 1–200 characters\n");
  });

  it("audit filters by user, actor, action prefix, outcome, time and limit, as JSON lines", async () => {
    await sandbox();
    await addAna();
    await box.cli(["user", "add", "--upn", "bo@contoso.com", "--display-name", "Bo"]);
    await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "12\n" });
    await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "482915\n" });
    await box.cli(["pin", "set", "--user", "bo@contoso.com"], { stdin: "739164\n" });
    const lines = async (...args: string[]) => {
      const res = await box.cli(["audit", ...args]);
      expect(res.code).toBe(0);
      return res.stdout
        .split("\n")
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              action: string;
              outcome: string;
              targetUpn: string;
              actor: string;
              at: string;
            },
        );
    };
    const all = await lines();
    expect(all.map((e) => [e.action, e.outcome, e.targetUpn])).toEqual([
      ["pin.set", "success", "bo@contoso.com"],
      ["pin.set", "success", "ana@contoso.com"],
      ["pin.set", "failure", "ana@contoso.com"],
      ["user.created", "success", "bo@contoso.com"],
      ["user.created", "success", "ana@contoso.com"],
    ]);
    expect(all.every((e) => e.actor === "cli" && ISO.test(e.at))).toBe(true);
    expect((await lines("--user", "ana@contoso.com")).map((e) => e.action)).toEqual([
      "pin.set",
      "pin.set",
      "user.created",
    ]);
    expect((await lines("--action", "pin.*", "--outcome", "failure")).map((e) => e.targetUpn)).toEqual([
      "ana@contoso.com",
    ]);
    expect((await lines("--action", "user.created", "--limit", "1")).map((e) => e.targetUpn)).toEqual([
      "bo@contoso.com",
    ]);
    expect(await lines("--actor", "app:nobody")).toEqual([]);
    expect(await lines("--since", "2000-01-01", "--until", "2000-01-02")).toEqual([]);
    expect((await lines("--since", "2000-01-01")).length).toBe(5);
    const none = await box.cli(["audit", "--since", "2999-01-01T00:00:00Z"]);
    expect(none).toMatchObject({ code: 0, stdout: "", stderr: "No audit events match these filters.\n" });
    const badOutcome = await box.cli(["audit", "--outcome", "maybe"]);
    expect(badOutcome.code).toBe(2);
    expect(badOutcome.stderr).toContain(
      "error: option '--outcome <outcome>' argument 'maybe' is invalid. Allowed choices are success, failure, denied.",
    );
    const badTime = await box.cli(["audit", "--since", "yesterday"]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain("Use an ISO 8601 date or date-time");
  });

  it("keys rotate adds a key to the key file: old PINs verify and re-hash under it at their next success", async () => {
    await sandbox();
    await addAna();
    await box.cli(["pin", "set", "--user", "ana@contoso.com"], { stdin: "482915\n" });
    const before = await storedHash("ana@contoso.com");
    expect(before.startsWith("k1$")).toBe(true);
    const rotated = await box.cli(["keys", "rotate"]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain(
      `Added pepper key k2 to ${keyFilePath(box.dataDir)}; it is now the current key.`,
    );
    const file = JSON.parse(await readFile(keyFilePath(box.dataDir), "utf8")) as { keys: { id: string }[] };
    expect(file.keys.map((k) => k.id)).toEqual(["k1", "k2"]);
    const { services } = await box.runtime();
    expect(await storedHash("ana@contoso.com")).toBe(before);
    expect((await services.pins.verify(cliContext, "ana@contoso.com", "482915")).result).toBe("success");
    const after = await storedHash("ana@contoso.com");
    expect(after.startsWith("k2$")).toBe(true);
    expect((await services.pins.verify(cliContext, "ana@contoso.com", "482915")).result).toBe("success");
    const fromEnv = await box.cli(["keys", "rotate"], { env: { PINDESK_PEPPER: testPepper() } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(
      "error: Pepper keys come from PINDESK_PEPPER, so there is no key file to rotate.",
    );
    expect(fromEnv.stderr).toContain("next step: append a new key to PINDESK_PEPPER");
  });

  it("policy set --file applies a JSON file", async () => {
    await sandbox();
    const file = path.join(box.dataDir, "policy.json");
    await writeFile(file, JSON.stringify({ minLength: 8, lockout: { threshold: 5 } }));
    const res = await box.cli(["policy", "set", "--file", file]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("PIN policy saved as version");
    const shown = JSON.parse((await box.cli(["policy", "show", "--json"])).stdout) as {
      policy: { minLength: number; lockout: { threshold: number } };
    };
    expect(shown.policy.minLength).toBe(8);
    expect(shown.policy.lockout.threshold).toBe(5);
  });
});

describe("pindesk explain", () => {
  let box: CliSandbox;
  afterEach(async () => {
    await box?.close();
  });

  it("explains codes in any casing, with or without 0x, and unknown ones with the generic steps", async () => {
    box = await createCliSandbox(await freshDatabase("sqlite"));
    for (const code of ["0X80072F0C", "0x80072f0c", "80072F0C"]) {
      const res = await box.cli(["explain", code]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain("0x80072F0C");
    }
    const own = await box.cli(["explain", "pintooshort", "--json"]);
    expect(JSON.parse(own.stdout)).toMatchObject({ code: "pinTooShort" });
    const unknown = await box.cli(["explain", "garbage"]);
    expect(unknown).toMatchObject({ code: 0, stderr: "" });
    expect(unknown.stdout).toContain("try these steps");
    // The pointer an unknown code gets leads somewhere.
    expect(unknown.stdout).toContain("pindesk explain --list");
    const list = await box.cli(["explain", "--list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ {2}pinTooShort +400 /m);
    expect(list.stdout).toContain("0x801C004D");
    const json = JSON.parse((await box.cli(["explain", "--list", "--json"])).stdout);
    expect(json.windowsHello).toHaveLength(52);
    const none = await box.cli(["explain"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("pindesk explain --list");
  });
});
