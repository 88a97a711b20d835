/**
 * A change and its audit event are written together or not at all: when the event cannot be written,
 * the PIN, the policy, the application and a single-use change token stay as they were.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AuditService } from "../src/services/audit-service.ts";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, outcomeOf, type TestInstance } from "./helpers/instance.ts";

describe.each(dialects)("changes and their audit events, all or none, on %s", (dialect) => {
  let t: TestInstance;
  let record: AuditService["record"];
  beforeAll(async () => {
    t = await createTestInstance(dialect);
    record = t.services.audit.record;
  });
  afterEach(() => {
    t.services.audit.record = record;
  });
  afterAll(() => t?.close());

  /** The audit event of `action` with `outcome` cannot be written (the insert fails inside its transaction). */
  const failAuditOf = (action: string, outcome = "success") => {
    t.services.audit.record = async (ctx, input, into) => {
      if (input.action === action && input.outcome === outcome && into)
        throw new Error("audit insert failed");
      return record(ctx, input, into);
    };
  };

  const addUser = async (upn: string, pin: string) => {
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: upn });
    await t.services.pins.set(cliContext, upn, pin);
  };

  it("an admin reset whose audit event fails leaves the old PIN", async () => {
    await addUser("reset@contoso.com", "482915");
    failAuditOf("pin.reset");
    await expect(
      t.services.pins.set(cliContext, "reset@contoso.com", "730164", { action: "pin.reset" }),
    ).rejects.toThrow("audit insert failed");
    t.services.audit.record = record;
    expect(await outcomeOf(t.services.pins.verify(cliContext, "reset@contoso.com", "482915"))).toBe("ok");
    expect(await outcomeOf(t.services.pins.verify(cliContext, "reset@contoso.com", "730164"))).toBe(
      "invalidPin",
    );
  });

  it("a temporary PIN whose audit event fails is never stored, and the token of a failed change still works", async () => {
    await addUser("temp@contoso.com", "482915");
    failAuditOf("pin.resetTemporary");
    await expect(t.services.pins.resetTemporary(cliContext, "temp@contoso.com")).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect((await t.services.pins.status("temp@contoso.com")).isTemporary).toBe(false);

    const { temporaryPin } = await t.services.pins.resetTemporary(cliContext, "temp@contoso.com");
    const verified = await t.services.pins.verify(cliContext, "temp@contoso.com", temporaryPin);
    if (verified.result !== "pinChangeRequired") throw new Error("expected pinChangeRequired");
    failAuditOf("pin.changed");
    await expect(t.services.pins.changeWithToken(cliContext, verified.changeToken, "730164")).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect((await t.services.pins.status("temp@contoso.com")).isTemporary).toBe(true);
    // The token was not spent by the change that did not happen.
    const changed = await t.services.pins.changeWithToken(cliContext, verified.changeToken, "730164");
    expect(changed.state).toBe("Steady State");
    const again = await outcomeOf(
      t.services.pins.changeWithToken(cliContext, verified.changeToken, "730165"),
    );
    expect(again).toBe("pinChangeTokenInvalid");
  });

  it("an unblock whose audit event fails leaves the lock; one with nothing locked changes nothing", async () => {
    await addUser("unblock@contoso.com", "482915");
    for (let i = 0; i < 10; i++)
      await outcomeOf(t.services.pins.verify(cliContext, "unblock@contoso.com", "999991"));
    failAuditOf("pin.unblock");
    await expect(t.services.pins.unblock(cliContext, "unblock@contoso.com")).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect((await t.services.pins.status("unblock@contoso.com")).state).toBe("Account Lockout");
    await t.services.pins.unblock(cliContext, "unblock@contoso.com");

    for (let i = 0; i < 4; i++)
      await outcomeOf(t.services.pins.verify(cliContext, "unblock@contoso.com", "999991"));
    expect(await outcomeOf(t.services.pins.unblock(cliContext, "unblock@contoso.com"))).toBe("pinNotLocked");
    expect((await t.services.pins.status("unblock@contoso.com")).failedAttempts).toBe(4);
  });

  it("a PIN removal or an application deletion whose audit event fails removes nothing", async () => {
    await addUser("remove@contoso.com", "482915");
    failAuditOf("pin.removed");
    await expect(t.services.pins.remove(cliContext, "remove@contoso.com")).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect((await t.services.pins.status("remove@contoso.com")).state).toBe("Steady State");

    const { clientId } = await t.services.apps.create(cliContext, "kept", ["Pin.Verify"]);
    failAuditOf("app.deleted");
    await expect(t.services.apps.delete(cliContext, clientId)).rejects.toThrow("audit insert failed");
    t.services.audit.record = record;
    expect((await t.services.apps.list()).map((a) => a.clientId)).toContain(clientId);
  });

  it("a policy save whose audit event fails leaves the policy as it was", async () => {
    const before = await t.services.policies.current();
    const minLength = (await t.services.policies.pinPolicy()).minLength;
    failAuditOf("policy.updated");
    await expect(t.services.policies.update(cliContext, { minLength: minLength + 2 })).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect((await t.services.policies.current()).version).toBe(before.version);
    expect((await t.services.policies.pinPolicy()).minLength).toBe(minLength);
  });

  it("an application whose audit event fails is not created", async () => {
    const before = (await t.services.apps.list()).length;
    failAuditOf("app.created");
    await expect(t.services.apps.create(cliContext, "never", ["Pin.Verify"])).rejects.toThrow(
      "audit insert failed",
    );
    t.services.audit.record = record;
    expect(await t.services.apps.list()).toHaveLength(before);
  });
});
