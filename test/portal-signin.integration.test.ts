import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";
import { portalClient } from "./helpers/portal-client.ts";

describe.each(dialects)("portal sign-in on %s", (dialect) => {
  let t: TestInstance;
  const addUser = async (upn: string, pin: string, extra: { roles?: string[]; mail?: string } = {}) => {
    const user = await t.services.users.create(cliContext, {
      userPrincipalName: upn,
      displayName: upn.split("@")[0] as string,
      ...extra,
    });
    await t.services.pins.set(cliContext, upn, pin);
    return user;
  };
  const assignSet = (methods: string[], users: string[]) =>
    t.services.portal.portalPolicy.update(cliContext, {
      authSets: [
        { id: "standard", name: "Standard", methods: ["pin"] },
        { id: "staff", name: "Staff", methods, users },
      ],
    });

  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  it("signs in with the PIN, keeps a session, signs out", async () => {
    await addUser("ana@contoso.com", "482915");
    const c = portalClient(t);
    const res = await c.signInWithPin("ana@contoso.com", "482915");
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ next: "done", signedIn: true });
    const session = await c.get("/portal/api/session");
    expect(session.body.user.userPrincipalName).toBe("ana@contoso.com");
    expect((await c.post("/portal/api/signout")).body.result).toBe("signedOut");
    expect((await c.get("/portal/api/session")).statusCode).toBe(401);
  });

  it("answers an unknown user exactly like a known one", async () => {
    const known = await portalClient(t).post("/portal/api/signin/start", {
      userPrincipalName: "ana@contoso.com",
    });
    const unknown = await portalClient(t).post("/portal/api/signin/start", {
      userPrincipalName: "nobody@contoso.com",
    });
    expect({ ...unknown.body, userPrincipalName: "x" }).toEqual({ ...known.body, userPrincipalName: "x" });
    const c = portalClient(t);
    const wrong = await c.signInWithPin("nobody@contoso.com", "482915");
    const c2 = portalClient(t);
    const wrongKnown = await c2.signInWithPin("ana@contoso.com", "111119");
    expect(wrong.statusCode).toBe(wrongKnown.statusCode);
    expect(wrong.body.error.code).toBe(wrongKnown.body.error.code);
  });

  it("asks for every method of the set, one after another, each with its own counter", async () => {
    const bo = await addUser("bo@contoso.com", "582014");
    await t.services.portal.methods.enrolRfid(cliContext, bo, "04A1B2C3D4");
    const { secret, methodId } = await t.services.portal.methods.beginTotp(cliContext, bo);
    await t.services.portal.methods.confirmTotp(
      cliContext,
      bo,
      methodId,
      await generate({ secret, epoch: Math.floor(t.clock.now() / 1000) }),
    );
    t.clock.advance(30_000);
    await assignSet(["pin", "rfid", "totp"], [bo.id]);

    const c = portalClient(t);
    const start = await c.post("/portal/api/signin/start", { userPrincipalName: "bo@contoso.com" });
    expect(start.body.steps.map((s: { type: string }) => s.type)).toEqual(["pin", "rfid", "totp"]);
    expect((await c.post("/portal/api/signin/rfid", { cardNumber: "04A1B2C3D4" })).body.error.code).toBe(
      "signInStepNotExpected",
    );
    expect((await c.post("/portal/api/signin/pin", { pin: "582014" })).body.next).toBe("rfid");
    const wrongBadge = await c.post("/portal/api/signin/rfid", { cardNumber: "FFFF0000" });
    expect(wrongBadge.statusCode).toBe(401);
    expect(wrongBadge.body.error).toMatchObject({ code: "methodCheckFailed", attemptsRemaining: 9 });
    expect(
      (await c.post("/portal/api/signin/rfid", { cardNumber: "04a1b2c3d4".toUpperCase() })).body.next,
    ).toBe("totp");
    const code = await generate({ secret, epoch: Math.floor(t.clock.now() / 1000) });
    const done = await c.post("/portal/api/signin/totp", { code });
    expect(done.body).toMatchObject({ next: "done", signedIn: true });

    // The same TOTP code is never accepted twice.
    const again = portalClient(t);
    await again.post("/portal/api/signin/start", { userPrincipalName: "bo@contoso.com" });
    await again.post("/portal/api/signin/pin", { pin: "582014" });
    await again.post("/portal/api/signin/rfid", { cardNumber: "04A1B2C3D4" });
    expect((await again.post("/portal/api/signin/totp", { code })).body.error.code).toBe("methodCheckFailed");
  });

  it("guides a user who lacks a method to enrol it, or says whom to ask", async () => {
    const cy = await addUser("cy@contoso.com", "730164");
    await assignSet(["pin", "totp"], [cy.id]);
    const c = portalClient(t);
    const afterPin = await c.signInWithPin("cy@contoso.com", "730164");
    expect(afterPin.body).toMatchObject({ next: "enrol", method: "totp" });
    expect(afterPin.body.message).toContain("authenticator app code");
    const begin = await c.post("/portal/api/signin/enrol/totp/start");
    expect(begin.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(begin.body.qrSvg).toContain("<svg");
    const code = await generate({ secret: begin.body.secret, epoch: Math.floor(t.clock.now() / 1000) });
    const done = await c.post("/portal/api/signin/enrol/totp/confirm", {
      methodId: begin.body.methodId,
      code,
    });
    expect(done.body).toMatchObject({ signedIn: true });

    await t.services.portal.portalPolicy.update(cliContext, {
      enrolDuringSignIn: false,
      helpdeskContact: "the IT desk on 0800 123 456",
    });
    const dee = await addUser("dee@contoso.com", "620481");
    await assignSet(["pin", "rfid"], [dee.id]);
    const blocked = await portalClient(t).signInWithPin("dee@contoso.com", "620481");
    expect(blocked.body).toMatchObject({ next: "blocked", method: "rfid" });
    expect(blocked.body.message).toContain("0800 123 456");
    await t.services.portal.portalPolicy.update(cliContext, { enrolDuringSignIn: true });
  });

  it("takes a user who must change their PIN straight to the change step", async () => {
    await addUser("eve@contoso.com", "391746");
    await t.services.pins.set(cliContext, "eve@contoso.com", "604937", { action: "pin.reset" });
    const c = portalClient(t);
    const res = await c.signInWithPin("eve@contoso.com", "604937");
    expect(res.body).toMatchObject({ next: "changePin", reason: "adminReset" });
    expect(
      (await c.post("/portal/api/signin/change-pin", { newPin: "817263", confirmPin: "817264" })).body.error
        .code,
    ).toBe("pinMismatch");
    expect(
      (await c.post("/portal/api/signin/change-pin", { newPin: "1234", confirmPin: "1234" })).body.error.code,
    ).toBe("pinTooShort");
    const done = await c.post("/portal/api/signin/change-pin", { newPin: "817263", confirmPin: "817263" });
    expect(done.body).toMatchObject({ signedIn: true, message: "PIN changed." });
  });

  it("explains a PIN rules change in plain words at the next sign-in and lets the user set a compliant PIN (seed 000)", async () => {
    await addUser("ola@contoso.com", "739154");
    t.clock.set("2026-05-25T09:00:00Z");
    await t.services.policies.update(cliContext, { minLength: 8 });
    try {
      const c = portalClient(t);
      const res = await c.signInWithPin("ola@contoso.com", "739154");
      expect(res.body).toMatchObject({ next: "changePin", reason: "policyChange" });
      expect(res.body.message).toContain("rules changed on 25 May");
      expect(res.body.message).toContain("at least 8");
      const done = await c.post("/portal/api/signin/change-pin", {
        newPin: "73915482",
        confirmPin: "73915482",
      });
      expect(done.body).toMatchObject({ signedIn: true });
    } finally {
      await t.services.policies.update(cliContext, { minLength: 6 });
    }
  });

  it("protects self-service with CSRF, changes the PIN, refuses removing the last method of the set", async () => {
    const fay = await addUser("fay@contoso.com", "274819");
    await t.services.portal.methods.enrolRfid(cliContext, fay, "CARD7777");
    await assignSet(["pin", "rfid"], [fay.id]);
    const c = portalClient(t);
    await c.signInWithPin("fay@contoso.com", "274819");
    await c.post("/portal/api/signin/rfid", { cardNumber: "CARD7777" });
    await c.get("/portal/api/session");
    const methods = await c.get("/portal/api/me/methods");
    expect(methods.body.authenticationSet.name).toBe("Staff");
    const badge = methods.body.methods.find((m: { type: string }) => m.type === "rfid");
    expect((await c.delete(`/portal/api/me/methods/${badge.id}`)).body.error.code).toBe("lastMethodOfSet");

    c.dropCsrf();
    expect(
      (await c.post("/portal/api/me/pin", { newPin: "847261", confirmPin: "847261" })).body.error.code,
    ).toBe("csrfCheckFailed");
    await c.get("/portal/api/session");
    const changed = await c.post("/portal/api/me/pin", { newPin: "847261", confirmPin: "847261" });
    expect(changed.body).toMatchObject({ result: "pinChanged" });
    expect((await t.services.pins.verify(cliContext, "fay@contoso.com", "847261")).result).toBe("success");
  });

  it("ends idle sessions", async () => {
    await addUser("gus@contoso.com", "519372");
    const c = portalClient(t);
    await c.signInWithPin("gus@contoso.com", "519372");
    t.clock.advance(14 * 60_000);
    expect((await c.get("/portal/api/session")).statusCode).toBe(200);
    t.clock.advance(16 * 60_000);
    expect((await c.get("/portal/api/session")).statusCode).toBe(401);
  });

  it("approves a sign-in from another signed-in session with number matching", async () => {
    const hal = await addUser("hal@contoso.com", "638154");
    const phone = portalClient(t);
    await phone.signInWithPin("hal@contoso.com", "638154");
    await assignSet(["pin", "push"], [hal.id]);
    const desk = portalClient(t);
    expect((await desk.signInWithPin("hal@contoso.com", "638154")).body.next).toBe("push");
    const first = await desk.post("/portal/api/signin/push/start");
    const pending = await phone.get("/portal/api/me/push-requests");
    const request = pending.body.requests[0];
    expect(request.choices).toContain(first.body.number);
    await phone.get("/portal/api/session");
    const wrongNumber = request.choices.find((n: number) => n !== first.body.number);
    expect(
      (await phone.post(`/portal/api/me/push-requests/${request.id}`, { approve: true, number: wrongNumber }))
        .body.status,
    ).toBe("denied");
    expect((await desk.post("/portal/api/signin/push/poll")).body.error.code).toBe("pushDenied");

    const second = await desk.post("/portal/api/signin/push/start");
    const again = (await phone.get("/portal/api/me/push-requests")).body.requests[0];
    await phone.post(`/portal/api/me/push-requests/${again.id}`, {
      approve: true,
      number: second.body.number,
    });
    const polled = await desk.post("/portal/api/signin/push/poll");
    expect(polled.body).toMatchObject({ status: "approved", signedIn: true });
  });
});
