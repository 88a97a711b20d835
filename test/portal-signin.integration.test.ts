/**
 * Portal sign-in with an authentication set, over the portal API: every method in turn, nothing about
 * the account shown before the PIN, single-use steps (a replayed cookie skips nothing), sessions with
 * idle and absolute timeouts and safe cookies, and the self-service that needs a full sign-in.
 */
import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, giveBadge, type TestInstance } from "./helpers/instance.ts";
import { portalClient } from "./helpers/portal-client.ts";
import { startSmtp } from "./helpers/portal-delivery.ts";

const MIN = 60_000;

describe.each(dialects)("portal sign-in on %s", (dialect) => {
  let t: TestInstance;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
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
  const totpUser = async (upn: string, pin: string) => {
    const user = await addUser(upn, pin);
    const { secret, methodId } = await t.services.portal.methods.beginTotp(cliContext, user);
    await t.services.portal.methods.confirmTotp(
      cliContext,
      user,
      methodId,
      await generate({ secret, epoch: Math.floor(t.clock.now() / 1000) }),
    );
    t.clock.advance(30_000);
    return { user, secret };
  };
  const totpAt = (secret: string, offsetSeconds = 0) =>
    generate({ secret, epoch: Math.floor(t.clock.now() / 1000) + offsetSeconds });

  beforeAll(async () => {
    smtp = await startSmtp();
    t = await createTestInstance(dialect, { env: smtp.env });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

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

  it("a badge holder's PIN is checked against the badge rules at every step, and told which one it breaks", async () => {
    const upn = "badge.holder@contoso.com";
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: "Badge Holder" });
    await giveBadge(t, upn);
    const c = portalClient(t);
    // The help desk's starting PIN must be changed: the step says to use the badge's rules.
    const first = await c.signInWithPin(upn, "48291573");
    expect(first.body).toMatchObject({ next: "changePin", pinProfile: "qr" });
    const done = await c.post("/portal/api/signin/change-pin", {
      newPin: "73016482",
      confirmPin: "73016482",
    });
    expect(done.body).toMatchObject({ signedIn: true });
    expect((await c.get("/portal/api/session")).body.user.pinProfile).toBe("qr");
    await c.post("/portal/api/signout");
    // A plain PIN user's steps use the PIN policy's.
    await addUser("plain.pin@contoso.com", "482915");
    const plain = portalClient(t);
    await plain.signInWithPin("plain.pin@contoso.com", "482915");
    expect((await plain.get("/portal/api/session")).body.user.pinProfile).toBe("standard");

    // The badge PIN length goes up: the reason names the badge rule the PIN now breaks.
    await t.services.policies.update(cliContext, { qr: { pinLength: 10 } });
    try {
      const again = await portalClient(t).signInWithPin(upn, "73016482");
      expect(again.body).toMatchObject({ next: "changePin", reason: "policyChange", pinProfile: "qr" });
      expect(again.body.message).not.toContain("no longer fits them.");
      expect(again.body.message).toMatch(/10/);
    } finally {
      await t.services.policies.reset(cliContext);
    }
  });

  it("a signed-in user gets a delegated Graph token and updates their own badge PIN through /me", async () => {
    const upn = "graph.self@contoso.com";
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: "Graph Self" });
    await giveBadge(t, upn);
    const c = portalClient(t);
    expect((await c.post("/portal/api/me/graph-token")).statusCode).toBe(401);
    await c.signInWithPin(upn, "48291573");
    await c.post("/portal/api/signin/change-pin", { newPin: "73016482", confirmPin: "73016482" });
    const issued = await c.post("/portal/api/me/graph-token");
    expect(issued.statusCode, JSON.stringify(issued.body)).toBe(200);
    expect(issued.body).toMatchObject({ token_type: "Bearer", expires_in: expect.any(Number) });
    const authorization = `Bearer ${issued.body.access_token}`;
    const self = await t.app.inject({ method: "GET", url: "/v1.0/me", headers: { authorization } });
    expect(self.statusCode).toBe(200);
    expect(self.json().userPrincipalName).toBe(upn);
    const updated = await t.app.inject({
      method: "POST",
      url: "/v1.0/me/authentication/qrCodePinMethod/pin/updatePin",
      headers: { authorization },
      payload: { currentPin: "73016482", newPin: "51739264" },
    });
    expect(updated.statusCode, updated.body).toBe(204);
    expect((await t.services.pins.verify(cliContext, upn, "51739264")).result).toBe("success");
    // Without a directory role it reaches only its own user.
    const other = await addUser("graph.other@contoso.com", "482915");
    const others = await t.app.inject({
      method: "GET",
      url: `/v1.0/users/${other.id}`,
      headers: { authorization },
    });
    expect(others.statusCode).toBe(403);
  });

  it("shows every user name the same first step, and the rest of the set only after the PIN", async () => {
    const { user } = await totpUser("zed@contoso.com", "582014");
    await t.services.portal.methods.enrolRfid(cliContext, user, "0A0B0C0D");
    await assignSet(["pin", "rfid", "totp"], [user.id]);
    const first = (upn: string) =>
      portalClient(t).post("/portal/api/signin/start", { userPrincipalName: upn });
    const pinOnly = {
      steps: [{ type: "pin", label: "PIN", done: false }],
      next: "pin",
      laterStepsHidden: true,
    };
    // A user with a three-method set, a PIN-only user and a name nobody has: the same answer.
    expect((await first("Zed@Contoso.com")).body).toEqual({
      userPrincipalName: "Zed@Contoso.com",
      ...pinOnly,
    });
    expect((await first("ana@contoso.com")).body).toEqual({
      userPrincipalName: "ana@contoso.com",
      ...pinOnly,
    });
    expect((await first("nobody@contoso.com")).body).toEqual({
      userPrincipalName: "nobody@contoso.com",
      ...pinOnly,
    });

    const c = portalClient(t);
    await c.post("/portal/api/signin/start", { userPrincipalName: "Zed@Contoso.com" });
    const wrong = await c.post("/portal/api/signin/pin", { pin: "111119" });
    const ghost = await portalClient(t).signInWithPin("nobody@contoso.com", "111119");
    expect(wrong.statusCode).toBe(401);
    expect({ ...wrong.body.error, requestId: "" }).toEqual({ ...ghost.body.error, requestId: "" });
    const afterPin = await c.post("/portal/api/signin/pin", { pin: "582014" });
    expect(afterPin.body).toEqual({
      userPrincipalName: "zed@contoso.com",
      steps: [
        { type: "pin", label: "PIN", done: true },
        { type: "rfid", label: "Badge (RFID card)", done: false },
        { type: "totp", label: "Authenticator app code", done: false },
      ],
      next: "rfid",
    });
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("asks for every method of the set, one after another, each with its own counter", async () => {
    const { user: bo, secret } = await totpUser("bo@contoso.com", "582014");
    await t.services.portal.methods.enrolRfid(cliContext, bo, "04A1B2C3D4");
    await assignSet(["pin", "rfid", "totp"], [bo.id]);

    const c = portalClient(t);
    await c.post("/portal/api/signin/start", { userPrincipalName: "bo@contoso.com" });
    expect((await c.post("/portal/api/signin/rfid", { cardNumber: "04A1B2C3D4" })).body.error.code).toBe(
      "signInStepNotExpected",
    );
    expect((await c.post("/portal/api/signin/pin", { pin: "582014" })).body.next).toBe("rfid");
    const wrongBadge = await c.post("/portal/api/signin/rfid", { cardNumber: "FFFF0000" });
    expect(wrongBadge.statusCode).toBe(401);
    expect(wrongBadge.body.error).toMatchObject({ code: "methodCheckFailed", attemptsRemaining: 9 });
    expect((await c.post("/portal/api/signin/rfid", { cardNumber: "04A1B2C3D4" })).body.next).toBe("totp");
    const code = await totpAt(secret);
    const done = await c.post("/portal/api/signin/totp", { code });
    expect(done.body).toMatchObject({ next: "done", signedIn: true });

    // The same TOTP code is never accepted twice.
    const again = portalClient(t);
    await again.post("/portal/api/signin/start", { userPrincipalName: "bo@contoso.com" });
    await again.post("/portal/api/signin/pin", { pin: "582014" });
    await again.post("/portal/api/signin/rfid", { cardNumber: "04A1B2C3D4" });
    expect((await again.post("/portal/api/signin/totp", { code })).body.error.code).toBe("methodCheckFailed");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("accepts an authenticator code one step early or late, not two, and never the same step twice", async () => {
    const { user, secret } = await totpUser("tia@contoso.com", "620481");
    const check = (code: string) =>
      t.services.portal.methods.verifyTotp(cliContext, user, code).then(
        () => "ok",
        (e: { code: string }) => e.code,
      );
    t.clock.advance(5 * MIN);
    expect(await check(await totpAt(secret, -60))).toBe("methodCheckFailed");
    expect(await check(await totpAt(secret, 60))).toBe("methodCheckFailed");
    expect(await check(await totpAt(secret, -30))).toBe("ok");
    t.clock.advance(2 * MIN);
    // A code for the next step is accepted; after it, the current step's code is an older step: refused.
    expect(await check(await totpAt(secret, 30))).toBe("ok");
    expect(await check(await totpAt(secret, 0))).toBe("methodCheckFailed");
  });

  it("a replayed sign-in cookie cannot skip a method or enrol a second badge", async () => {
    const { user, secret } = await totpUser("rex@contoso.com", "730164");
    await assignSet(["pin", "totp", "rfid"], [user.id]);
    const c = portalClient(t);
    await c.signInWithPin("rex@contoso.com", "730164");
    const afterTotp = await c.post("/portal/api/signin/totp", { code: await totpAt(secret) });
    expect(afterTotp.body).toMatchObject({ next: "enrol", method: "rfid" });
    const saved = c.cookies.get("pindesk_signin") as string;
    const enrolled = await c.post("/portal/api/signin/enrol/rfid", { cardNumber: "CAFE0001" });
    expect(enrolled.body).toMatchObject({ signedIn: true });

    // The cookie from before the badge: its step is spent.
    const replay = portalClient(t);
    replay.setCookie("pindesk_signin", saved);
    const second = await replay.post("/portal/api/signin/enrol/rfid", { cardNumber: "CAFE0002" });
    expect(second.statusCode).toBe(409);
    expect(second.body.error.code).toBe("signInStepUsed");
    expect((await replay.get("/portal/api/signin/state")).body.error.code).toBe("signInStepUsed");
    const badges = (await t.services.repos.authMethods.listFor(user.id)).filter((m) => m.type === "rfid");
    expect(badges).toHaveLength(1);

    // A fresh sign-in of a user who now has a badge must present it: enrolment is not offered.
    const fresh = portalClient(t);
    await fresh.signInWithPin("rex@contoso.com", "730164");
    t.clock.advance(30_000);
    expect((await fresh.post("/portal/api/signin/totp", { code: await totpAt(secret) })).body.next).toBe(
      "rfid",
    );
    expect(
      (await fresh.post("/portal/api/signin/enrol/rfid", { cardNumber: "CAFE0003" })).body.error.code,
    ).toBe("signInStepNotExpected");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("every step spends the state it came with: an older cookie cannot repeat a step", async () => {
    const lee = await addUser("lee@contoso.com", "604918");
    await t.services.portal.methods.enrolRfid(cliContext, lee, "FACE0001");
    await t.services.portal.methods.enrolRfid(cliContext, lee, "FACE0002");
    await assignSet(["pin", "rfid", "totp"], [lee.id]);
    const c = portalClient(t);
    await c.signInWithPin("lee@contoso.com", "604918");
    const afterPin = c.cookies.get("pindesk_signin") as string;
    expect((await c.post("/portal/api/signin/rfid", { cardNumber: "FACE0001" })).statusCode).toBe(200);
    const replay = portalClient(t);
    replay.setCookie("pindesk_signin", afterPin);
    const again = await replay.post("/portal/api/signin/rfid", { cardNumber: "FACE0002" });
    expect(again.statusCode).toBe(409);
    expect(again.body.error.code).toBe("signInStepUsed");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("re-checks at enrolment that the method is still missing", async () => {
    const { user, secret } = await totpUser("kim@contoso.com", "730165");
    await assignSet(["pin", "totp", "rfid"], [user.id]);
    const c = portalClient(t);
    await c.signInWithPin("kim@contoso.com", "730165");
    expect((await c.post("/portal/api/signin/totp", { code: await totpAt(secret) })).body.next).toBe("enrol");
    // Meanwhile the badge is registered another way (the help desk, another tab).
    await t.services.portal.methods.enrolRfid(cliContext, user, "BEEF0001");
    const res = await c.post("/portal/api/signin/enrol/rfid", { cardNumber: "BEEF0002" });
    expect(res.statusCode).toBe(409);
    expect(res.body.error).toMatchObject({ code: "methodAlreadyEnrolled", method: "rfid" });
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("one step, one use: of two requests with the same cookie only one moves on", async () => {
    await addUser("duo@contoso.com", "471958");
    const a = portalClient(t);
    await a.post("/portal/api/signin/start", { userPrincipalName: "duo@contoso.com" });
    const b = portalClient(t);
    b.setCookie("pindesk_signin", a.cookies.get("pindesk_signin") as string);
    const results = await Promise.all([
      a.post("/portal/api/signin/pin", { pin: "471958" }),
      b.post("/portal/api/signin/pin", { pin: "471958" }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(results.filter((r) => r.body.signedIn)).toHaveLength(1);
  });

  it("guides a user who lacks a method to enrol it, or says whom to ask", async () => {
    const cy = await addUser("cy@contoso.com", "730164");
    await assignSet(["pin", "totp"], [cy.id]);
    const c = portalClient(t);
    const afterPin = await c.signInWithPin("cy@contoso.com", "730164");
    expect(afterPin.body).toMatchObject({ next: "enrol", method: "totp" });
    expect(afterPin.body.message).toBe(
      "Your sign-in also needs a code from your authenticator app. You have not set it up yet — do it now.",
    );
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
    expect(blocked.body).toMatchObject({
      next: "blocked",
      method: "rfid",
      message:
        "Your sign-in needs your badge (RFID card), which is not set up for you. Ask the IT desk on 0800 123 456 to set it up with you.",
    });
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("a set with a code by email, for a user with no email address: blocked, with whom to ask — never a dead end", async () => {
    const eli = await addUser("eli@contoso.com", "518204");
    await t.services.portal.portalPolicy.update(cliContext, {
      helpdeskContact: "the IT desk on 0800 123 456",
    });
    await assignSet(["pin", "email"], [eli.id]);
    const c = portalClient(t);
    const res = await c.signInWithPin("eli@contoso.com", "518204");
    expect(res.body).toMatchObject({
      next: "blocked",
      method: "email",
      message:
        "Your sign-in needs a code sent to your email address, and no email address is on file for you. Ask the IT desk on 0800 123 456 to add your email address to your account, then sign in again.",
    });
    // No sign-in address can be added by someone who only knows the PIN.
    const enrol = await c.post("/portal/api/signin/enrol/email", { address: "attacker@example.com" });
    expect(enrol.statusCode).toBe(404);
    expect(enrol.body.error.code).toBe("notFound");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("push approval: only sessions that could answer count; without one, says so and whom to ask", async () => {
    const hal = await addUser("hal@contoso.com", "638154");
    await t.services.portal.portalPolicy.update(cliContext, { helpdeskContact: "the IT desk" });
    const phone = portalClient(t);
    await phone.signInWithPin("hal@contoso.com", "638154");
    await assignSet(["pin", "push"], [hal.id]);
    // The other session has been idle past the idle timeout: it could not approve anything.
    t.clock.advance(16 * MIN);
    const desk = portalClient(t);
    const blocked = await desk.signInWithPin("hal@contoso.com", "638154");
    expect(blocked.body).toMatchObject({ next: "blocked", method: "push" });
    expect(blocked.body.message).toContain("Approval cannot be your first sign-in");
    expect(blocked.body.message).toContain("ask the IT desk to change your sign-in methods");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("takes a user who must change their PIN straight to the change step, and emails a PIN-changed notice", async () => {
    await addUser("eve@contoso.com", "391746", { mail: "eve@outlook.com" });
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
    // A control character is the PIN policy's to explain, with its own reason.
    expect(
      (await c.post("/portal/api/signin/change-pin", { newPin: "8172\t63", confirmPin: "8172\t63" })).body
        .error.code,
    ).toBe("pinHasInvalidCharacter");
    const done = await c.post("/portal/api/signin/change-pin", { newPin: "817263", confirmPin: "817263" });
    expect(done.body).toMatchObject({ signedIn: true, message: "PIN changed." });
    await expect
      .poll(() => smtp.messages().find((m) => m.to.includes("eve@outlook.com"))?.subject)
      .toBe("Your PinDesk PIN was changed");
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

  it("protects self-service with CSRF, changes the PIN with an email notice, refuses removing the last method of the set", async () => {
    const fay = await addUser("fay@contoso.com", "274819", { mail: "fay@outlook.com" });
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
    await expect
      .poll(() => smtp.messages().find((m) => m.to.includes("fay@outlook.com"))?.text ?? "")
      .toContain("Your PIN was changed from the self-service portal");
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("two removals at once never leave the set without its method", async () => {
    const gil = await addUser("gil@contoso.com", "274810");
    await t.services.portal.methods.enrolRfid(cliContext, gil, "CARD0001");
    await t.services.portal.methods.enrolRfid(cliContext, gil, "CARD0002");
    await assignSet(["pin", "rfid"], [gil.id]);
    const [a, b] = (await t.services.repos.authMethods.listFor(gil.id)).filter((m) => m.type === "rfid");
    const outcomes = await Promise.allSettled([
      t.services.portal.methods.remove(cliContext, gil, a?.id as string),
      t.services.portal.methods.remove(cliContext, gil, b?.id as string),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    expect(outcomes.find((o) => o.status === "rejected")).toMatchObject({
      reason: { code: "lastMethodOfSet" },
    });
    expect(
      (await t.services.repos.authMethods.listFor(gil.id)).filter((m) => m.type === "rfid"),
    ).toHaveLength(1);
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("ends idle sessions, and active ones at the absolute timeout", async () => {
    await addUser("gus@contoso.com", "519372");
    const c = portalClient(t);
    await c.signInWithPin("gus@contoso.com", "519372");
    t.clock.advance(14 * MIN);
    expect((await c.get("/portal/api/session")).statusCode).toBe(200);
    t.clock.advance(16 * MIN);
    expect((await c.get("/portal/api/session")).statusCode).toBe(401);

    const busy = portalClient(t);
    await busy.signInWithPin("gus@contoso.com", "519372");
    // Used every 10 minutes, never idle: still over after 8 hours (the policy's absolute limit).
    for (let elapsed = 0; elapsed < 8 * 60 - 10; elapsed += 10) {
      t.clock.advance(10 * MIN);
      expect((await busy.get("/portal/api/session")).statusCode).toBe(200);
    }
    t.clock.advance(10 * MIN);
    const over = await busy.get("/portal/api/session");
    expect(over.statusCode).toBe(401);
    expect(over.body.error.code).toBe("notSignedIn");
  });

  it("approves a sign-in from another signed-in session with number matching", async () => {
    const ivy = await addUser("ivy@contoso.com", "638155");
    const phone = portalClient(t);
    await phone.signInWithPin("ivy@contoso.com", "638155");
    await assignSet(["pin", "push"], [ivy.id]);
    const desk = portalClient(t);
    expect((await desk.signInWithPin("ivy@contoso.com", "638155")).body.next).toBe("push");
    const first = await desk.post("/portal/api/signin/push/start");
    const pending = await phone.get("/portal/api/me/push-requests");
    const request = pending.body.requests[0];
    expect(request.choices).toContain(first.body.number);
    expect(request.choices).toHaveLength(3);
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
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("answers an unknown portal API address with a JSON 404, not the page", async () => {
    const res = await t.app.inject({ method: "GET", url: "/portal/api/no-such-thing" });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toContain("application/json");
    expect(res.json().error).toMatchObject({ code: "notFound", path: "/portal/api/no-such-thing" });
  });
});

describe("portal cookies", () => {
  const cookieOf = (headers: string[], name: string) => headers.find((h) => h.startsWith(`${name}=`)) ?? "";

  for (const [publicUrl, secure] of [
    ["https://pindesk.contoso.com", true],
    ["http://localhost:8080", false],
  ] as const) {
    it(`are HttpOnly and SameSite=Strict, ${secure ? "and Secure behind https" : "not Secure on plain http"} (${publicUrl})`, async () => {
      const t = await createTestInstance("sqlite", { env: { PINDESK_PUBLIC_URL: publicUrl } });
      try {
        await t.services.users.create(cliContext, {
          userPrincipalName: "ana@contoso.com",
          displayName: "Ana",
        });
        await t.services.pins.set(cliContext, "ana@contoso.com", "482915");
        const c = portalClient(t);
        const start = await c.post("/portal/api/signin/start", { userPrincipalName: "ana@contoso.com" });
        const done = await c.post("/portal/api/signin/pin", { pin: "482915" });
        for (const cookie of [
          cookieOf(start.setCookies, "pindesk_signin"),
          cookieOf(done.setCookies, "pindesk_session"),
        ]) {
          expect(cookie).not.toBe("");
          expect(cookie).toContain("HttpOnly");
          expect(cookie).toContain("SameSite=Strict");
          expect(cookie).toContain("Path=/");
          expect(cookie.includes("Secure")).toBe(secure);
        }
      } finally {
        await t.close();
      }
    });
  }
});
