import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";
import { portalClient } from "./helpers/portal-client.ts";

describe.each(dialects)("admin API on %s", (dialect) => {
  let t: TestInstance;
  let admin: ReturnType<typeof portalClient>;

  const addUser = async (
    upn: string,
    pin: string | null,
    extra: { roles?: string[]; mail?: string; displayName?: string } = {},
  ) => {
    const user = await t.services.users.create(cliContext, {
      userPrincipalName: upn,
      displayName: extra.displayName ?? (upn.split("@")[0] as string),
      ...(extra.roles && { roles: extra.roles }),
      ...(extra.mail && { mail: extra.mail }),
    });
    if (pin) await t.services.pins.set(cliContext, upn, pin);
    return user;
  };

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    // First run: a setup link creates the first administrator, once.
    expect((await portalClient(t).get("/portal/api/setup/status")).body).toEqual({ needsSetup: true });
    const link = await t.services.admin.createSetupLink(cliContext, t.config.publicUrl);
    const token = link.url.split("#")[1] as string;
    admin = portalClient(t);
    const created = await admin.post("/portal/api/setup", {
      token,
      userPrincipalName: "root@contoso.com",
      displayName: "Root Admin",
      pin: "58203917",
      confirmPin: "58203917",
    });
    expect(created.statusCode).toBe(200);
    expect(created.body.result).toBe("created");
    const reuse = await portalClient(t).post("/portal/api/setup", {
      token,
      userPrincipalName: "evil@contoso.com",
      displayName: "Evil",
      pin: "58203917",
      confirmPin: "58203917",
    });
    expect(reuse.body.error.code).toBe("setupLinkInvalid");
    await admin.get("/portal/api/session");
  });
  afterAll(() => t?.close());

  it("searches users by UPN, name or mail prefix and by state, with paging", async () => {
    await addUser("ana.lopez@contoso.com", "482915", { displayName: "Ana Lopez", mail: "ana@fabrikam.com" });
    await addUser("ben.ng@contoso.com", null, { displayName: "Ben Ng" });
    for (let i = 0; i < 30; i++) await addUser(`worker${String(i).padStart(2, "0")}@contoso.com`, null);
    const byUpn = await admin.get("/portal/api/admin/users?q=ana.");
    expect(byUpn.body.users.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual([
      "ana.lopez@contoso.com",
    ]);
    const byName = await admin.get("/portal/api/admin/users?q=BEN%20n");
    expect(byName.body.users[0].state).toBe("No PIN");
    const byMail = await admin.get("/portal/api/admin/users?q=ana%40fab");
    expect(byMail.body.users).toHaveLength(1);
    const page1 = await admin.get("/portal/api/admin/users?q=worker&limit=20");
    expect(page1.body.users).toHaveLength(20);
    const page2 = await admin.get(
      `/portal/api/admin/users?q=worker&limit=20&cursor=${page1.body.nextCursor}`,
    );
    expect(page2.body.users).toHaveLength(10);
    expect(page2.body.nextCursor).toBeNull();
    const noPin = await admin.get("/portal/api/admin/users?state=No%20PIN&limit=100");
    expect(noPin.body.users.every((u: { state: string }) => u.state === "No PIN")).toBe(true);
    expect(noPin.body.users.length).toBe(31);
  });

  it("shows a locked user, unblocks, resets and generates a temporary PIN, each confirmed", async () => {
    const user = await addUser("locked@contoso.com", "739154");
    for (let i = 0; i < 10; i++)
      await t.services.pins.verify(cliContext, "locked@contoso.com", "000013").catch(() => undefined);
    const locked = await admin.get("/portal/api/admin/users?state=Account%20Lockout");
    expect(locked.body.users.map((u: { id: string }) => u.id)).toEqual([user.id]);
    const detail = await admin.get(`/portal/api/admin/users/${user.id}`);
    expect(detail.body.pin.state).toBe("Account Lockout");
    expect(detail.body.whyStuck.nextStep).toContain("Unblock PIN");
    expect(detail.body.pin.description).toMatch(
      /^Locked after 10 wrong PINs at \d+ \w+ 2026, \d\d:\d\d UTC; unlocks automatically at /,
    );

    const unblocked = await admin.post(`/portal/api/admin/users/${user.id}/pin/unblock`);
    expect(unblocked.body).toMatchObject({ result: "unblocked", pin: { state: "Steady State" } });
    const mismatch = await admin.post(`/portal/api/admin/users/${user.id}/pin/reset`, {
      pin: "604918",
      confirmPin: "604917",
    });
    expect(mismatch.body.error.code).toBe("pinMismatch");
    const reset = await admin.post(`/portal/api/admin/users/${user.id}/pin/reset`, {
      pin: "604918",
      confirmPin: "604918",
    });
    expect(reset.body.message).toContain("must choose a new PIN");
    const temp = await admin.post(`/portal/api/admin/users/${user.id}/pin/temporary`, {});
    expect(temp.body.temporaryPin).toMatch(/^\d{8}$/);
    expect(temp.body.message).toContain("they must change it at sign-in");
    const outcome = await t.services.pins.verify(cliContext, "locked@contoso.com", temp.body.temporaryPin);
    expect(outcome.result).toBe("pinChangeRequired");

    const audit = await admin.get(`/portal/api/admin/audit?user=${user.id}&format=jsonl`);
    expect(audit.statusCode).toBe(200);
    const csv = await t.app.inject({
      method: "GET",
      url: `/portal/api/admin/audit?user=${user.id}&format=csv`,
      headers: { cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    expect(csv.headers["content-type"]).toContain("text/csv");
    expect(csv.body).toContain("pin.unblock");
    expect(csv.body).toContain("user:root@contoso.com");
    expect(csv.body).not.toContain(temp.body.temporaryPin);
  });

  it("enforces role limits: an Authentication Administrator cannot reset a Global Administrator", async () => {
    const helpdesk = await addUser("helpdesk@contoso.com", "816294", {
      roles: ["Authentication Administrator"],
    });
    const boss = await addUser("boss@contoso.com", "927305", { roles: ["Global Administrator"] });
    const plain = await addUser("plain@contoso.com", "391846");
    const c = portalClient(t);
    await c.signInWithPin(helpdesk.userPrincipalName, "816294");
    await c.get("/portal/api/session");
    const denied = await c.post(`/portal/api/admin/users/${boss.id}/pin/temporary`, {});
    expect(denied.statusCode).toBe(403);
    expect(denied.body.error.code).toBe("forbiddenTarget");
    const allowed = await c.post(`/portal/api/admin/users/${plain.id}/pin/temporary`, {});
    expect(allowed.statusCode).toBe(200);

    const user = portalClient(t);
    await user.signInWithPin("plain@contoso.com", allowed.body.temporaryPin);
    // A Must Change user completes the change first; then they still are not an administrator.
    await user.post("/portal/api/signin/change-pin", { newPin: "572930", confirmPin: "572930" });
    await user.get("/portal/api/session");
    expect((await user.get("/portal/api/admin/users")).statusCode).toBe(403);
  });

  it("the search says which users the caller's role may open, as the user page decides", async () => {
    const desk = await addUser("desk.hd@contoso.com", "816295", { roles: ["Helpdesk Administrator"] });
    const authAdmin = await addUser("desk.authadmin@contoso.com", "927306", {
      roles: ["Authentication Administrator"],
    });
    const plain = await addUser("desk.plain@contoso.com", "391847");
    const c = portalClient(t);
    await c.signInWithPin(desk.userPrincipalName, "816295");
    await c.get("/portal/api/session");
    const found = await c.get("/portal/api/admin/users?q=desk.");
    const canOpen = Object.fromEntries(
      (found.body.users as { userPrincipalName: string; canOpen: boolean }[]).map((u) => [
        u.userPrincipalName,
        u.canOpen,
      ]),
    );
    expect(canOpen).toMatchObject({ [authAdmin.userPrincipalName]: false, [plain.userPrincipalName]: true });
    expect((await c.get(`/portal/api/admin/users/${authAdmin.id}`)).statusCode).toBe(403);
    expect((await c.get(`/portal/api/admin/users/${plain.id}`)).statusCode).toBe(200);
  });

  it("previews a stricter policy before saving it, and reports the dashboard", async () => {
    const preview = await admin.post("/portal/api/admin/policies/pin/preview", { minLength: 8 });
    expect(preview.body.pinsNotCompliant).toBeGreaterThan(0);
    expect(preview.body.message).toContain("next sign-in");
    const lax = await admin.post("/portal/api/admin/policies/pin/preview", { lockout: { threshold: 20 } });
    expect(lax.body.pinsNotCompliant).toBe(0);
    expect(lax.body.message).toBe(
      "No user is affected: every current PIN still complies and nobody is locked by this change.",
    );
    const dashboard = await admin.get("/portal/api/admin/dashboard");
    expect(dashboard.body.usersPerState["No PIN"]).toBeGreaterThanOrEqual(31);
    expect(dashboard.body.lockouts).toHaveLength(7);
    expect(
      dashboard.body.lockouts.reduce((s: number, d: { count: number }) => s + d.count, 0),
    ).toBeGreaterThanOrEqual(1);
  });

  it("explains error codes in the troubleshooter", async () => {
    const res = await admin.get("/portal/api/admin/errors/0x801c004d");
    expect(res.body.kind).toBe("windowsHello");
  });
});
