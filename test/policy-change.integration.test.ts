import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

describe.each(dialects)("policy change on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  it("a PIN made non-compliant by a policy change leads to the change step, never a refusal", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "pc@contoso.com", displayName: "PC" });
    await t.services.pins.set(cliContext, "pc@contoso.com", "482915");
    await t.services.policies.update(cliContext, { minLength: 8 });
    const outcome = await t.services.pins.verify(cliContext, "pc@contoso.com", "482915");
    expect(outcome).toMatchObject({ result: "pinChangeRequired", reason: "policyChange" });
    if (outcome.result !== "pinChangeRequired") throw new Error("unreachable");
    await expect(
      t.services.pins.changeWithToken(cliContext, outcome.changeToken, "730164"),
    ).rejects.toMatchObject({
      code: "pinTooShort",
    });
    await t.services.pins.changeWithToken(cliContext, outcome.changeToken, "73016482");
    expect((await t.services.pins.verify(cliContext, "pc@contoso.com", "73016482")).result).toBe("success");
  });

  it("a compliant PIN re-checked at sign-in under a newer policy records that version, and nothing else changes", async () => {
    await t.services.policies.reset(cliContext);
    await t.services.users.create(cliContext, { userPrincipalName: "rc@contoso.com", displayName: "RC" });
    await t.services.pins.set(cliContext, "rc@contoso.com", "58203716");
    const credential = () =>
      t.db.kysely
        .selectFrom("pin_credentials")
        .innerJoin("users", "users.id", "pin_credentials.user_id")
        .select(["policy_version", "hash", "last_sign_in_at"])
        .where("users.upn_key", "=", "rc@contoso.com")
        .executeTakeFirstOrThrow();
    const before = await credential();
    const { version } = await t.services.policies.update(cliContext, { minLength: 7 });
    expect(before.policy_version).not.toBe(version);
    expect((await t.services.pins.verify(cliContext, "rc@contoso.com", "58203716")).result).toBe("success");
    const after = await credential();
    expect(after.policy_version).toBe(version);
    expect(after.hash).toBe(before.hash);
    expect(after.last_sign_in_at).toBe(t.clock.now());
    await t.services.policies.reset(cliContext);
  });

  it("marks exactly the PINs a tighter policy rejects, previews the count first, and releases them when relaxed", async () => {
    const add = async (upn: string, pin: string) => {
      await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: upn });
      await t.services.pins.set(cliContext, upn, pin);
    };
    await t.services.policies.reset(cliContext);
    await add("six@contoso.com", "592817");
    await add("eight@contoso.com", "59281736");
    await add("nine@contoso.com", "592817364");
    // Before saving: the preview counts the PINs that would no longer comply, and changes nothing.
    const preview = await t.services.policies.preview({ minLength: 9 });
    expect(preview.impact.notCompliant).toBeGreaterThanOrEqual(2);
    expect((await t.services.pins.status("six@contoso.com")).state).toBe("Steady State");

    const saved = await t.services.policies.update(cliContext, { minLength: 9 });
    expect(saved.effect.marked).toBe(preview.impact.notCompliant);
    const six = await t.services.pins.status("six@contoso.com");
    expect(six).toMatchObject({ state: "Must Change", reason: "policyChange" });
    expect(six.mustChangeAt).toBe(new Date(t.clock.now()).toISOString());
    expect(six.mustChangeBy).toBe(saved.updatedBy);
    expect((await t.services.pins.status("eight@contoso.com")).state).toBe("Must Change");
    expect((await t.services.pins.status("nine@contoso.com")).state).toBe("Steady State");
    // The holder is sent to the change step, not refused.
    expect(await t.services.pins.verify(cliContext, "eight@contoso.com", "59281736")).toMatchObject({
      result: "pinChangeRequired",
      reason: "policyChange",
    });
    const audit = await t.services.audit.query({ action: "policy.updated", limit: 1 });
    expect(audit.at(0)?.details).toMatchObject({ pinsMarkedMustChange: saved.effect.marked });

    // Relaxing the rules again releases the PINs the change had marked, and only those.
    await t.services.pins.resetTemporary(cliContext, "nine@contoso.com");
    const relaxed = await t.services.policies.update(cliContext, { minLength: 8 });
    expect(relaxed.effect.cleared).toBeGreaterThanOrEqual(1);
    expect((await t.services.pins.status("eight@contoso.com")).state).toBe("Steady State");
    expect((await t.services.pins.status("six@contoso.com")).state).toBe("Must Change");
    expect((await t.services.pins.status("nine@contoso.com")).reason).toBe("temporaryPin");
    await t.services.policies.reset(cliContext);
  });

  it("a PIN whose character classes the new policy bans is marked too", async () => {
    await t.services.policies.update(cliContext, { lowercase: "allowed", digits: "allowed" });
    await t.services.users.create(cliContext, { userPrincipalName: "alpha@contoso.com", displayName: "A" });
    await t.services.pins.set(cliContext, "alpha@contoso.com", "kx7q2m9w");
    await t.services.policies.update(cliContext, { lowercase: "disallowed" });
    expect((await t.services.pins.status("alpha@contoso.com")).reason).toBe("policyChange");
    await t.services.policies.reset(cliContext);
  });

  it("expired PINs must be changed", async () => {
    await t.services.policies.update(cliContext, { expirationDays: 30 });
    await t.services.users.create(cliContext, { userPrincipalName: "exp@contoso.com", displayName: "Exp" });
    await t.services.pins.set(cliContext, "exp@contoso.com", "48291573");
    t.clock.advance(31 * 86_400_000);
    const outcome = await t.services.pins.verify(cliContext, "exp@contoso.com", "48291573");
    expect(outcome).toMatchObject({ result: "pinChangeRequired", reason: "pinExpired" });
    expect((await t.services.pins.status("exp@contoso.com")).state).toBe("Must Change");
  });
});
