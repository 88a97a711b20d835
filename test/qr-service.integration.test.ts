import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, outcomeOf, type TestInstance } from "./helpers/instance.ts";

const rawOf = (image: { rawContent: string } | undefined) =>
  Buffer.from(image?.rawContent ?? "", "base64").toString("utf8");

describe.each(dialects)("QR code + PIN service on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
    await t.services.users.create(cliContext, {
      userPrincipalName: "fw@contoso.com",
      displayName: "Frontline",
    });
  });
  afterAll(() => t?.close());
  const window = () => ({
    startDateTime: new Date(t.clock.now()).toISOString(),
    expireDateTime: new Date(t.clock.now() + 30 * 86_400_000).toISOString(),
  });

  it("creates, signs in with a temporary PIN, changes it, signs in, expires", async () => {
    const qr = t.services.qr;
    expect(
      await outcomeOf(
        qr.createMethod(cliContext, "fw@contoso.com", { standardQRCode: window(), pin: { code: "1234567" } }),
      ),
    ).toBe("pinTooShort");
    expect(await outcomeOf(qr.getMethod(cliContext, "fw@contoso.com"))).toBe("qrCodePinMethodNotFound");
    expect(
      await outcomeOf(qr.createMethod(cliContext, "fw@contoso.com", { pin: { code: "48291573" } })),
    ).toBe("standardQRCodeRequired");
    const method = await qr.createMethod(cliContext, "fw@contoso.com", {
      standardQRCode: window(),
      pin: { code: "48291573" },
    });
    expect(method.pin).toMatchObject({ code: "48291573", forceChangePinNextSignIn: true });
    expect(method.temporaryQRCode).toBeNull();
    const raw = rawOf(method.standardQRCode?.image);
    expect(raw.startsWith("pindesk:qr:1:")).toBe(true);
    expect(Buffer.from(method.standardQRCode?.image?.binaryValue ?? "", "base64").toString()).toContain(
      "<svg",
    );
    expect(
      await outcomeOf(
        qr.createMethod(cliContext, "fw@contoso.com", {
          standardQRCode: window(),
          pin: { code: "48291573" },
        }),
      ),
    ).toBe("tooManyQRCodePinMethod");
    const got = await qr.getMethod(cliContext, "fw@contoso.com");
    expect(got.standardQRCode?.image).toBeUndefined();
    expect(got.pin.code).toBeUndefined();

    const first = await qr.signIn(cliContext, raw, "48291573");
    expect(first).toMatchObject({ result: "pinChangeRequired", reason: "adminReset" });
    if (first.result !== "pinChangeRequired") throw new Error("unreachable");
    expect(await outcomeOf(t.services.pins.changeWithToken(cliContext, first.changeToken, "730164"))).toBe(
      "pinTooShort",
    );
    await t.services.pins.changeWithToken(cliContext, first.changeToken, "73016482");
    expect(await qr.signIn(cliContext, Buffer.from(raw).toString("base64"), "73016482")).toMatchObject({
      result: "success",
    });
    expect((await qr.getMethod(cliContext, "fw@contoso.com")).standardQRCode?.lastUsedDateTime).toBeTruthy();

    expect(
      await outcomeOf(
        qr.signIn(cliContext, raw.replace(/:[A-Za-z0-9_-]{43}:/, `:${"B".repeat(43)}:`), "73016482"),
      ),
    ).toBe("qrCodeInvalid");
    expect(await outcomeOf(qr.signIn(cliContext, "garbage", "73016482"))).toBe("qrCodeInvalid");

    const temp = await qr.patchCode(cliContext, "fw@contoso.com", "temporary", {});
    expect(temp.created).toBe(true);
    const tempRaw = rawOf(temp.code.image);
    t.clock.advance(31 * 86_400_000);
    expect(await outcomeOf(qr.signIn(cliContext, raw, "73016482"))).toBe("qrCodeExpired");
    expect(await outcomeOf(qr.signIn(cliContext, tempRaw, "73016482"))).toBe("qrCodeExpired");
  });

  it("resets the PIN to a generated digits-only temporary PIN", async () => {
    const reset = await t.services.qr.resetPin(cliContext, "fw@contoso.com");
    expect(reset.code).toMatch(/^\d{8}$/);
    expect(reset.forceChangePinNextSignIn).toBe(true);
    // The expired temporary code is replaced by a new one.
    const temp = await t.services.qr.patchCode(cliContext, "fw@contoso.com", "temporary", {});
    expect(temp.created).toBe(true);
  });

  it("edits only a standard code's expiry and keeps the PIN when a code is deleted", async () => {
    const qr = t.services.qr;
    await qr.deleteCode(cliContext, "fw@contoso.com", "standard");
    const created = await qr.patchCode(cliContext, "fw@contoso.com", "standard", {});
    expect(created.created).toBe(true);
    const later = new Date(t.clock.now() + 90 * 86_400_000).toISOString();
    const edited = await qr.patchCode(cliContext, "fw@contoso.com", "standard", { expireDateTime: later });
    expect(edited).toMatchObject({ created: false, code: { expireDateTime: later } });
    expect(
      await outcomeOf(
        qr.patchCode(cliContext, "fw@contoso.com", "standard", {
          expireDateTime: new Date(t.clock.now() + 400 * 86_400_000).toISOString(),
        }),
      ),
    ).toBe("invalidQrCodeLifetime");
    expect(
      await outcomeOf(qr.patchCode(cliContext, "fw@contoso.com", "temporary", { expireDateTime: later })),
    ).toBe("qrCodeNotEditable");
    expect((await t.services.pins.status("fw@contoso.com")).state).not.toBe("No PIN");
  });

  it("a disabled policy stops new methods and sign-ins with a clear error", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "off@contoso.com", displayName: "Off" });
    const holder = await t.services.users.create(cliContext, {
      userPrincipalName: "off.badge@contoso.com",
      displayName: "Off Badge",
    });
    const badge = await t.services.qr.createMethod(cliContext, holder.id, {
      standardQRCode: window(),
      pin: { code: "48291573" },
    });
    await t.services.qr.updatePolicy(cliContext, { state: "disabled" });
    // A badge sign-in refused by the policy is on the record, and the help desk is told why.
    expect(
      await outcomeOf(t.services.qr.signIn(cliContext, rawOf(badge.standardQRCode?.image), "48291573")),
    ).toBe("qrCodePinMethodDisabled");
    const [refused] = await t.services.audit.query({
      action: "qr.signIn",
      targetUserId: holder.id,
      limit: 1,
    });
    expect(refused).toMatchObject({ outcome: "denied", reason: "qrCodePinMethodDisabled" });
    const { whyStuck, badgeAllowed } = await t.services.admin.userDetail(cliContext, holder.id);
    // The help desk's page offers no badge action the policy would refuse.
    expect(badgeAllowed).toBe(false);
    expect(whyStuck.summary).toContain(
      "Badge sign-in (QR code + PIN) is turned off for this user by the QR code + PIN policy.",
    );
    expect(
      await outcomeOf(
        t.services.qr.createMethod(cliContext, "off@contoso.com", {
          standardQRCode: window(),
          pin: { code: "48291573" },
        }),
      ),
    ).toBe("qrCodePinMethodDisabled");
    const p = await t.services.qr.resetPolicy(cliContext);
    expect(p).toMatchObject({ state: "enabled", pinLength: 8, standardQRCodeLifetimeInDays: 365 });
  });

  it("deleting the method removes both codes and the PIN", async () => {
    await t.services.qr.deleteMethod(cliContext, "fw@contoso.com");
    expect((await t.services.pins.status("fw@contoso.com")).state).toBe("No PIN");
    expect(await outcomeOf(t.services.qr.getMethod(cliContext, "fw@contoso.com"))).toBe(
      "qrCodePinMethodNotFound",
    );
  });
});
