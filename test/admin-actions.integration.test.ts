/**
 * The admin portal's actions behind the user page, on each database: QR badges, removing a method,
 * recovery links, unblock, the audit trail's filters and exports, policy previews, and the setup link.
 * Regressions pinned here are named in each test.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { firstAdmin, type PortalClient, signedInWithRoles } from "./helpers/admin.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";
import { startMailSink } from "./helpers/portal.ts";
import { portalClient } from "./helpers/portal-client.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe.each(dialects)("admin actions on %s", (dialect) => {
  let t: TestInstance;
  let admin: PortalClient;
  let sink: Awaited<ReturnType<typeof startMailSink>>;

  beforeAll(async () => {
    sink = await startMailSink();
    t = await createTestInstance(dialect, { env: sink.env });
    admin = await firstAdmin(t);
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  const add = async (
    upn: string,
    pin: string | null,
    extra: { mail?: string; displayName?: string; mobilePhone?: string } = {},
  ) => {
    const user = await t.services.users.create(cliContext, {
      userPrincipalName: upn,
      displayName: extra.displayName ?? (upn.split("@")[0] as string),
      ...(extra.mail && { mail: extra.mail }),
      ...(extra.mobilePhone && { mobilePhone: extra.mobilePhone }),
    });
    if (pin) await t.services.pins.set(cliContext, user.id, pin);
    return user;
  };
  const detail = async (id: string) => (await admin.get(`/portal/api/admin/users/${id}`)).body;
  /** A verified sign-in method of the user, written straight to the database; returns its id. */
  const addMethod = async (userId: string, type: "rfid" | "email", name: string, data: unknown) => {
    const id = randomUUID();
    await t.services.repos.authMethods.insert({
      id,
      user_id: userId,
      type,
      name,
      secret_sealed: null,
      lookup_hash: `test-${id}`,
      data: JSON.stringify(data),
      verified: 1,
      last_step: null,
      created_at: t.clock.now(),
      last_used_at: null,
    });
    return id;
  };
  const rawOf = (code: { image?: { rawContent: string } }) =>
    Buffer.from(code.image?.rawContent ?? "", "base64").toString("utf8");

  it("creates a QR badge, and a rejected PIN leaves the printed badge working (regression)", async () => {
    const user = await add("badge@contoso.com", null, { displayName: "Bea Badge" });
    const created = await admin.post(`/portal/api/admin/users/${user.id}/qr`, { pin: "48291573" });
    expect(created.statusCode, JSON.stringify(created.body)).toBe(200);
    expect(created.body.result).toBe("qrCreated");
    expect(created.body.message).toContain("Print it now");
    const first = (await detail(user.id)).qr.codes.find((c: { kind: string }) => c.kind === "standard");
    const printed = rawOf(created.body.code);

    // Regression: the old badge was deleted before the new PIN was checked; a 400 still broke the badge.
    const weak = await admin.post(`/portal/api/admin/users/${user.id}/qr`, { pin: "12345678" });
    expect(weak.statusCode).toBe(400);
    expect(weak.body.error.code).toBe("pinHasSequence");
    const letters = await admin.post(`/portal/api/admin/users/${user.id}/qr`, { pin: "abc" });
    expect(letters.statusCode).toBe(400);
    const after = (await detail(user.id)).qr.codes.find((c: { kind: string }) => c.kind === "standard");
    expect(after.id).toBe(first.id);
    // The user still signs in with the printed badge (the PIN given with it must be changed first).
    const stillWorks = await t.services.qr.signIn(cliContext, printed, "48291573");
    expect(stillWorks.result).toBe("pinChangeRequired");

    const replaced = await admin.post(`/portal/api/admin/users/${user.id}/qr`, { pin: "73016482" });
    expect(replaced.statusCode, JSON.stringify(replaced.body)).toBe(200);
    expect(replaced.body.result).toBe("qrReplaced");
    expect(replaced.body.message).toContain("the old badge no longer works");
    const next = (await detail(user.id)).qr.codes.find((c: { kind: string }) => c.kind === "standard");
    expect(next.id).not.toBe(first.id);
    await expect(t.services.qr.signIn(cliContext, printed, "73016482")).rejects.toMatchObject({
      code: "qrCodeInvalid",
    });
    expect((await t.services.qr.signIn(cliContext, rawOf(replaced.body.code), "73016482")).result).toBe(
      "pinChangeRequired",
    );

    const temporary = await admin.post(`/portal/api/admin/users/${user.id}/qr/temporary`);
    expect(temporary.body.result).toBe("temporaryQrCreated");
    expect(temporary.body.message).toMatch(
      /^Temporary QR code created, valid until .+ UTC\. Show or print it now/,
    );
    expect((await detail(user.id)).qr.codes.map((c: { kind: string }) => c.kind).sort()).toEqual([
      "standard",
      "temporary",
    ]);
    // The worker lost it: the help desk issues another at once, and the first stops working.
    const again = await admin.post(`/portal/api/admin/users/${user.id}/qr/temporary`);
    expect(again.statusCode, JSON.stringify(again.body)).toBe(200);
    expect(again.body.result).toBe("temporaryQrReplaced");
    expect(again.body.message).toContain("the previous temporary code no longer works");
    await expect(
      t.services.qr.signIn(cliContext, rawOf(temporary.body.code), "73016482"),
    ).rejects.toMatchObject({
      code: "qrCodeInvalid",
    });
    expect((await t.services.qr.signIn(cliContext, rawOf(again.body.code), "73016482")).result).toBe(
      "pinChangeRequired",
    );
    const replacedEvents = await t.services.audit.query({ action: "qr.temporaryCode.replaced", limit: 5 });
    expect(replacedEvents).toHaveLength(1);

    const removed = await admin.delete(`/portal/api/admin/users/${user.id}/methods/qr`);
    expect(removed.body).toEqual({
      result: "removed",
      message: `QR badge removed, and with it ${user.displayName}'s PIN (state: No PIN). Generate a temporary PIN if they still need to sign in.`,
    });
    const gone = await detail(user.id);
    expect(gone.qr).toBeNull();
    expect(gone.pin.state).toBe("No PIN");
  });

  it("removes a sign-in method of the user", async () => {
    const user = await add("methods@contoso.com", "482915");
    const id = await addMethod(user.id, "rfid", "Blue badge", {});
    expect((await detail(user.id)).methods.map((m: { id: string }) => m.id)).toContain(id);
    const removed = await admin.delete(`/portal/api/admin/users/${user.id}/methods/${id}`);
    expect(removed.statusCode).toBe(200);
    expect((await detail(user.id)).methods.map((m: { id: string }) => m.id)).not.toContain(id);
    const again = await admin.delete(`/portal/api/admin/users/${user.id}/methods/${id}`);
    expect(again.body.error.code).toBe("methodNotFound");
  });

  it("sends a recovery link and says what became of it; no address → no button and a clear refusal", async () => {
    const nobody = await add("nomail@contoso.com", "482915");
    const view = await detail(nobody.id);
    expect(view.recovery).toEqual({
      channels: [],
      cannotSend: "They have no email address or mobile number on file to send a link to.",
    });
    const refused = await admin.post(`/portal/api/admin/users/${nobody.id}/recovery-link`);
    expect(refused.statusCode).toBe(409);
    expect(refused.body.error.code).toBe("noRecoveryChannel");

    const user = await add("withmail@contoso.com", "482915", { mail: "withmail@fabrikam.com" });
    expect((await detail(user.id)).recovery.cannotSend).toBeNull();
    const sent = await admin.post(`/portal/api/admin/users/${user.id}/recovery-link`);
    expect(sent.statusCode, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.result).toBe("sent");
    expect(sent.body.message).toBe(
      "Recovery link sent to w•••l@fabrikam.com: the provider accepted it. It works once, for 24 hours.",
    );
    const link = sink
      .messages()
      .find((m) => m.to.includes("withmail@fabrikam.com") && m.text.includes("/portal/reset#"));
    expect(link).toBeDefined();
    const events = (await detail(user.id)).recentEvents.map((e: { action: string }) => e.action);
    expect(events).toContain("recovery.linkSent");
    // The page asks, before the PIN is typed, whether the link works and which rules apply; nothing is spent.
    const resetToken = /\/portal\/reset#(\S+)/.exec(link?.text ?? "")?.[1] ?? "";
    const person = portalClient(t);
    for (let i = 0; i < 2; i++) {
      const rules = await person.post("/portal/api/recovery/rules", { resetToken });
      expect(rules.body).toEqual({ pinProfile: "standard", expiresAt: expect.any(String) });
    }
    const changed = await person.post("/portal/api/recovery/pin", {
      resetToken,
      newPin: "730164",
      confirmPin: "730164",
    });
    expect(changed.body.result).toBe("pinChanged");
    const spent = await person.post("/portal/api/recovery/rules", { resetToken });
    expect(spent.body.error.code).toBe("recoveryLinkInvalid");
  });

  it("a recovery link goes to the first channel this PinDesk can deliver to; with none, a refusal that says why", async () => {
    // Text messages are not set up here; email is.
    const phoneOnly = await add("phone.only@contoso.com", "482915", { mobilePhone: "+44 7700 900777" });
    expect((await detail(phoneOnly.id)).recovery.cannotSend).toMatch(
      /^Delivery is not set up on this PinDesk/,
    );
    const refused = await admin.post(`/portal/api/admin/users/${phoneOnly.id}/recovery-link`);
    expect(refused.statusCode).toBe(409);
    expect(refused.body.error.code).toBe("deliveryUnavailable");
    expect(refused.body.error.mitigation).toContain("generate a temporary PIN");

    // The phone is on file first, a verified email second: the link goes by email.
    const both = await add("phone.first@contoso.com", "482915", { mobilePhone: "+44 7700 900778" });
    await addMethod(both.id, "email", "Email", { address: "phone.first@fabrikam.com" });
    const sent = await admin.post(`/portal/api/admin/users/${both.id}/recovery-link`);
    expect(sent.statusCode, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.message).toMatch(/^Recovery link sent to p•••t@fabrikam\.com/);
  });

  it("unblock on a user without a PIN says there is no PIN (not 'they can sign in with it')", async () => {
    const user = await add("nopin.unblock@contoso.com", null);
    const res = await admin.post(`/portal/api/admin/users/${user.id}/pin/unblock`);
    expect(res.statusCode).toBe(409);
    expect(res.body.error).toMatchObject({
      code: "nothingToUnblockNoPin",
      message: "This user has no PIN, so there is no lockout to clear.",
      mitigation: "Generate a temporary PIN (or use Reset PIN) and give it to the user.",
    });
  });

  it("describes a temporary PIN just issued as not yet used, with one time format", async () => {
    const user = await add("temp.words@contoso.com", "482915");
    await admin.post(`/portal/api/admin/users/${user.id}/pin/temporary`);
    const view = await detail(user.id);
    expect(view.pin.description).toBe(
      "Must change: a temporary PIN was issued by root@contoso.com at 25 May 2026, 09:00 UTC. The user signs in with it before 28 May 2026, 09:00 UTC and then chooses their own PIN.",
    );
    expect(view.whyStuck.nextStep).toBe(
      "They must sign in with the temporary PIN before 28 May 2026, 09:00 UTC and choose a new one. If it was lost, generate a new temporary PIN.",
    );
    expect(JSON.stringify(view.whyStuck)).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it("tells a read-only administrator why the actions are missing", async () => {
    const { client } = await signedInWithRoles(t, ["Global Reader"]);
    const user = await add("looked.at@contoso.com", "482915", { displayName: "Lou Looked" });
    const view = (await client.get(`/portal/api/admin/users/${user.id}`)).body;
    expect(view.canManage).toBe(false);
    expect(view.manageReason).toBe(
      "Your role (Global Reader) can view Lou Looked but not change their PIN or methods. Ask a Privileged Authentication Administrator or a Global Administrator.",
    );
    const refused = await client.post(`/portal/api/admin/users/${user.id}/pin/temporary`);
    expect(refused.statusCode).toBe(403);
  });

  it("filters the audit trail by user, by who did it (as typed), by action and by time", async () => {
    // Regression: "Done by" matched only the stored form: root@contoso.com found nothing.
    const a = await add("audit.a@contoso.com", "482915");
    const b = await add("audit.b@contoso.com", "593026");
    await admin.post(`/portal/api/admin/users/${a.id}/pin/temporary`);
    // Less than the session's idle time, so the administrator stays signed in.
    t.clock.advance(10 * MINUTE);
    await admin.post(`/portal/api/admin/users/${b.id}/pin/temporary`);
    const audit = async (params: Record<string, string>) =>
      (await admin.get(`/portal/api/admin/audit?${new URLSearchParams(params)}`)).body.events as {
        action: string;
        actor: string;
        targetUpn: string | null;
        at: string;
      }[];
    for (const actor of ["root@contoso.com", "ROOT@Contoso.com", "user:root@contoso.com"]) {
      const byRoot = await audit({ actor, action: "pin.resetTemporary" });
      expect(byRoot.map((e) => e.targetUpn).sort(), actor).toEqual(
        expect.arrayContaining(["audit.a@contoso.com", "audit.b@contoso.com"]),
      );
      expect(byRoot.every((e) => e.actor === "user:root@contoso.com")).toBe(true);
    }
    expect(await audit({ actor: "someone.else@contoso.com" })).toEqual([]);
    const forA = await audit({ user: "audit.a@contoso.com" });
    expect(forA.length).toBeGreaterThan(0);
    expect(forA.every((e) => e.targetUpn === "audit.a@contoso.com")).toBe(true);
    // The wildcard and a time window: the earlier event disappears from the later window.
    const later = new Date(t.clock.now() - 5 * MINUTE).toISOString();
    const recent = await audit({ action: "pin.*", from: later });
    expect(recent.some((e) => e.targetUpn === "audit.b@contoso.com")).toBe(true);
    expect(recent.some((e) => e.targetUpn === "audit.a@contoso.com")).toBe(false);
    const earlier = await audit({ action: "pin.resetTemporary", to: later });
    expect(earlier.some((e) => e.targetUpn === "audit.a@contoso.com")).toBe(true);
    expect(earlier.some((e) => e.targetUpn === "audit.b@contoso.com")).toBe(false);
    // The user's own sign-ins are found as "the user (sign-in)".
    await t.services.pins
      .verify({ actor: { type: "anonymous" } }, "audit.a@contoso.com", "000013")
      .catch(() => undefined);
    const own = await audit({ actor: "the user (sign-in)", user: "audit.a@contoso.com" });
    expect(own.map((e) => e.action)).toContain("pin.verify");
  });

  it("exports the whole matching trail, past any page size (regression: cut at 10,000 silently)", async () => {
    const user = await add("export.me@contoso.com", null);
    for (let i = 0; i < 1100; i++)
      await t.services.audit.record(cliContext, {
        action: "test.bulk",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
        details: { n: i },
      });
    const cookie = [...admin.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const csv = await t.app.inject({
      url: "/portal/api/admin/audit?action=test.bulk&format=csv",
      headers: { cookie },
    });
    expect(csv.headers["content-type"]).toContain("text/csv");
    const lines = csv.body.trim().split("\r\n");
    expect(lines[0]).toBe(
      "id,at,actor,action,outcome,reason,targetUserId,targetUpn,ip,userAgent,requestId,details",
    );
    expect(lines).toHaveLength(1101);
    const ns = new Set(lines.slice(1).map((l) => /""n"":(\d+)/.exec(l)?.[1]));
    expect(ns.size).toBe(1100);
    const jsonl = await t.app.inject({
      url: "/portal/api/admin/audit?action=test.bulk&format=jsonl",
      headers: { cookie },
    });
    expect(jsonl.body.trim().split("\n")).toHaveLength(1100);
    const page = await admin.get("/portal/api/admin/audit?action=test.bulk");
    expect(page.body.events).toHaveLength(200);
    expect(page.body.more).toBe(true);
  });

  it("previews each policy change with its effect on users", async () => {
    const pinPreview = await admin.post("/portal/api/admin/policies/pin/preview", { minLength: 12 });
    expect(pinPreview.statusCode, JSON.stringify(pinPreview.body)).toBe(200);
    expect(pinPreview.body.changes).toContain("PIN length: 12 to 127 characters.");
    // The number comes from the PIN service's count over stored PIN profiles.
    const { impact } = await t.services.policies.preview({ minLength: 12 });
    expect(pinPreview.body.pinsNotCompliant).toBe(impact.notCompliant);
    expect(impact.notCompliant).toBeGreaterThan(0);
    expect(pinPreview.body.message).toContain(
      `${impact.notCompliant} users' PINs no longer comply; they will be asked to change it at their next sign-in`,
    );

    const locked = await add("three.wrong@contoso.com", "482915");
    for (let i = 0; i < 3; i++)
      await t.services.pins.verify(cliContext, locked.userPrincipalName, "000013").catch(() => undefined);
    const lockout = await admin.post("/portal/api/admin/policies/pin/preview", { lockout: { threshold: 3 } });
    expect(lockout.body.effects).toContainEqual(
      expect.stringMatching(/^1 user is at or past the new threshold of 3 wrong PINs/),
    );
    const bad = await admin.post("/portal/api/admin/policies/pin/preview", { lockout: { threshold: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body.error.code).toBe("invalidPolicy");

    const portal = await admin.post("/portal/api/admin/policies/portal/preview", {
      emergencyAccess: { enabled: true },
    });
    expect(portal.statusCode, JSON.stringify(portal.body)).toBe(200);
    expect(portal.body.changes).toEqual(["Emergency Access turned on."]);
    expect(portal.body.effects[0]).toMatch(/^0 users have registered security answers/);
    const invalid = await admin.post("/portal/api/admin/policies/portal/preview", {
      emergencyAccess: { askCount: 9, registerCount: 3 },
    });
    expect(invalid.body.error.problems).toContainEqual({
      field: "emergencyAccess.askCount",
      message: "cannot exceed registerCount",
    });
    const sets = await admin.post("/portal/api/admin/policies/portal/preview", {
      authSets: [{ id: "standard", name: "Standard", methods: ["pin", "totp"], users: [], roles: [] }],
    });
    expect(sets.body.changes).toEqual(["Set changed to Standard: PIN + Authenticator app code."]);
    expect(sets.body.effects[0]).toMatch(/^\d+ users of Standard will also need authenticator app code/);
    // Email is set up on this instance, text messages are not: a set that needs an SMS code, and
    // Forgot PIN by text message, are flagged before anything is saved.
    const smsSet = await admin.post("/portal/api/admin/policies/portal/preview", {
      authSets: [{ id: "standard", name: "Standard", methods: ["pin", "sms"], users: [], roles: [] }],
      recovery: { channels: ["sms"] },
    });
    expect(smsSet.body.effects).toContainEqual(
      expect.stringMatching(
        /^Standard needs a code by text message, but this PinDesk is not set up to send text messages: its users could not finish signing in \(.*PINDESK_SMS_WEBHOOK_URL.*\)\.$/,
      ),
    );
    expect(smsSet.body.effects).toContainEqual(
      expect.stringMatching(/^Forgot PIN will not offer text messages until delivery is set up \(/),
    );
    const emailSet = await admin.post("/portal/api/admin/policies/portal/preview", {
      authSets: [{ id: "standard", name: "Standard", methods: ["pin", "email"], users: [], roles: [] }],
    });
    expect(emailSet.body.effects.join(" ")).not.toContain("not set up");

    const qr = await admin.post("/portal/api/admin/policies/qr/preview", { state: "disabled" });
    expect(qr.body.changes).toEqual(["QR code sign-in turned off."]);
    // Nothing was saved by any preview.
    expect((await admin.get("/portal/api/admin/policies")).body.qr.state).toBe("enabled");
    expect((await admin.get("/portal/api/admin/policies")).body.pin.policy.minLength).toBe(6);
  });
});

describe.each(dialects)("setup link on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  const redeem = (token: string, upn: string, pin = "58203917") =>
    portalClient(t).post("/portal/api/setup", {
      token,
      userPrincipalName: upn,
      displayName: "First Admin",
      pin,
      confirmPin: pin,
    });
  const tokenOf = async () =>
    (await t.services.admin.createSetupLink(cliContext, t.config.publicUrl)).url.split("#")[1] as string;

  it("a mistake in the form does not use up the link (regression)", async () => {
    const token = await tokenOf();
    const badName = await redeem(token, "not a user name");
    expect(badName.statusCode).toBe(400);
    expect(badName.body.error.problems[0].field).toBe("userPrincipalName");
    const weakPin = await redeem(token, "first@contoso.com", "123456");
    expect(weakPin.statusCode).toBe(400);
    const ok = await redeem(token, "first@contoso.com");
    expect(ok.statusCode, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.next).toBe("/portal/me/methods");
    // Single use.
    const again = await redeem(token, "second@contoso.com");
    expect(again.body.error.code).toBe("setupLinkInvalid");
    expect(await t.services.users.get("second@contoso.com").catch((e) => e.code)).toBe("userNotFound");
  });

  it("expires 24 hours after it was created", async () => {
    const token = await tokenOf();
    t.clock.advance(24 * HOUR - 1);
    const early = await tokenOf();
    t.clock.advance(1);
    expect((await redeem(token, "late@contoso.com")).body.error.code).toBe("setupLinkInvalid");
    expect((await redeem(early, "ontime@contoso.com")).statusCode).toBe(200);
  });

  it("two tabs redeeming one link create one administrator", async () => {
    const token = await tokenOf();
    const results = await Promise.all([
      redeem(token, "tab.one@contoso.com"),
      redeem(token, "tab.two@contoso.com"),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    const created = await Promise.all(
      ["tab.one@contoso.com", "tab.two@contoso.com"].map((u) =>
        t.services.users.get(u).then(
          () => 1,
          () => 0,
        ),
      ),
    );
    expect(created.reduce((a: number, b: number) => a + b, 0)).toBe(1);
  });
});
