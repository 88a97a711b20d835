/**
 * Forgot PIN and Emergency Access over the portal API, with real SMTP: a sink that accepts mail and
 * one that refuses it (the seed-000 story: "Send code" pressed, nothing ever arrives).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "kysely";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevMailSink, startDevMailSink } from "../src/delivery/dev-mail.ts";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";
import { portalClient } from "./helpers/portal-client.ts";

const codeIn = (text: string) => /code is (\d{6,8})/.exec(text)?.[1];

describe.each(dialects)("Forgot PIN and Emergency Access on %s", (dialect) => {
  let t: TestInstance;
  let sink: DevMailSink;
  beforeAll(async () => {
    sink = await startDevMailSink();
    t = await createTestInstance(dialect, {
      env: { PINDESK_SMTP_HOST: sink.host, PINDESK_SMTP_PORT: String(sink.port) },
    });
    await t.services.users.create(cliContext, {
      userPrincipalName: "maz@contoso.com",
      displayName: "Maz",
      mail: "mariaz@outlook.com",
      mobilePhone: "+44 7700 900123",
    });
    await t.services.pins.set(cliContext, "maz@contoso.com", "482915");
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  it("sends a real code, which sets a new PIN and clears the lockout", async () => {
    for (let i = 0; i < 10; i++)
      await t.services.pins.verify(cliContext, "maz@contoso.com", "000013").catch(() => undefined);
    expect((await t.services.pins.status("maz@contoso.com")).state).toBe("Account Lockout");
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "maz@contoso.com" });
    expect(start.body.channels).toEqual([
      { id: "directory-mail", channel: "email", masked: "m•••z@outlook.com" },
      { id: "directory-phone", channel: "sms", masked: "+44 ••• ••• 123" },
    ]);
    const token = start.body.recoveryToken as string;
    const sent = await c.post("/portal/api/recovery/send", {
      recoveryToken: token,
      channelId: "directory-mail",
    });
    expect(sent.body).toMatchObject({ to: "m•••z@outlook.com", channel: "email" });
    await expect.poll(() => sink.messages().length, { timeout: 5000 }).toBeGreaterThan(0);
    const code = codeIn(sink.messages().at(-1)?.text ?? "");
    expect(code).toMatch(/^\d{8}$/);
    expect((await c.post("/portal/api/recovery/status", { recoveryToken: token })).body.status).toBe(
      "accepted",
    );

    // Resend is refused during the cooldown, with the time it becomes possible.
    const early = await c.post("/portal/api/recovery/send", {
      recoveryToken: token,
      channelId: "directory-mail",
    });
    expect(early.statusCode).toBe(429);
    expect(early.body.error).toMatchObject({
      code: "resendTooSoon",
      resendAvailableAt: sent.body.resendAvailableAt,
    });

    const wrong = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code: "00000000" });
    expect(wrong.body.error).toMatchObject({ code: "recoveryCodeInvalid", attemptsRemaining: 4 });
    const ok = await c.post("/portal/api/recovery/verify", { recoveryToken: token, code });
    expect(ok.body.resetToken).toBeTruthy();
    const weak = await c.post("/portal/api/recovery/pin", {
      resetToken: ok.body.resetToken,
      newPin: "123456",
      confirmPin: "123456",
    });
    expect(weak.body.error.code).toBe("pinHasSequence");
    const done = await c.post("/portal/api/recovery/pin", {
      resetToken: ok.body.resetToken,
      newPin: "739154",
      confirmPin: "739154",
    });
    expect(done.body.result).toBe("pinChanged");
    expect((await t.services.pins.verify(cliContext, "maz@contoso.com", "739154")).result).toBe("success");
    // Notified on every channel (the SMS one fails: no SMS provider here, and says so).
    await expect
      .poll(() => sink.messages().some((m) => m.subject.includes("PIN was changed")), { timeout: 5000 })
      .toBe(true);
  });

  it("stops code guessing after the allowed tries", async () => {
    t.clock.advance(61_000);
    const c = portalClient(t);
    const token = (await c.post("/portal/api/recovery/start", { userPrincipalName: "maz@contoso.com" })).body
      .recoveryToken;
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: "directory-mail" });
    await expect
      .poll(() => sink.messages().filter((m) => m.subject.includes("recovery code")).length, {
        timeout: 5000,
      })
      .toBe(2);
    const code = codeIn(
      sink
        .messages()
        .filter((m) => m.subject.includes("recovery code"))
        .at(-1)?.text ?? "",
    ) as string;
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
    });
  });

  it("answers unknown users the same way", async () => {
    const known = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "maz@contoso.com",
    });
    const unknown = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "ghost@contoso.com",
    });
    expect(Object.keys(unknown.body).sort()).toEqual(Object.keys(known.body).sort());
    expect(unknown.body.channels[0].masked).toMatch(/^[a-z]•••[a-z]@contoso\.com$/);
    const again = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "ghost@contoso.com",
    });
    expect(again.body.channels).toEqual(unknown.body.channels);
    const send = await portalClient(t).post("/portal/api/recovery/send", {
      recoveryToken: unknown.body.recoveryToken,
      channelId: "directory-mail",
    });
    expect(send.statusCode).toBe(200);
    expect(Object.keys(send.body).sort()).toEqual([
      "channel",
      "expiresAt",
      "messageId",
      "resendAvailableAt",
      "sentAt",
      "to",
    ]);
  });

  it("Emergency Access: answers registered, questions asked, PIN changed; wrong answers count", async () => {
    await t.services.portal.portalPolicy.update(cliContext, { emergencyAccess: { enabled: true } });
    const user = await t.services.users.get("maz@contoso.com");
    await t.services.portal.recovery.registerAnswers(cliContext, user, {
      q1: "St Mary's",
      q2: "  Leeds ",
      q3: "Raleigh",
    });
    const c = portalClient(t);
    const start = await c.post("/portal/api/emergency/start", { userPrincipalName: "maz@contoso.com" });
    expect(start.body.questions.map((q: { id: string }) => q.id).sort()).toEqual(["q1", "q2", "q3"]);
    const wrong = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: { q1: "x", q2: "y", q3: "z" },
    });
    expect(wrong.body.error).toMatchObject({ code: "emergencyAnswersWrong", attemptsRemaining: 9 });
    const right = await c.post("/portal/api/emergency/answer", {
      emergencyToken: start.body.emergencyToken,
      answers: { q1: "st mary's", q2: "LEEDS", q3: "raleigh " },
    });
    expect(right.body.methods[0].id).toBe("pin");
    // Seed 001 allows reusing the previous PIN here.
    const done = await c.post("/portal/api/emergency/pin", {
      resetToken: right.body.resetToken,
      newPin: "739154",
      confirmPin: "739154",
    });
    expect(done.body.result).toBe("pinChanged");
    const ghost = await portalClient(t).post("/portal/api/emergency/start", {
      userPrincipalName: "ghost@contoso.com",
    });
    expect(ghost.body.questions).toHaveLength(3);
  });

  it("an email code can be a sign-in step when the authentication set includes it", async () => {
    const user = await t.services.users.get("maz@contoso.com");
    await t.services.portal.portalPolicy.update(cliContext, {
      authSets: [
        { id: "standard", name: "Standard", methods: ["pin"] },
        { id: "remote", name: "Remote", methods: ["pin", "email"], users: [user.id] },
      ],
    });
    t.clock.advance(120_000);
    const c = portalClient(t);
    expect((await c.signInWithPin("maz@contoso.com", "739154")).body.next).toBe("email");
    const before = sink.messages().length;
    const sent = await c.post("/portal/api/signin/code/send");
    expect(sent.body.to).toBe("m•••z@outlook.com");
    const signInCode = () =>
      sink
        .messages()
        .slice(before)
        .find((m) => m.subject.includes("sign-in code"));
    await expect.poll(signInCode, { timeout: 5000 }).toBeDefined();
    const code = codeIn(signInCode()?.text ?? "") as string;
    expect((await c.post("/portal/api/signin/code", { code: "00000000" })).body.error.code).toBe(
      "recoveryCodeInvalid",
    );
    // A code sent for sign-in never works for anything else, e.g. as a recovery code.
    const recovery = await portalClient(t).post("/portal/api/recovery/start", {
      userPrincipalName: "maz@contoso.com",
    });
    await expect(
      t.services.portal.recovery.verifyCode(cliContext, recovery.body.recoveryToken, code),
    ).rejects.toMatchObject({
      code: "recoveryCodeInvalid",
    });
    const done = await c.post("/portal/api/signin/code", { code });
    expect(done.body).toMatchObject({ signedIn: true });
    await t.services.portal.portalPolicy.reset(cliContext);
  });

  it("never stores a code, answer or PIN in clear", async () => {
    const tables = [
      "outbox",
      "recovery_codes",
      "security_answers",
      "audit_events",
      "one_time_links",
      "pin_credentials",
    ];
    let dump = "";
    for (const table of tables)
      dump += JSON.stringify((await sql`select * from ${sql.table(table)}`.execute(t.db.kysely)).rows);
    for (const m of sink.messages()) {
      const code = codeIn(m.text);
      if (code) expect(dump).not.toContain(code);
    }
    for (const secret of ["739154", "482915", "leeds", "raleigh", "st mary's"])
      expect(dump.toLowerCase()).not.toContain(secret);
    expect(t.logs()).not.toContain("739154");
  });
});

describe("delivery that fails is visible to the user and the help desk", () => {
  let t: TestInstance;
  let refusing: SMTPServer;
  let smsCalls = 0;
  const sms = createServer((req, res) => {
    smsCalls++;
    req.resume();
    res.writeHead(503, { "content-type": "text/plain" }).end("carrier unavailable");
  });

  beforeAll(async () => {
    refusing = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onRcptTo(_address, _session, callback) {
        const error = new Error("5.1.1 mailbox unavailable") as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
      },
    });
    await new Promise<void>((r) => refusing.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => sms.listen(0, "127.0.0.1", () => r()));
    const smtpPort = (refusing.server.address() as AddressInfo).port;
    t = await createTestInstance("sqlite", {
      env: {
        PINDESK_SMTP_HOST: "127.0.0.1",
        PINDESK_SMTP_PORT: String(smtpPort),
        PINDESK_SMS_WEBHOOK_URL: `http://127.0.0.1:${(sms.address() as AddressInfo).port}/send`,
      },
    });
    await t.services.users.create(cliContext, {
      userPrincipalName: "stuck@contoso.com",
      displayName: "Stuck",
      mail: "stuck@outlook.com",
      mobilePhone: "+447700900456",
    });
    await t.services.pins.set(cliContext, "stuck@contoso.com", "482915");
  });
  afterAll(async () => {
    await t?.close();
    await new Promise<void>((r) => refusing.close(() => r()));
    await new Promise<void>((r) => sms.close(() => r()));
  });

  it("retries with backoff, then reports the provider's reason and the alternatives", async () => {
    const c = portalClient(t);
    const start = await c.post("/portal/api/recovery/start", { userPrincipalName: "stuck@contoso.com" });
    const token = start.body.recoveryToken;
    expect(start.body.helpdeskContact).toBeTruthy();
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: "directory-mail" });
    await expect
      .poll(
        async () => (await c.post("/portal/api/recovery/status", { recoveryToken: token })).body.detail ?? "",
        { timeout: 5000 },
      )
      .toContain("mailbox unavailable");
    for (let i = 0; i < 5; i++) {
      t.clock.advance(31 * 60_000);
      await t.services.outbox.processDue();
    }
    const status = await c.post("/portal/api/recovery/status", { recoveryToken: token });
    expect(status.body.status).toBe("failed");
    expect(status.body.detail).toContain("550");

    // The phone is the alternative; the SMS provider is down too, and that is visible as well.
    await c.post("/portal/api/recovery/send", { recoveryToken: token, channelId: "directory-phone" });
    await expect.poll(() => smsCalls, { timeout: 5000 }).toBeGreaterThan(0);

    // The help desk sees the same failure, with the next step.
    const user = await t.services.users.get("stuck@contoso.com");
    const detail = await t.services.admin.userDetail(cliContext, user.id);
    const mail = detail.recentMessages.find((m) => m.channel === "email");
    expect(mail).toMatchObject({ status: "failed", destinationMasked: "s•••k@outlook.com" });
    expect(mail?.lastError).toContain("550");
    expect(detail.whyStuck.summary.join(" ") + detail.whyStuck.nextStep).toContain("not arriving");
  });

  it("two senders never deliver one message twice", async () => {
    let received = 0;
    const counting = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, _s, cb) {
        stream.resume();
        stream.on("end", () => {
          received++;
          cb();
        });
      },
    });
    await new Promise<void>((r) => counting.listen(0, "127.0.0.1", () => r()));
    const { createOutbox } = await import("../src/delivery/outbox.ts");
    const { smtpTransport } = await import("../src/delivery/transports.ts");
    const transport = smtpTransport(
      {
        host: "127.0.0.1",
        port: (counting.server.address() as AddressInfo).port,
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
    expect(received).toBe(1);
    expect((await outbox.get(message.id))?.status).toBe("accepted");
    await new Promise<void>((r) => counting.close(() => r()));
  });
});
