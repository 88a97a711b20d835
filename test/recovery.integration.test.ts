/**
 * Forgot PIN and Emergency Access over the portal API, with real SMTP and a real SMS webhook: codes
 * arrive, wrong ones count, a finished recovery unlocks everything, limits hold, and an unknown user
 * name gets the same answers, in the same formats, after the same argon2id work as a real one.
 */

import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { humanTime } from "../src/domain/time-words.ts";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";
import { portalClient } from "./helpers/portal-client.ts";
import { countHashing, startSmsWebhook, startSmtp } from "./helpers/portal-delivery.ts";

const codeIn = (text: string) => /code is (\d{6,8})/.exec(text)?.[1];
const CHANNEL_ID = /^ch-[0-9a-f]{16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FLOW_TOKEN = /^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MIN = 60_000;

/**
 * The format of a JSON value with the content taken out: every run of letters/digits becomes "w",
 * so "m•••z@outlook.com" and "g•••t@contoso.com" agree but "•••" or a number where a string was do not.
 */
const skeleton = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(skeleton);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== "requestId")
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, skeleton(x)]),
    );
  if (typeof v === "string") return v.replace(/[A-Za-z0-9_-]+/g, "w");
  return typeof v === "number" ? "number" : v;
};

describe.each(dialects)("Forgot PIN and Emergency Access on %s", (dialect) => {
  let t: TestInstance;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sms: Awaited<ReturnType<typeof startSmsWebhook>>;
  const MAZ = "maz@contoso.com";
  const MAZ_MAIL = "mariaz@outlook.com";
  beforeAll(async () => {
    smtp = await startSmtp();
    sms = await startSmsWebhook();
    t = await createTestInstance(dialect, {
      env: {
        ...smtp.env,
        PINDESK_SMS_WEBHOOK_URL: sms.url,
        PINDESK_SMS_WEBHOOK_AUTHORIZATION: "Bearer sms-secret-123",
        PINDESK_SMS_WEBHOOK_BODY: '{"to":"{{to}}","text":"{{text}}","from":"PinDesk"}',
      },
    });
    await t.services.users.create(cliContext, {
      userPrincipalName: MAZ,
      displayName: "Maz",
      mail: MAZ_MAIL,
      mobilePhone: "+44 7700 900123",
    });
    await t.services.pins.set(cliContext, MAZ, "482915");
    // Every request here comes from one address; the per-address limit has its own test.
    await t.services.portal.portalPolicy.update(cliContext, { recovery: { perIpPerHour: 10_000 } });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
    await sms?.close();
  });

  it("sends a real code (email, or the phone at once instead), sets a new PIN, lifts the PIN lock and every method lock", async () => {
    await t.services.policies.update(cliContext, { lockout: { mode: "permanent" } });
    await t.services.portal.portalPolicy.update(cliContext, { emergencyAccess: { enabled: true } });
    const user = await t.services.users.get(MAZ);
    await t.services.portal.recovery.registerAnswers(cliContext, user, {
      q1: "St Mary's",
      q2: "Leeds",
      q3: "Raleigh",
      q4: "Ann",
      q5: "High Street",
    });
    for (let i = 0; i < 10; i++)
      await t.services.pins.verify(cliContext, MAZ, "000013").catch(() => undefined);
    // Ten wrong Emergency Access answers lock it for good (permanent mode)...
    for (let i = 0; i < 10; i++) {
      const c = portalClient(t, { ip: `10.0.0.${i}` });
      const start = await c.post("/portal/api/emergency/start", { userPrincipalName: MAZ });
      await c.post("/portal/api/emergency/answer", {
        emergencyToken: start.body.emergencyToken,
        answers: { q1: "x", q2: "x", q3: "x", q4: "x", q5: "x" },
      });
    }
    expect((await t.services.pins.status(MAZ)).state).toBe("Account Lockout");
    const stuck = await t.services.admin.userDetail(cliContext, user.id);
    expect(stuck.methodLockouts).toEqual([
      {
        kind: "emergency",
        label: "Emergency Access (security questions)",
        failedAttempts: 10,
        lockedUntil: null,
        atThreshold: false,
      },
    ]);
    expect(stuck.whyStuck.summary).toContain(
      "Emergency Access (security questions) is locked after too many wrong attempts until an administrator unblocks it.",
    );
    expect(stuck.whyStuck.nextStep).toContain(
      "Unblock PIN also unblocks Emergency Access (security questions).",
    );

    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: MAZ });
    expect(start.body.recoveryToken).toMatch(FLOW_TOKEN);
    // The token no longer carries the user's id (nor anything else readable).
    expect(start.body.recoveryToken).not.toContain(user.id);
    expect(start.body.channels).toEqual([
      { id: expect.stringMatching(CHANNEL_ID), channel: "email", masked: "m•••z@outlook.com" },
      { id: expect.stringMatching(CHANNEL_ID), channel: "sms", masked: "+44 ••• ••• 123" },
    ]);
    const [mail, phone] = start.body.channels as { id: string }[];
    const token = start.body.recoveryToken as string;
    const sent = await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: mail?.id });
    expect(sent.statusCode).toBe(200);
    expect(sent.body).toEqual({
      sentAt: "2026-05-25T09:00:00.000Z",
      to: "m•••z@outlook.com",
      channel: "email",
      messageId: expect.stringMatching(UUID),
      expiresAt: "2026-05-25T09:10:00.000Z",
      resendAvailableAt: "2026-05-25T09:01:00.000Z",
    });
    const code = await smtp.codeFor(MAZ_MAIL);
    expect(code).toMatch(/^\d{8}$/);
    await expect
      .poll(async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body)
      .toEqual({ status: "accepted", detail: null, attempt: 1, nextAttemptAt: null });

    // The same channel again: refused during the cooldown, with the time it becomes possible.
    const early = await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: mail?.id });
    expect(early.statusCode).toBe(429);
    expect(early.body.error).toMatchObject({
      code: "resendTooSoon",
      resendAvailableAt: sent.body.resendAvailableAt,
    });
    // "Use your phone instead" works straight away (still counted in the hourly cap).
    t.clock.advance(1000);
    const byPhone = await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: phone?.id });
    expect(byPhone.statusCode).toBe(200);
    expect(byPhone.body).toMatchObject({ to: "+44 ••• ••• 123", channel: "sms" });
    // The SMS provider gets the number in E.164, the configured Authorization header, and the text.
    const smsCode = await sms.codeFor("+447700900123");
    const call = sms.calls().at(-1);
    expect(call?.headers.authorization).toBe("Bearer sms-secret-123");
    expect(call?.json).toEqual({
      to: "+447700900123",
      text: `Your PinDesk recovery code is ${smsCode}. It is valid for 10 minutes. If you did not ask for it, ignore this message and tell your help desk.`,
      from: "PinDesk",
    });

    // The newest code is the one that counts.
    const wrong = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code: "00000000" });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: "recoveryCodeInvalid", attemptsRemaining: 4 });
    const ok = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code: smsCode });
    // No badge: the page checks the new PIN against the PIN policy's rules.
    expect(ok.body).toEqual({ resetToken: expect.any(String), pinProfile: "standard" });
    // The flow is spent: the same code cannot be checked again.
    const again = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code: smsCode });
    expect(again.body.error.code).toBe("recoveryLinkInvalid");
    expect(again.body.error.mitigation).toContain("Start again from Forgot PIN");

    const weak = await c.post("/portal/api/recovery/pin", {
      resetToken: ok.body.resetToken,
      newPin: "123456",
      confirmPin: "123456",
    });
    expect(weak.body.error.code).toBe("pinHasSequence");
    // A refused PIN does not use up the reset token.
    const done = await c.post("/portal/api/recovery/pin", {
      resetToken: ok.body.resetToken,
      newPin: "739154",
      confirmPin: "739154",
    });
    expect(done.body).toEqual({ result: "pinChanged", message: "PIN changed. Sign in with your new PIN." });
    expect((await t.services.pins.verify(cliContext, MAZ, "739154")).result).toBe("success");
    const after = await t.services.admin.userDetail(cliContext, user.id);
    expect(after.methodLockouts).toEqual([]);
    expect(after.pin.state).toBe("Steady State");
    // Emergency Access works again.
    const ea = portalClient(t);
    const eaStart = await ea.post("/portal/api/emergency/start", { userPrincipalName: MAZ });
    const answers: Record<string, string> = {
      q1: "st mary's",
      q2: "leeds",
      q3: "raleigh",
      q4: "ann",
      q5: "high street",
    };
    const eaOk = await ea.post("/portal/api/emergency/answer", {
      emergencyToken: eaStart.body.emergencyToken,
      answers,
    });
    expect(eaOk.statusCode).toBe(200);
    await expect
      .poll(() =>
        smtp.messages().some((m) => m.subject.includes("PIN was changed") && m.to.includes(MAZ_MAIL)),
      )
      .toBe(true);
    await t.services.policies.update(cliContext, { lockout: { mode: "temporary" } });
  });

  it("an administrator's unblock lifts method locks too and says what it unblocked", async () => {
    const bo = await t.services.users.create(cliContext, {
      userPrincipalName: "bo@contoso.com",
      displayName: "Bo",
    });
    await t.services.pins.set(cliContext, "bo@contoso.com", "582014");
    await t.services.portal.methods.enrolRfid(cliContext, bo, "04A1B2C3D4");
    await expect(t.services.pins.unblock(cliContext, bo.id)).rejects.toMatchObject({ code: "pinNotLocked" });
    for (let i = 0; i < 10; i++)
      await t.services.portal.methods.verifyRfid(cliContext, bo, "FFFF0000").catch(() => undefined);
    await expect(t.services.portal.methods.verifyRfid(cliContext, bo, "04A1B2C3D4")).rejects.toMatchObject({
      code: "methodLocked",
    });
    const result = await t.services.pins.unblock(cliContext, bo.id);
    expect(result.unblocked).toEqual(["Badge (RFID card)"]);
    expect(result.unblockedText).toBe(
      "Unblocked: Badge (RFID card) (the PIN itself was not locked). The user can sign in again with what they already have.",
    );
    await t.services.portal.methods.verifyRfid(cliContext, bo, "04A1B2C3D4");
  });

  it("stops code guessing after the allowed tries", async () => {
    t.clock.advance(61_000);
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: MAZ });
    const token = start.body.recoveryToken;
    const before = smtp.messages().length;
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: start.body.channels[0].id });
    const code = await smtp.codeFor(MAZ_MAIL, before);
    // Over HTTP the per-address rate limit stops a burst early; behind it, the code's own try counter
    // is exact under concurrency: of 40 simultaneous guesses at most 5 are checked.
    const http = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        c.post("/portal/api/recovery/verify", { recoveryToken: token, code: String(10_000_000 + i) }),
      ),
    );
    expect(http.some((g) => g.body.error?.code === "tooManyRequests")).toBe(true);
    const guesses = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        t.services.portal.recovery.verifyCode(cliContext, token, String(20_000_000 + i)),
      ),
    );
    expect(guesses.every((g) => g.status === "rejected")).toBe(true);
    const checks = await t.db.kysely
      .selectFrom("recovery_codes")
      .select("attempts")
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    expect(checks?.attempts).toBe(5);
    // Five tries are spent: even the right code no longer works.
    await expect(t.services.portal.recovery.verifyCode(cliContext, token, code)).rejects.toMatchObject({
      code: "recoveryCodeInvalid",
      details: { attemptsRemaining: 0 },
    });
  });

  it("caps codes per user name per hour, and says when the next one can be sent", async () => {
    t.clock.advance(61 * MIN);
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: MAZ });
    const send = () =>
      c.post("/portal/api/recovery/send", {
        recoveryToken: start.body.recoveryToken,
        channelId: start.body.channels[0].id,
      });
    const firstAt = t.clock.now();
    for (let i = 0; i < 5; i++) {
      expect((await send()).statusCode).toBe(200);
      t.clock.advance(61_000);
    }
    const sixth = await send();
    expect(sixth.statusCode).toBe(429);
    expect(sixth.body.error).toMatchObject({
      code: "recoveryRateLimited",
      retryAt: new Date(firstAt + 60 * MIN).toISOString(),
    });
    t.clock.set(new Date(firstAt + 60 * MIN + 1000).toISOString());
    expect((await send()).statusCode).toBe(200);
  });

  it("Emergency Access: a random few of the registered questions, the PIN-bearing methods to choose from, the new PIN", async () => {
    t.clock.advance(61 * MIN);
    const seen = new Set<string>();
    for (let i = 0; i < 25; i++) {
      // Distinct addresses: the per-minute request limit per address is not what this is about.
      const s = await portalClient(t, { ip: `10.0.1.${i}` }).post("/portal/api/emergency/start", {
        userPrincipalName: MAZ,
      });
      expect(s.body).toMatchObject({ questions: expect.any(Array) });
      expect(s.body.questions).toHaveLength(3);
      for (const q of s.body.questions as { id: string }[]) seen.add(q.id);
    }
    // Five registered, three asked: over many starts every registered question comes up.
    expect([...seen].sort()).toEqual(["q1", "q2", "q3", "q4", "q5"]);

    const c = portalClient(t);
    const start = await c.post("/portal/api/emergency/start", { userPrincipalName: MAZ });
    const ids = (start.body.questions as { id: string }[]).map((q) => q.id);
    const right: Record<string, string> = {
      q1: "ST MARY'S",
      q2: "  Leeds ",
      q3: "raleigh",
      q4: "ann",
      q5: "high street",
    };
    const wrong = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: Object.fromEntries(ids.map((id) => [id, "nope"])),
    });
    expect(wrong.body.error).toMatchObject({ code: "emergencyAnswersWrong", attemptsRemaining: 9 });
    const answered = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: Object.fromEntries(ids.map((id) => [id, right[id] as string])),
    });
    expect(answered.body.methods).toEqual([{ id: "pin", label: "PIN", detail: "The PIN you sign in with." }]);
    const bad = await c.post("/portal/api/emergency/pin", {
      resetToken: answered.body.resetToken,
      newPin: "739154",
      confirmPin: "739154",
      methodId: "qr",
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.body.error.problems).toEqual([{ field: "methodId", message: "must be one of: pin" }]);
    // Seed 001 allows reusing the previous PIN here.
    const done = await c.post("/portal/api/emergency/pin", {
      resetToken: answered.body.resetToken,
      newPin: "739154",
      confirmPin: "739154",
      methodId: "pin",
    });
    expect(done.body).toEqual({
      result: "pinChanged",
      method: "pin",
      message: "PIN changed for: PIN. It works from now on.",
    });
  });

  it("Emergency Access for a user with a QR badge offers both PIN-bearing methods; the badge's rules apply", async () => {
    const qa = await t.services.users.create(cliContext, {
      userPrincipalName: "qa@contoso.com",
      displayName: "Qa",
    });
    await t.services.pins.set(cliContext, qa.id, "48291573");
    await t.services.repos.qr.insertMethod(qa.id, t.clock.now());
    await t.services.portal.recovery.registerAnswers(cliContext, qa, {
      q1: "a1",
      q2: "a2",
      q3: "a3",
      q4: "a4",
      q5: "a5",
    });
    const c = portalClient(t, { ip: "10.3.0.1" });
    const start = await c.post("/portal/api/emergency/start", { userPrincipalName: "qa@contoso.com" });
    const answered = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: Object.fromEntries(
        (start.body.questions as { id: string }[]).map((q) => [q.id, q.id.replace("q", "a")]),
      ),
    });
    expect(answered.body.methods).toEqual([
      { id: "pin", label: "PIN", detail: "The PIN you sign in with." },
      {
        id: "qr",
        label: "QR code + PIN (your badge)",
        detail: "Your badge uses the same PIN, so changing one changes both.",
      },
    ]);
    // The page checks the new PIN live against the badge's rules.
    expect(answered.body.pinProfile).toBe("qr");
    // The badge's PIN is digits only: a PIN with letters is refused, and the token still works after.
    const letters = await c.post("/portal/api/emergency/pin", {
      resetToken: answered.body.resetToken,
      newPin: "ab739154",
      confirmPin: "ab739154",
      methodId: "qr",
    });
    expect(letters.statusCode).toBe(400);
    const done = await c.post("/portal/api/emergency/pin", {
      resetToken: answered.body.resetToken,
      newPin: "73915482",
      confirmPin: "73915482",
      methodId: "qr",
    });
    expect(done.body).toEqual({
      result: "pinChanged",
      method: "qr",
      message:
        "PIN changed for: QR code + PIN (your badge). It works from now on. It is also the PIN for: PIN.",
    });
  });

  it("a reset token is spent before the PIN is set: of two requests at once, one sets its PIN", async () => {
    await t.services.users.create(cliContext, {
      userPrincipalName: "race@contoso.com",
      displayName: "Race",
      mail: "race@outlook.com",
    });
    const c = portalClient(t, { ip: "10.3.0.2" });
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "race@contoso.com" });
    const before = smtp.messages().length;
    await c.post("/portal/api/recovery/send", {
      recoveryToken: start.body.recoveryToken,
      channelId: start.body.channels[0].id,
    });
    const code = await smtp.codeFor("race@outlook.com", before, "recovery code");
    const { resetToken } = (
      await c.post("/portal/api/recovery/verify", { recoveryToken: start.body.recoveryToken, code })
    ).body;
    const results = await Promise.all(
      ["391746", "618204"].map((pin) =>
        portalClient(t, { ip: "10.3.0.3" }).post("/portal/api/recovery/pin", {
          resetToken,
          newPin: pin,
          confirmPin: pin,
        }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    expect(results.find((r) => r.statusCode === 401)?.body.error.code).toBe("recoveryLinkInvalid");
    const winner = results[0]?.statusCode === 200 ? "391746" : "618204";
    expect((await t.services.pins.verify(cliContext, "race@contoso.com", winner)).result).toBe("success");
    // Exactly one PIN was set: the loser never reached the PIN store.
    const race = await t.services.users.get("race@contoso.com");
    const changes = await t.services.audit.query({
      targetUserId: race.id,
      action: "pin.changed",
      outcome: "success",
      limit: 10,
    });
    expect(changes).toHaveLength(1);
  });

  it("Emergency Access switched off while someone answers: the answer is refused", async () => {
    const c = portalClient(t);
    const start = await c.post("/portal/api/emergency/start", { userPrincipalName: MAZ });
    await t.services.portal.portalPolicy.update(cliContext, { emergencyAccess: { enabled: false } });
    const late = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: { q1: "st mary's", q2: "leeds", q3: "raleigh", q4: "ann", q5: "high street" },
    });
    expect(late.statusCode).toBe(403);
    expect(late.body.error.code).toBe("emergencyAccessDisabled");
    await t.services.portal.portalPolicy.update(cliContext, { emergencyAccess: { enabled: true } });
  });

  it("an email code can be a sign-in step when the authentication set includes it", async () => {
    const user = await t.services.users.get(MAZ);
    await t.services.portal.portalPolicy.update(cliContext, {
      authSets: [
        { id: "standard", name: "Standard", methods: ["pin"] },
        { id: "remote", name: "Remote", methods: ["pin", "email"], users: [user.id] },
      ],
    });
    t.clock.advance(120_000);
    const c = portalClient(t);
    expect((await c.signInWithPin(MAZ, "739154")).body.next).toBe("email");
    const before = smtp.messages().length;
    const sent = await c.post("/portal/api/signin/code/send");
    expect(sent.body.to).toBe("m•••z@outlook.com");
    const code = await smtp.codeFor(MAZ_MAIL, before, "sign-in code");
    expect((await c.post("/portal/api/signin/code", { code: "00000000" })).body.error.code).toBe(
      "recoveryCodeInvalid",
    );
    // A code sent for sign-in never works for anything else, e.g. as a recovery code.
    const recovery = await portalClient(t).post("/portal/api/recovery/start", { userPrincipalName: MAZ });
    await expect(
      t.services.portal.recovery.verifyCode(cliContext, recovery.body.recoveryToken, code),
    ).rejects.toMatchObject({ code: "recoveryCodeInvalid" });
    const done = await c.post("/portal/api/signin/code", { code });
    expect(done.body).toMatchObject({ signedIn: true });
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("limits codes to confirm a new address: a cooldown and an hourly cap per user", async () => {
    t.clock.advance(61 * MIN);
    const c = portalClient(t);
    await c.signInWithPin(MAZ, "739154");
    await c.get("/portal/api/session");
    const before = smtp.messages().length;
    const first = await c.post("/portal/api/me/methods/email", { address: "maz.home@example.org" });
    expect(first.statusCode).toBe(200);
    expect(first.body).toMatchObject({ to: "m•••e@example.org", methodId: expect.any(String) });
    const second = await c.post("/portal/api/me/methods/email", { address: "someone.else@example.org" });
    expect(second.statusCode).toBe(429);
    expect(second.body.error.code).toBe("resendTooSoon");
    for (let i = 0; i < 4; i++) {
      t.clock.advance(61_000);
      await c.get("/portal/api/session");
      expect(
        (await c.post("/portal/api/me/methods/email", { address: `maz${i}@example.org` })).statusCode,
      ).toBe(200);
    }
    t.clock.advance(61_000);
    await c.get("/portal/api/session");
    const capped = await c.post("/portal/api/me/methods/email", { address: "maz9@example.org" });
    expect(capped.statusCode).toBe(429);
    expect(capped.body.error.code).toBe("recoveryRateLimited");
    await expect.poll(() => smtp.messages().length - before).toBe(5);
  });

  it("refuses too many recovery requests from one address, across server processes", async () => {
    t.clock.advance(61 * MIN);
    await t.services.portal.portalPolicy.update(cliContext, {
      recovery: { perIpPerHour: 3 },
      emergencyAccess: { enabled: true },
    });
    // A second PinDesk process over the same database.
    const second = await createTestInstance(dialect, {
      database: { url: t.databaseUrl, dialect, drop: async () => undefined },
    });
    second.clock.set(new Date(t.clock.now()).toISOString());
    try {
      const from = (i: TestInstance) => portalClient(i, { ip: "203.0.113.7" });
      expect((await from(t).post("/portal/api/recovery/start", { userPrincipalName: MAZ })).statusCode).toBe(
        200,
      );
      expect(
        (await from(second).post("/portal/api/recovery/start", { userPrincipalName: "x@contoso.com" }))
          .statusCode,
      ).toBe(200);
      expect((await from(t).post("/portal/api/emergency/start", { userPrincipalName: MAZ })).statusCode).toBe(
        200,
      );
      const fourth = await from(second).post("/portal/api/recovery/start", { userPrincipalName: MAZ });
      expect(fourth.statusCode).toBe(429);
      expect(fourth.body.error).toMatchObject({
        code: "recoveryTooManyFromAddress",
        retryAt: new Date(t.clock.now() + 60 * MIN).toISOString(),
      });
      // Another address is not affected.
      const other = await portalClient(t, { ip: "198.51.100.2" }).post("/portal/api/recovery/start", {
        userPrincipalName: MAZ,
      });
      expect(other.statusCode).toBe(200);
    } finally {
      await second.close();
      await t.services.portal.portalPolicy.update(cliContext, { recovery: { perIpPerHour: 30 } });
    }
  });

  it("never stores a code, answer or PIN in clear", async () => {
    const tables = [
      "outbox",
      "recovery_codes",
      "recovery_decoys",
      "security_answers",
      "audit_events",
      "one_time_links",
      "pin_credentials",
      "rate_events",
    ];
    let dump = "";
    for (const table of tables)
      dump += JSON.stringify((await sql`select * from ${sql.table(table)}`.execute(t.db.kysely)).rows);
    const codes = [
      ...smtp.messages().map((m) => codeIn(m.text)),
      ...sms.calls().map((c) => codeIn(String(c.json.text))),
    ].filter(Boolean);
    expect(codes.length).toBeGreaterThan(3);
    for (const code of codes) expect(dump).not.toContain(code);
    for (const secret of ["739154", "482915", "leeds", "raleigh", "st mary's", "high street"])
      expect(dump.toLowerCase()).not.toContain(secret);
    expect(t.logs()).not.toContain("739154");
  });

  it("the help desk sees that Forgot PIN's hourly limit stopped a user's codes, until when, and from how many addresses they were asked for", async () => {
    await t.services.users.create(cliContext, {
      userPrincipalName: "lee@contoso.com",
      displayName: "Lee",
      mail: "lee@outlook.com",
    });
    const lee = await t.services.users.get("lee@contoso.com");
    const limitLine = /^Forgot PIN has sent/;
    const was = (await t.services.portal.portalPolicy.current()).recovery.perUserPerHour;
    await t.services.portal.portalPolicy.update(cliContext, { recovery: { perUserPerHour: 2 } });
    try {
      const ask = async (ip: string) => {
        const c = portalClient(t, { ip });
        const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "lee@contoso.com" });
        return c.post("/portal/api/recovery/send", {
          recoveryToken: start.body.recoveryToken,
          channelId: start.body.channels[0].id,
        });
      };
      const firstAt = t.clock.now();
      expect((await ask("10.8.0.1")).statusCode).toBe(200);
      t.clock.advance(61_000);
      // Under the limit nothing is said about it.
      const under = await t.services.admin.userDetail(cliContext, lee.id);
      expect(under.whyStuck.summary).not.toContainEqual(expect.stringMatching(limitLine));
      expect((await ask("10.8.0.2")).statusCode).toBe(200);
      t.clock.advance(61_000);
      const refused = await ask("10.8.0.3");
      expect(refused.statusCode).toBe(429);
      expect(refused.body.error.code).toBe("recoveryRateLimited");

      // The same moment the person was told ("try again at …"): an hour after the first code.
      const until = humanTime(refused.body.error.retryAt);
      expect(new Date(refused.body.error.retryAt).getTime()).toBe(firstAt + 60 * MIN);
      const { whyStuck } = await t.services.admin.userDetail(cliContext, lee.id);
      expect(whyStuck.summary).toContainEqual(
        `Forgot PIN has sent 2 codes for this user name in the last hour, the most it allows, and cannot send another until ${until}.`,
      );
      expect(whyStuck.summary).toContainEqual(
        "They were asked for from 2 different network addresses: if the user did not ask for them all, someone else may be using their name.",
      );
      expect(whyStuck.nextStep).toContain(
        `Forgot PIN cannot send them a code until ${until}: if they need in now, Generate temporary PIN`,
      );
      // A disabled account's name gets no codes at all: the limit is not what stops it.
      await t.services.users.update(cliContext, lee.id, { accountEnabled: false });
      const disabled = await t.services.admin.userDetail(cliContext, lee.id);
      expect(disabled.whyStuck.summary).not.toContainEqual(expect.stringMatching(limitLine));
      expect(disabled.whyStuck.summary[0]).toContain("Forgot PIN sends it no code");
      expect(disabled.whyStuck.nextStep).toContain("`pindesk user enable`");
      // Its Forgot PIN is answered like an unknown name's, but the help desk sees whose name it was.
      await portalClient(t, { ip: "10.9.0.9" }).post("/portal/api/recovery/start", {
        userPrincipalName: lee.userPrincipalName,
      });
      const [started] = await t.services.audit.query({
        action: "recovery.started",
        targetUserId: lee.id,
        limit: 1,
      });
      expect(started).toMatchObject({ outcome: "denied", reason: "accountDisabled" });
      await t.services.users.update(cliContext, lee.id, { accountEnabled: true });
      // Once the hour has passed, the limit no longer stands in the way and is not mentioned.
      t.clock.advance(60 * MIN);
      const later = await t.services.admin.userDetail(cliContext, lee.id);
      expect(later.whyStuck.summary).not.toContainEqual(expect.stringMatching(limitLine));
    } finally {
      await t.services.portal.portalPolicy.update(cliContext, { recovery: { perUserPerHour: was } });
    }
  });

  it("a code is bound to the flow that asked for it: someone else starting Forgot PIN for the same name can neither replace it nor follow it", async () => {
    await t.services.users.create(cliContext, {
      userPrincipalName: "kit@contoso.com",
      displayName: "Kit",
      mail: "kit@outlook.com",
    });
    const start = async (ip: string) => {
      const c = portalClient(t, { ip });
      const started = await c.post("/portal/api/recovery/start", { userPrincipalName: "kit@contoso.com" });
      const token: string = started.body.recoveryToken;
      return {
        token,
        send: () =>
          c.post("/portal/api/recovery/send", {
            recoveryToken: token,
            channelId: started.body.channels[0].id,
          }),
        status: async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body,
        verify: (code: string) => c.post("/portal/api/recovery/verify", { recoveryToken: token, code }),
      };
    };
    const kit = await start("10.9.0.1");
    const before = smtp.messages().length;
    expect((await kit.send()).statusCode).toBe(200);
    const kitCode = await smtp.codeFor("kit@outlook.com", before);

    // Someone else asks for Kit's name from another address: they see nothing of Kit's message...
    const other = await start("10.9.0.2");
    expect(await other.status()).toEqual({ status: "none", detail: null, attempt: 0, nextAttemptAt: null });
    t.clock.advance(61_000);
    const otherBefore = smtp.messages().length;
    expect((await other.send()).statusCode).toBe(200);
    const otherCode = await smtp.codeFor("kit@outlook.com", otherBefore);
    expect(otherCode).not.toBe(kitCode);
    // ...and their code neither replaces Kit's nor works in Kit's flow, nor Kit's in theirs.
    expect((await other.verify(kitCode)).body.error).toMatchObject({ code: "recoveryCodeInvalid" });
    const crossed = await kit.verify(otherCode);
    expect(crossed.body.error).toMatchObject({ code: "recoveryCodeInvalid", attemptsRemaining: 4 });
    const ok = await kit.verify(kitCode);
    expect(ok.body).toEqual({ resetToken: expect.any(String), pinProfile: "standard" });

    // An unknown name's flows keep to themselves in the same way, or the difference would tell names apart.
    // (Its stand-in channels follow this directory, where some users have none: take a name that has one.)
    let ghostName = "";
    for (let i = 0; i < 50 && !ghostName; i++) {
      const upn = `ghost.kit${i}@contoso.com`;
      const probe = await portalClient(t, { ip: "10.9.0.5" }).post("/portal/api/recovery/start", {
        userPrincipalName: upn,
      });
      if (probe.body.channels.length > 0) ghostName = upn;
    }
    expect(ghostName).not.toBe("");
    const ghost = async (ip: string) => {
      const c = portalClient(t, { ip });
      const started = await c.post("/portal/api/recovery/start", { userPrincipalName: ghostName });
      const token: string = started.body.recoveryToken;
      return {
        send: () =>
          c.post("/portal/api/recovery/send", {
            recoveryToken: token,
            channelId: started.body.channels[0].id,
          }),
        status: async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body,
      };
    };
    const first = await ghost("10.9.0.3");
    expect((await first.send()).statusCode).toBe(200);
    await expect.poll(async () => (await first.status()).status).toBe("accepted");
    const second = await ghost("10.9.0.4");
    expect(await second.status()).toEqual({ status: "none", detail: null, attempt: 0, nextAttemptAt: null });
  });
});

describe.each(dialects)("an unknown user name looks like a real one on %s", (dialect) => {
  let t: TestInstance;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sms: Awaited<ReturnType<typeof startSmsWebhook>>;
  let hashing: ReturnType<typeof countHashing>;
  beforeAll(async () => {
    smtp = await startSmtp();
    sms = await startSmsWebhook();
    t = await createTestInstance(dialect, { env: { ...smtp.env, PINDESK_SMS_WEBHOOK_URL: sms.url } });
    await t.services.portal.portalPolicy.update(cliContext, { recovery: { perIpPerHour: 10_000 } });
    // Everyone in this directory has a mail address and a phone, so stand-ins have both too.
    for (const [upn, mail] of [
      ["ana.lima@contoso.com", "ana.lima@contoso.com"],
      ["bo.ek@contoso.com", "bo.ek@contoso.com"],
    ] as const) {
      await t.services.users.create(cliContext, {
        userPrincipalName: upn,
        displayName: upn,
        mail,
        mobilePhone: "+44 7700 900123",
      });
      await t.services.pins.set(cliContext, upn, "482915");
    }
    await t.services.portal.portalPolicy.update(cliContext, {
      emergencyAccess: {
        enabled: true,
        questions: Array.from({ length: 8 }, (_, i) => ({ id: `q${i + 1}`, text: `Question ${i + 1}?` })),
      },
    });
    await t.services.portal.recovery.registerAnswers(
      cliContext,
      await t.services.users.get("ana.lima@contoso.com"),
      {
        q1: "one",
        q2: "two",
        q3: "three",
        q4: "four",
        q5: "five",
      },
    );
    hashing = countHashing(t.services.hasher);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
    await sms?.close();
  });

  /** Forgot PIN from start to a wrong code, measured: bodies and argon2id operations. */
  const forgot = async (upn: string) => {
    const c = portalClient(t);
    const start = await hashing.during(() =>
      c.post("/portal/api/recovery/start", { userPrincipalName: upn }),
    );
    const token = start.result.body.recoveryToken;
    const send = await hashing.during(() =>
      c.post("/portal/api/recovery/send", {
        recoveryToken: token,
        channelId: start.result.body.channels[0].id,
      }),
    );
    const resend = await c.post("/portal/api/recovery/send", {
      recoveryToken: token,
      channelId: start.result.body.channels[0].id,
    });
    await expect
      .poll(async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body.status)
      .toBe("accepted");
    const status = await c.post("/portal/api/recovery/status", { recoveryToken: token });
    const wrong1 = await hashing.during(() =>
      c.post("/portal/api/recovery/verify", { recoveryToken: token, code: "00000000" }),
    );
    const wrong2 = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code: "00000001" });
    return { start, send, resend, status, wrong1, wrong2 };
  };

  it("Forgot PIN: the same bodies, formats and argon2id work for a real and an unknown name", async () => {
    const real = await forgot("ana.lima@contoso.com");
    const ghost = await forgot("ghost.user@contoso.com");
    t.clock.advance(61 * MIN);

    expect(real.start.result.statusCode).toBe(200);
    expect(ghost.start.result.statusCode).toBe(200);
    expect(skeleton(ghost.start.result.body)).toEqual(skeleton(real.start.result.body));
    for (const r of [real, ghost]) {
      expect(r.start.result.body.recoveryToken).toMatch(FLOW_TOKEN);
      expect(r.start.result.body.channels).toEqual([
        {
          id: expect.stringMatching(CHANNEL_ID),
          channel: "email",
          masked: expect.stringMatching(/^[a-z]•••[a-z]@contoso\.com$/),
        },
        {
          id: expect.stringMatching(CHANNEL_ID),
          channel: "sms",
          masked: expect.stringMatching(/^\+44 ••• ••• \d{3}$/),
        },
      ]);
      expect(r.send.result.body).toEqual({
        sentAt: expect.stringMatching(ISO),
        to: r.start.result.body.channels[0].masked,
        channel: "email",
        messageId: expect.stringMatching(UUID),
        expiresAt: expect.stringMatching(ISO),
        resendAvailableAt: expect.stringMatching(ISO),
      });
      expect(r.resend.statusCode).toBe(429);
      expect(r.status.body).toEqual({ status: "accepted", detail: null, attempt: 1, nextAttemptAt: null });
      expect(r.wrong1.result.body.error).toMatchObject({ code: "recoveryCodeInvalid", attemptsRemaining: 4 });
      expect(r.wrong2.body.error).toMatchObject({ code: "recoveryCodeInvalid", attemptsRemaining: 3 });
    }
    expect(skeleton(ghost.send.result.body)).toEqual(skeleton(real.send.result.body));
    expect(skeleton(ghost.resend.body)).toEqual(skeleton(real.resend.body));
    expect(skeleton(ghost.wrong1.result.body)).toEqual(skeleton(real.wrong1.result.body));
    expect(ghost.wrong1.result.statusCode).toBe(real.wrong1.result.statusCode);
    // The same hashing work at every step, so the answers take as long.
    expect(ghost.start.operations).toBe(real.start.operations);
    expect(ghost.send.operations).toBe(real.send.operations);
    expect(ghost.send.operations).toBeGreaterThan(0);
    expect(ghost.wrong1.operations).toBe(real.wrong1.operations);
    expect(ghost.wrong1.operations).toBeGreaterThan(0);
    // Only the real user got a message.
    expect(smtp.messages().flatMap((m) => m.to)).toEqual(["ana.lima@contoso.com"]);

    // Asking again about the unknown name gives the same channels (a keyed hash, not a new draw).
    const again = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "Ghost.User@contoso.com",
    });
    expect(again.body.channels).toEqual(ghost.start.result.body.channels);
    expect(again.body.recoveryToken).not.toBe(ghost.start.result.body.recoveryToken);
  });

  it("Emergency Access: stable questions, a per-name counter and the same work for an unknown name", async () => {
    let round = 0;
    const draws = async (upn: string) => {
      const seen = new Set<string>();
      round++;
      for (let i = 0; i < 30; i++) {
        const s = await portalClient(t, { ip: `10.2.${round}.${i}` }).post("/portal/api/emergency/start", {
          userPrincipalName: upn,
        });
        expect(s.body.questions).toHaveLength(3);
        for (const q of s.body.questions as { id: string }[]) seen.add(q.id);
      }
      return seen;
    };
    // A real user: three of their five registered questions each time. An unknown name: three of five
    // questions that stay the same (as if registered), never the whole list.
    expect([...(await draws("ana.lima@contoso.com"))].sort()).toEqual(["q1", "q2", "q3", "q4", "q5"]);
    expect((await draws("ghost.user@contoso.com")).size).toBe(5);
    expect([...(await draws("ghost.user@contoso.com"))].sort()).toEqual(
      [...(await draws("ghost.user@contoso.com"))].sort(),
    );

    const wrongTwice = async (upn: string) => {
      const out = [];
      for (let i = 0; i < 2; i++) {
        const c = portalClient(t);
        const start = await c.post("/portal/api/emergency/start", { userPrincipalName: upn });
        out.push(
          await hashing.during(() =>
            c.post("/portal/api/emergency/answer", {
              emergencyToken: start.body.emergencyToken,
              answers: Object.fromEntries(
                (start.body.questions as { id: string }[]).map((q) => [q.id, "wrong"]),
              ),
            }),
          ),
        );
        expect(start.body.emergencyToken).toMatch(FLOW_TOKEN);
      }
      return out;
    };
    const real = await wrongTwice("ana.lima@contoso.com");
    const ghost = await wrongTwice("ghost.user@contoso.com");
    // Counted per name for both: 9 left, then 8 (not 9 again for the unknown name's second start).
    for (const r of [real, ghost]) {
      expect(r.map((x) => x.result.body.error.attemptsRemaining)).toEqual([9, 8]);
    }
    expect(skeleton(ghost[0]?.result.body)).toEqual(skeleton(real[0]?.result.body));
    expect(ghost.map((x) => x.operations)).toEqual(real.map((x) => x.operations));
    expect(real[0]?.operations).toBe(3);
  });

  it("a real user with no email or phone is told so; unknown names get that answer as often as real users do", async () => {
    // Half of this directory has no channel at all.
    for (let i = 0; i < 2; i++) {
      await t.services.users.create(cliContext, {
        userPrincipalName: `nochannel${i}@contoso.com`,
        displayName: "N",
      });
    }
    t.clock.advance(11 * MIN);
    const none = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "nochannel0@contoso.com",
    });
    expect(none.body.channels).toEqual([]);
    expect(none.body.emergencyAccess).toBe(true);
    let empty = 0;
    const names = 120;
    for (let i = 0; i < names; i++) {
      const r = await portalClient(t, { ip: `10.1.0.${i}` }).post("/portal/api/recovery/start", {
        userPrincipalName: `someone${i}@contoso.com`,
      });
      if (r.body.channels.length === 0) empty++;
      else expect(r.body.channels).toHaveLength(2);
    }
    // 2 of 4 users have no channel: about half the unknown names (binomial, far outside chance if not).
    expect(empty).toBeGreaterThan(names * 0.3);
    expect(empty).toBeLessThan(names * 0.7);
  });
});

describe.each(dialects)("a refusal that names the address, on %s", (dialect) => {
  let t: TestInstance;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const MAIL = "ana.private@fabrikam.com";
  beforeAll(async () => {
    smtp = await startSmtp({ refuse: (address) => address === MAIL, naming: true });
    t = await createTestInstance(dialect, { env: smtp.env });
    await t.services.users.create(cliContext, {
      userPrincipalName: "ana.named@contoso.com",
      displayName: "Ana",
      mail: MAIL,
    });
    await t.services.pins.set(cliContext, "ana.named@contoso.com", "482915");
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
  });

  it("Forgot PIN says the address was refused, masked; only the help desk reads the provider's words", async () => {
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "ana.named@contoso.com" });
    const token = start.body.recoveryToken;
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: start.body.channels[0].id });
    const status = async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body;
    await expect.poll(async () => (await status()).status).toBe("retrying");
    const shown = await status();
    expect(shown.detail).toBe(
      "Attempt 1 of 3 failed: the mail server refused the address a•••e@fabrikam.com.",
    );
    expect(JSON.stringify(shown)).not.toContain("ana.private");
    const user = await t.services.users.get("ana.named@contoso.com");
    const [message] = (await t.services.admin.userDetail(cliContext, user.id)).recentMessages;
    expect((message as { statusText?: string } | undefined)?.statusText).toContain(
      `<${MAIL}>: Recipient address rejected`,
    );
  });
});

describe.each(dialects)("delivery that fails is visible to the user and the help desk on %s", (dialect) => {
  let t: TestInstance;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sms: Awaited<ReturnType<typeof startSmsWebhook>>;
  const STUCK_MAIL = "stuck@outlook.com";

  beforeAll(async () => {
    smtp = await startSmtp({ refuse: (address) => address === STUCK_MAIL });
    sms = await startSmsWebhook({ status: 503 });
    t = await createTestInstance(dialect, { env: { ...smtp.env, PINDESK_SMS_WEBHOOK_URL: sms.url } });
    await t.services.users.create(cliContext, {
      userPrincipalName: "stuck@contoso.com",
      displayName: "Stuck",
      mail: STUCK_MAIL,
      mobilePhone: "+1 (555) 010-9999",
    });
    await t.services.pins.set(cliContext, "stuck@contoso.com", "482915");
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.close();
    await sms?.close();
  });

  it("retries with backoff, says so, and never delivers a code after it expired (seed 000)", async () => {
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "stuck@contoso.com" });
    const token = start.body.recoveryToken;
    expect(start.body.helpdeskContact).toBe("your help desk");
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: start.body.channels[0].id });
    const status = async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body;
    // Attempt 1 fails at once: "retrying", with the attempt number and when the next one is.
    await expect.poll(async () => (await status()).status).toBe("retrying");
    expect(await status()).toEqual({
      status: "retrying",
      detail: "Attempt 1 of 3 failed: 550 5.1.1 mailbox unavailable.",
      attempt: 1,
      nextAttemptAt: "2026-05-25T09:00:30.000Z",
    });
    // The help desk sees the same record, in the same plain words.
    const user = await t.services.users.get("stuck@contoso.com");
    const queued = (await t.services.admin.userDetail(cliContext, user.id)).recentMessages[0];
    expect(queued).toMatchObject({
      status: "queued",
      state: "retrying",
      statusText:
        "Retrying: attempt 1 of 3 failed (550 5.1.1 mailbox unavailable); next attempt at 25 May 2026, 09:00 UTC.",
    });
    // 30 s, then 2 min later: attempts 2 and 3 fail; the next wait (10 min) ends after the code's
    // 10 minutes, so the message is marked expired rather than sent dead.
    t.clock.advance(31_000);
    await t.services.outbox.processDue();
    t.clock.advance(121_000);
    await t.services.outbox.processDue();
    expect(smtp.tries(STUCK_MAIL)).toBe(3);
    const expired = await status();
    expect(expired.status).toBe("expired");
    expect(expired.detail).toBe(
      "The message could not be delivered in time: 550 5.1.1 mailbox unavailable; not tried again: the code in it expires at 25 May 2026, 09:10 UTC, before the next try — ask for a new code.",
    );
    for (let i = 0; i < 4; i++) {
      t.clock.advance(31 * MIN);
      await t.services.outbox.processDue();
    }
    expect(smtp.tries(STUCK_MAIL)).toBe(3);

    // The phone is the alternative; the SMS provider is down too, and that is visible as well.
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: start.body.channels[1].id });
    await expect.poll(() => sms.calls().length).toBe(1);
    expect(sms.calls()[0]?.json.to).toBe("+15550109999");
    await expect.poll(async () => (await status()).detail ?? "").toContain("the SMS provider answered 503");

    const detail = await t.services.admin.userDetail(cliContext, user.id);
    const mail = detail.recentMessages.find((m) => m.channel === "email");
    expect(mail).toMatchObject({
      status: "expired",
      state: "expired",
      destinationMasked: "s•••k@outlook.com",
    });
    expect((mail as { statusText?: string } | undefined)?.statusText).toContain(
      "Not delivered, and no longer worth delivering: 550 5.1.1 mailbox unavailable",
    );
    expect(detail.whyStuck.summary.join(" ") + detail.whyStuck.nextStep).toContain("not arriving");
  });

  it("a message found after its code expired (the sender was down) is marked expired, not sent", async () => {
    const before = smtp.messages().length;
    const message = await t.services.outbox.enqueue({
      userId: null,
      channel: "email",
      destination: "late@example.com",
      purpose: "recoveryCode",
      subject: "late",
      text: "Your PinDesk recovery code is 12345678.",
      expiresAt: t.clock.now() + 10 * MIN,
    });
    t.clock.advance(11 * MIN);
    await t.services.outbox.processDue();
    const settled = await t.services.outbox.get(message.id);
    expect(settled).toMatchObject({ status: "expired", attempts: 1 });
    expect(settled?.lastError).toMatch(
      /^the code in it expired at \d+ May 2026, \d\d:\d\d UTC before it could be delivered, so it was not sent — ask for a new code$/,
    );
    expect(smtp.messages().length).toBe(before);
    expect(smtp.tries("late@example.com")).toBe(0);
  });

  it("counts only the tries a message can get before its content expires", async () => {
    const queue = (expiresInMs?: number) =>
      t.services.outbox.enqueue({
        userId: null,
        channel: "email",
        destination: "nobody@example.com",
        purpose: "test",
        subject: "tries",
        text: "hello",
        ...(expiresInMs !== undefined && { expiresAt: t.clock.now() + expiresInMs }),
      });
    // Tries at 0 s, 30 s, 2.5 min, 12.5 min and 42.5 min.
    expect((await queue()).maxAttempts).toBe(5);
    expect((await queue(24 * 60 * MIN)).maxAttempts).toBe(5);
    expect((await queue(10 * MIN)).maxAttempts).toBe(3);
    expect((await queue(MIN)).maxAttempts).toBe(2);
    expect((await queue(10_000)).maxAttempts).toBe(1);
  });

  it("a new code replaces one still waiting for a retry: the old one is never sent, and says why", async () => {
    await t.services.users.create(cliContext, {
      userPrincipalName: "sol@contoso.com",
      displayName: "Sol",
      mobilePhone: "+1 (555) 010-4242",
    });
    // Both codes are asked for in one flow ("send a new code"): a code only replaces its own flow's.
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "sol@contoso.com" });
    const send = async () => {
      const sent = await c.post("/portal/api/recovery/send", {
        recoveryToken: start.body.recoveryToken,
        channelId: start.body.channels[0].id,
      });
      expect(sent.statusCode).toBe(200);
      const id: string = sent.body.messageId;
      await expect.poll(async () => (await t.services.outbox.get(id))?.state).toBe("retrying");
      return id;
    };
    const first = await send();
    t.clock.advance(61_000);
    const second = await send();
    expect(await t.services.outbox.get(first)).toMatchObject({
      status: "expired",
      lastError: expect.stringMatching(/^replaced by a newer code sent at .*, so it was not sent$/),
    });
    // The old message is not tried again; the new one is.
    const before = sms.calls().length;
    t.clock.advance(3 * MIN);
    await t.services.outbox.processDue();
    expect(sms.calls().length).toBe(before + 1);
    expect((await t.services.outbox.get(second))?.attempts).toBe(2);
  });

  it("a channel nobody configured is never offered: not for Forgot PIN, a sign-in code or a new contact; real and unknown names alike", async () => {
    // Email is set up here, text messages are not.
    const emailOnly = await createTestInstance(dialect, { env: smtp.env });
    try {
      await emailOnly.services.users.create(cliContext, {
        userPrincipalName: "ana@contoso.com",
        displayName: "Ana",
        mail: "ana@contoso.com",
        mobilePhone: "+44 7700 900123",
      });
      // Everyone in this directory has both, so a stand-in has both too, and loses the same one.
      for (const upn of ["ana@contoso.com", "nobody@contoso.com"]) {
        const start = await portalClient(emailOnly).post("/portal/api/recovery/start", {
          userPrincipalName: upn,
        });
        expect(start.statusCode).toBe(200);
        expect(start.body.channels.map((c: { channel: string }) => c.channel)).toEqual(["email"]);
        expect(start.body.channelsNotSetUp).toEqual(["sms"]);
      }
      // The portal's own list is about the installation, whatever Forgot PIN allows: with Forgot PIN
      // by email only, a phone still cannot be confirmed or used for a sign-in code.
      const info = async () => (await portalClient(emailOnly).get("/portal/api/pin-policy")).body;
      expect((await info()).channelsNotSetUp).toEqual(["sms"]);
      await emailOnly.services.portal.portalPolicy.update(cliContext, { recovery: { channels: ["email"] } });
      expect((await info()).channelsNotSetUp).toEqual(["sms"]);
      const emailOnlyPolicy = await portalClient(emailOnly).post("/portal/api/recovery/start", {
        userPrincipalName: "ana@contoso.com",
      });
      expect(emailOnlyPolicy.body.channelsNotSetUp).toEqual([]);
      await emailOnly.services.portal.portalPolicy.update(cliContext, {
        recovery: { channels: ["email", "sms"] },
      });
      // Someone whose only channel cannot be sent on is offered nothing, and the page can say why.
      await emailOnly.services.users.create(cliContext, {
        userPrincipalName: "phone.only@contoso.com",
        displayName: "Phone Only",
        mobilePhone: "+44 7700 900124",
      });
      const phoneOnly = await portalClient(emailOnly).post("/portal/api/recovery/start", {
        userPrincipalName: "phone.only@contoso.com",
      });
      expect(phoneOnly.body.channels).toEqual([]);
      expect(phoneOnly.body.channelsNotSetUp).toEqual(["sms"]);

      const ana = await emailOnly.services.users.get("ana@contoso.com");
      for (const attempt of [
        () => emailOnly.services.portal.recovery.sendSignInCode(cliContext, ana, "sms"),
        () => emailOnly.services.portal.recovery.addContact(cliContext, ana, "sms", "+44 7700 900999"),
      ]) {
        await expect(attempt()).rejects.toMatchObject({
          code: "channelNotSetUp",
          status: 409,
          message: "This PinDesk is not set up to send text messages.",
          details: { channel: "sms" },
        });
      }
      // Nothing was queued or added for the refused channel.
      const detail = await emailOnly.services.admin.userDetail(cliContext, ana.id);
      expect(detail.recentMessages).toEqual([]);
      expect(
        (await emailOnly.services.portal.methods.recoveryChannels(ana)).map((c) => c.destination),
      ).toEqual(["ana@contoso.com", "+44 7700 900123"]);
    } finally {
      await emailOnly.close();
    }

    // With nothing set up, nobody is offered a channel, and every name hears the same reason.
    const bare = await createTestInstance(dialect);
    try {
      await bare.services.users.create(cliContext, {
        userPrincipalName: "ana@contoso.com",
        displayName: "Ana",
        mail: "ana@contoso.com",
      });
      for (const upn of ["ana@contoso.com", "nobody@contoso.com"]) {
        const start = await portalClient(bare).post("/portal/api/recovery/start", { userPrincipalName: upn });
        expect(start.body.channels).toEqual([]);
        expect(start.body.channelsNotSetUp).toEqual(["email", "sms"]);
      }
    } finally {
      await bare.close();
    }
  });

  it("two senders never deliver one message twice", async () => {
    const counting = await startSmtp();
    const { createOutbox } = await import("../src/delivery/outbox.ts");
    const { smtpTransport } = await import("../src/delivery/transports.ts");
    const transport = smtpTransport(
      {
        host: "127.0.0.1",
        port: counting.port,
        secure: false,
        requireTls: false,
        user: undefined,
        password: undefined,
      },
      "PinDesk <no-reply@localhost>",
    );
    const outbox = createOutbox({
      repo: t.services.repos.outbox,
      box: t.services.box,
      clock: t.clock,
      transports: { email: transport, sms: transport },
    });
    const message = await outbox.enqueue({
      userId: null,
      channel: "email",
      destination: "x@example.com",
      purpose: "test",
      subject: "once",
      text: "hello",
    });
    await Promise.all([
      outbox.deliver(message.id),
      outbox.deliver(message.id),
      outbox.processDue(),
      outbox.processDue(),
    ]);
    expect(counting.messages()).toHaveLength(1);
    expect((await outbox.get(message.id))?.status).toBe("accepted");
    await counting.close();
  });
});

describe.each(dialects)(
  "in a mail outage an unknown name's delivery reads like a real one's on %s",
  (dialect) => {
    let t: TestInstance;
    beforeAll(async () => {
      // A mail server that is down: the port was just free, and nothing listens on it.
      const { createServer } = await import("node:net");
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
      const port = (probe.address() as { port: number }).port;
      await new Promise((resolve) => probe.close(resolve));
      t = await createTestInstance(dialect, {
        env: { PINDESK_SMTP_HOST: "127.0.0.1", PINDESK_SMTP_PORT: String(port) },
      });
      await t.services.users.create(cliContext, {
        userPrincipalName: "kim@contoso.com",
        displayName: "Kim",
        mail: "kim@contoso.com",
      });
    });
    afterAll(() => t?.close());

    it("the same states, attempts, reasons and times, to expiry; and no stand-in is counted for the help desk", async () => {
      const flows: { c: ReturnType<typeof portalClient>; token: string }[] = [];
      const status = async (i: number) => {
        const flow = flows[i];
        if (!flow) throw new Error("no flow");
        return (await flow.c.post("/portal/api/recovery/status", { recoveryToken: flow.token })).body;
      };
      for (const upn of ["kim@contoso.com", "nobody@contoso.com"]) {
        const c = portalClient(t);
        const start = await c.post("/portal/api/recovery/start", { userPrincipalName: upn });
        const email = start.body.channels.find((ch: { channel: string }) => ch.channel === "email");
        const sent = await c.post("/portal/api/recovery/send", {
          recoveryToken: start.body.recoveryToken,
          channelId: email.id,
        });
        expect(sent.statusCode).toBe(200);
        flows.push({ c, token: start.body.recoveryToken });
        await expect.poll(async () => (await status(flows.length - 1)).status).toBe("retrying");
      }
      const seen: unknown[] = [];
      for (let step = 0; step < 4; step++) {
        const [real, unknown] = [await status(0), await status(1)];
        expect(unknown).toEqual(real);
        seen.push(real);
        // On to the next attempt of both.
        t.clock.advance(2 * MIN);
        await t.services.outbox.processDue();
      }
      expect(seen[0]).toMatchObject({
        status: "retrying",
        attempt: 1,
        detail: expect.stringMatching(/^Attempt 1 of 3 failed: .*ECONNREFUSED/),
      });
      expect(seen.at(-1)).toMatchObject({
        status: "expired",
        detail: expect.stringContaining("ask for a new code"),
      });
      // The help desk's count of deliveries that did not arrive has the real one only, given up on.
      const dashboard = await t.services.admin.dashboard(cliContext);
      const failed = dashboard.failedDeliveries.reduce((n, d) => n + d.count, 0);
      expect(failed).toBe(1);
      expect(dashboard.failedDeliveries.reduce((n, d) => n + d.retrying, 0)).toBe(0);
    });

    it("another PinDesk process, or one just restarted, answers an unknown name's stand-in as the real messages were answered", async () => {
      const { createOutbox } = await import("../src/delivery/outbox.ts");
      const { transportsFor } = await import("../src/services/index.ts");
      // A process of its own over the same database: its own outbox, which has sent nothing yet.
      const otherProcess = (transports = transportsFor(t.config)) =>
        createOutbox({ repo: t.services.repos.outbox, box: t.services.box, clock: t.clock, transports });
      const standIn = async (outbox: ReturnType<typeof otherProcess>) => {
        const id = randomUUID();
        await outbox.enqueueStandIn({
          id,
          channel: "email",
          purpose: "recoveryCode",
          subject: "Your PinDesk recovery code",
          expiresAt: t.clock.now() + 10 * MIN,
        });
        await outbox.deliver(id);
        return outbox.get(id);
      };
      // This process's real message in the outage (the test above) failed with the server's answer.
      const queued = await t.services.outbox.enqueue({
        userId: null,
        channel: "email",
        destination: "kim@contoso.com",
        purpose: "test",
        subject: "outage",
        text: "hello",
      });
      await t.services.outbox.deliver(queued.id);
      const real = await t.services.outbox.get(queued.id);
      expect(real).toMatchObject({ state: "retrying", lastError: expect.stringContaining("ECONNREFUSED") });
      // (A restarted process is the same case: an outbox that has sent nothing since it started.)
      expect(await standIn(otherProcess())).toMatchObject({
        state: "retrying",
        attempts: 1,
        lastError: real?.lastError,
      });
      // A process that cannot send email at all fails its stand-ins as it fails real messages.
      const { unconfiguredTransport } = await import("../src/delivery/transports.ts");
      const bare = otherProcess({ email: unconfiguredTransport("email"), sms: unconfiguredTransport("sms") });
      expect(await standIn(bare)).toMatchObject({
        state: "failed",
        lastError: expect.stringContaining("email delivery is not configured"),
      });
      // An answer older than the longest wait between two tries no longer says how the provider is
      // doing: nothing real has been tried since, and a stand-in is accepted, as a first try would be.
      t.clock.advance(31 * MIN);
      expect(await standIn(otherProcess())).toMatchObject({ state: "accepted", attempts: 1 });
    });
  },
);
