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
