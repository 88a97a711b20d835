import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const raw = (image: { rawContent: string } | undefined) =>
  Buffer.from(image?.rawContent ?? "", "base64").toString("utf8");

describe.each(dialects)("QR sign-in API on %s", (dialect) => {
  let t: TestInstance;
  let badge: string;
  const signIn = (qrCode: string, pin: string) =>
    t.app.inject({ method: "POST", url: "/api/v1/signin/qr", payload: { qrCode, pin } });

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    await t.services.users.create(cliContext, {
      userPrincipalName: "fw@contoso.com",
      displayName: "Frontline Worker",
    });
    const now = t.clock.now();
    const method = await t.services.qr.createMethod(cliContext, "fw@contoso.com", {
      standardQRCode: {
        startDateTime: new Date(now).toISOString(),
        expireDateTime: new Date(now + 30 * 86_400_000).toISOString(),
      },
      pin: { code: "48291573" },
    });
    badge = raw(method.standardQRCode?.image);
  });
  afterAll(() => t?.close());

  it("takes a temporary PIN to the change step, then signs in with the new PIN", async () => {
    const { code } = await t.services.qr.resetPin(cliContext, "fw@contoso.com");
    const first = await signIn(Buffer.from(badge).toString("base64"), code);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      result: "pinChangeRequired",
      reason: "temporaryPin",
      user: { displayName: "Frontline Worker" },
    });
    const { changeToken } = first.json() as { changeToken: string };
    const short = await t.app.inject({
      method: "POST",
      url: "/api/v1/signin/qr/change-pin",
      payload: { changeToken, newPin: "7301648" },
    });
    expect(short.json().error.code).toBe("pinTooShort");
    const mismatch = await t.app.inject({
      method: "POST",
      url: "/api/v1/signin/qr/change-pin",
      payload: { changeToken, newPin: "73016482", confirmPin: "73016483" },
    });
    expect(mismatch.json().error.code).toBe("pinMismatch");
    const changed = await t.app.inject({
      method: "POST",
      url: "/api/v1/signin/qr/change-pin",
      payload: { changeToken, newPin: "73016482" },
    });
    expect(changed.json()).toMatchObject({ result: "pinChanged" });
    const ok = await signIn(badge, "73016482");
    expect(ok.json()).toMatchObject({
      result: "success",
      user: { userPrincipalName: "fw@contoso.com" },
      codeKind: "standard",
    });
    expect(
      (await t.services.qr.getMethod(cliContext, "fw@contoso.com")).standardQRCode?.lastUsedDateTime,
    ).toBeTruthy();
    // A completed sign-in records the code's use too (it is written with the sign-in itself).
    t.clock.advance(60_000);
    expect((await signIn(badge, "73016482")).json()).toMatchObject({ result: "success" });
    expect(
      (await t.services.qr.getMethod(cliContext, "fw@contoso.com")).standardQRCode?.lastUsedDateTime,
    ).toBe(new Date(t.clock.now()).toISOString());
  });

  it("shares the lockout counter with the verification API", async () => {
    const wrong = await signIn(badge, "99999990");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error).toMatchObject({ code: "invalidPin", attemptsRemaining: 9 });
    const token = await bearerFor(t, "Pin.Verify");
    const viaApi = await t.app.inject({
      method: "POST",
      url: "/api/v1/verify",
      headers: { authorization: token },
      payload: { userPrincipalName: "fw@contoso.com", pin: "99999991" },
    });
    expect(viaApi.json().error.attemptsRemaining).toBe(8);
    for (let i = 0; i < 8; i++) await signIn(badge, "99999992");
    const locked = await signIn(badge, "73016482");
    expect(locked.statusCode).toBe(423);
    expect(locked.json().error.code).toBe("pinLocked");
    await t.services.pins.unblock(cliContext, "fw@contoso.com");
  });

  it("an expired standard code with a valid temporary one still signs in", async () => {
    t.clock.advance(31 * 86_400_000);
    const expired = await signIn(badge, "73016482");
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe("qrCodeExpired");
    const temp = await t.services.qr.patchCode(cliContext, "fw@contoso.com", "temporary", {});
    const ok = await signIn(raw(temp.code.image), "73016482");
    expect(ok.json()).toMatchObject({ result: "success", codeKind: "temporary" });
  });

  it("refuses forged codes and bad input with 4xx, never 5xx", async () => {
    const forged = badge.replace(/:[A-Za-z0-9_-]{43}:/, `:${"x".repeat(43)}:`);
    expect((await signIn(forged, "73016482")).json().error.code).toBe("qrCodeInvalid");
    for (const payload of [
      {},
      { qrCode: 1, pin: "1" },
      { qrCode: "x".repeat(5000), pin: "1" },
      { qrCode: "a", pin: "1", extra: true },
      "not json",
    ]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/v1/signin/qr",
        headers: { "content-type": "application/json" },
        payload: typeof payload === "string" ? payload : JSON.stringify(payload),
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
  });

  it("serves the sign-in page with a strict content security policy", async () => {
    const page = await t.app.inject({ method: "GET", url: "/signin/qr" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.body).toContain("Sign in with your badge");
    expect((await t.app.inject({ method: "GET", url: "/signin/qr/app.js" })).statusCode).toBe(200);
  });
});
