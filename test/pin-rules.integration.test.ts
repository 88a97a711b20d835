/**
 * PIN rules that depend on stored state: the QR code + PIN method never takes back one of the last 3
 * PINs (whatever the general history setting), and its minimum never exceeds its 20-digit maximum.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, outcomeOf, type TestInstance } from "./helpers/instance.ts";

describe.each(dialects)("PIN rules on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  const withQrMethod = async (upn: string, pin: string) => {
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: upn });
    const start = new Date(t.clock.now()).toISOString();
    const end = new Date(t.clock.now() + 30 * 86_400_000).toISOString();
    await t.services.qr.createMethod(cliContext, upn, {
      standardQRCode: { startDateTime: start, expireDateTime: end },
      pin: { code: pin },
    });
  };

  it("the QR code + PIN method refuses the last 3 PINs even when the policy keeps no history", async () => {
    await t.services.policies.update(cliContext, { history: 0 });
    try {
      await withQrMethod("hist@contoso.com", "48291573");
      const change = (from: string, to: string) =>
        outcomeOf(t.services.pins.change(cliContext, "hist@contoso.com", from, to));
      expect(await change("48291573", "48291573")).toBe("pinInHistory");
      expect(await change("48291573", "59302684")).toBe("ok");
      expect(await change("59302684", "48291573")).toBe("pinInHistory");
      expect(await change("59302684", "60413795")).toBe("ok");
      expect(await change("60413795", "48291573")).toBe("pinInHistory");
      expect(await change("60413795", "71524806")).toBe("ok");
      // Now three changes later, the first PIN may come back.
      expect(await change("71524806", "48291573")).toBe("ok");
      // A user without the QR method follows the policy (no history): the same PIN again is fine.
      await t.services.users.create(cliContext, { userPrincipalName: "plain@contoso.com", displayName: "P" });
      await t.services.pins.set(cliContext, "plain@contoso.com", "482915");
      expect(
        await outcomeOf(t.services.pins.change(cliContext, "plain@contoso.com", "482915", "482915")),
      ).toBe("ok");
    } finally {
      await t.services.policies.reset(cliContext);
    }
  });

  it("a general minimum above 20 still lets QR users choose a 20-digit PIN", async () => {
    await withQrMethod("long@contoso.com", "48291573");
    await t.services.policies.update(cliContext, { minLength: 24 });
    try {
      const { temporaryPin } = await t.services.pins.resetTemporary(cliContext, "long@contoso.com");
      expect(temporaryPin).toMatch(/^\d{20}$/);
      const outcome = await t.services.pins.verify(cliContext, "long@contoso.com", temporaryPin);
      if (outcome.result !== "pinChangeRequired") throw new Error("expected the change step");
      const status = await t.services.pins.changeWithToken(
        cliContext,
        outcome.changeToken,
        "48291573602846137950",
      );
      expect(status.state).toBe("Steady State");
    } finally {
      await t.services.policies.reset(cliContext);
    }
  });

  it("a temporary PIN never becomes the user's own, not even through Emergency Access (which may allow the previous PIN)", async () => {
    const user = await t.services.users.create(cliContext, {
      userPrincipalName: "temp.own@contoso.com",
      displayName: "Temp Own",
    });
    const { temporaryPin } = await t.services.pins.resetTemporary(cliContext, user.id);
    const own = (pin: string) =>
      outcomeOf(
        t.services.pins.setOwn(cliContext, user.id, pin, { reason: "emergencyAccess", allowPrevious: true }),
      );
    expect(await own(temporaryPin)).toBe("pinInHistory");
    expect(await own("730164")).toBe("ok");
    // Once it is theirs, Emergency Access may set the same PIN again where policy allows it.
    expect(await own("730164")).toBe("ok");
  });
});
