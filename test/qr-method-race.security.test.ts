/**
 * Regression: two admins (or a retried script) creating the same user's QR code + PIN method at once.
 * The request that loses must not touch the PIN: the PIN in the winner's 201 is the one that works.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const day = 86_400_000;
const raw = (rawContent: string) => Buffer.from(rawContent, "base64").toString("utf8");

describe.each(dialects)("concurrent PUT qrCodePinMethod on %s", (dialect) => {
  let t: TestInstance;
  let authorization: string;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    authorization = await bearerFor(t, "UserAuthenticationMethod.ReadWrite.All");
  });
  afterAll(() => t?.close());

  const put = (upn: string, pin: string, days = 30) =>
    t.app.inject({
      method: "PUT",
      url: `/v1.0/users/${encodeURIComponent(upn)}/authentication/qrCodePinMethod`,
      headers: { authorization },
      payload: {
        standardQRCode: {
          startDateTime: new Date(t.clock.now()).toISOString(),
          expireDateTime: new Date(t.clock.now() + days * day).toISOString(),
        },
        pin: { code: pin },
      },
    });

  const signIn = (qrCode: string, pin: string) =>
    t.app.inject({ method: "POST", url: "/api/v1/signin/qr", payload: { qrCode, pin } });

  /** Races two PUTs with different PINs; checks one winner whose PIN and badge work, and one clean loser. */
  const race = async (upn: string) => {
    const pins = ["48291573", "73016482"];
    const responses = await Promise.all(pins.map((pin) => put(upn, pin)));
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses, responses.map((r) => r.body).join("\n")).toEqual([201, 400]);
    const winner = responses.findIndex((r) => r.statusCode === 201);
    const loser = responses[1 - winner];
    expect(loser?.json().error.code).toBe("tooManyQRCodePinMethod");
    const body = responses[winner]?.json();
    expect(body.pin.code).toBe(pins[winner]);
    const badge = raw(body.standardQRCode.image.rawContent);
    // The loser's PIN was never stored.
    const wrong = await signIn(badge, pins[1 - winner] as string);
    expect(wrong.statusCode, wrong.body).toBe(401);
    expect(wrong.json().error.code).toBe("invalidPin");
    // The winner's PIN is the user's PIN: it leads to the "choose your own PIN" step.
    const right = await signIn(badge, pins[winner] as string);
    expect(right.statusCode, right.body).toBe(200);
    expect(right.json().result).toBe("pinChangeRequired");
  };

  it("a losing racer leaves the winner's PIN in place (new users)", async () => {
    for (let i = 0; i < 4; i++) {
      const upn = `race.${i}@contoso.com`;
      await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: `Race ${i}` });
      await race(upn);
    }
  });

  it("a losing racer leaves the winner's PIN in place (replacing an expired method)", async () => {
    const upn = "expired.race@contoso.com";
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: "Expired Race" });
    expect((await put(upn, "51739264", 2)).statusCode).toBe(201);
    t.clock.advance(3 * day);
    authorization = await bearerFor(t, "UserAuthenticationMethod.ReadWrite.All");
    await race(upn);
  });
});
