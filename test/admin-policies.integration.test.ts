/**
 * Policy writes by role. Regression: any administrator (a Global Reader, a Helpdesk Administrator) could
 * change the PIN rules, the lockout, Emergency Access and the QR method, because only "some
 * administrator" was checked. The services now require Global Administrator or Authentication Policy
 * Administrator for every policy write, whoever calls them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { firstAdmin, type PortalClient, signedInWithRoles } from "./helpers/admin.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const WRITERS = ["Global Administrator", "Authentication Policy Administrator"];
const READ_ONLY = [
  "Global Reader",
  "Helpdesk Administrator",
  "Authentication Administrator",
  "Privileged Authentication Administrator",
  "Security Administrator",
  "Security Reader",
];

describe.each(dialects)("policy writes by role on %s", (dialect) => {
  let t: TestInstance;
  let root: PortalClient;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    root = await firstAdmin(t);
  });
  afterAll(() => t?.close());

  const snapshot = async () => {
    const res = await root.get("/portal/api/admin/policies");
    expect(res.statusCode).toBe(200);
    return {
      minLength: res.body.pin.policy.minLength,
      threshold: res.body.pin.policy.lockout.threshold,
      version: res.body.pin.version,
      emergency: res.body.portal.emergencyAccess.enabled,
      qrState: res.body.qr.state,
    };
  };

  it.each(READ_ONLY)("a %s reads the policies but cannot change any of them", async (role) => {
    const { client } = await signedInWithRoles(t, [role]);
    const before = await snapshot();
    const read = await client.get("/portal/api/admin/policies");
    expect(read.statusCode).toBe(200);
    expect(read.body.canManage).toBe(false);
    expect(read.body.manageRoles).toEqual(WRITERS);

    const attempts = [
      await client.patch("/portal/api/admin/policies/pin", { minLength: 9 }),
      await client.patch("/portal/api/admin/policies/pin", { lockout: { threshold: 3 } }),
      await client.patch("/portal/api/admin/policies/portal", {
        emergencyAccess: { enabled: !before.emergency },
      }),
      await client.patch("/portal/api/admin/policies/qr", { state: "disabled" }),
    ];
    for (const res of attempts) {
      expect(res.statusCode).toBe(403);
      expect(res.body.error.code).toBe("policyChangeForbidden");
      expect(res.body.error.message).toBe(
        "Changing policies needs the Global Administrator or Authentication Policy Administrator role; your role can only read them.",
      );
      expect(res.body.error.requiredRoles).toEqual(WRITERS);
      expect(res.body.error.yourRoles).toEqual([role]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it.each(WRITERS)("a %s changes the PIN, lockout, sign-in and QR policies", async (role) => {
    const { client } = await signedInWithRoles(t, [role]);
    const read = await client.get("/portal/api/admin/policies");
    expect(read.body.canManage).toBe(true);
    const before = await snapshot();
    const pin = await client.patch("/portal/api/admin/policies/pin", {
      minLength: before.minLength + 1,
      lockout: { threshold: before.threshold + 1 },
    });
    expect(pin.statusCode, JSON.stringify(pin.body)).toBe(200);
    const portal = await client.patch("/portal/api/admin/policies/portal", {
      emergencyAccess: { enabled: !before.emergency },
    });
    expect(portal.statusCode, JSON.stringify(portal.body)).toBe(200);
    const qr = await client.patch("/portal/api/admin/policies/qr", {
      state: before.qrState === "enabled" ? "disabled" : "enabled",
    });
    expect(qr.statusCode, JSON.stringify(qr.body)).toBe(200);
    const after = await snapshot();
    expect(after).toEqual({
      minLength: before.minLength + 1,
      threshold: before.threshold + 1,
      version: before.version + 1,
      emergency: !before.emergency,
      qrState: before.qrState === "enabled" ? "disabled" : "enabled",
    });
    // Put the defaults back for the next role.
    await t.services.policies.reset(cliContext);
    await t.services.portal.portalPolicy.reset(cliContext);
    await t.services.qr.resetPolicy(cliContext);
  });

  it("the services refuse a delegated caller whatever route it comes through", async () => {
    const ctx = {
      actor: { type: "user", id: "x", upn: "reader@contoso.com", roles: ["Global Reader"] },
    } as const;
    await expect(t.services.policies.update(ctx, { minLength: 9 })).rejects.toMatchObject({
      code: "policyChangeForbidden",
    });
    await expect(t.services.policies.reset(ctx)).rejects.toMatchObject({ code: "policyChangeForbidden" });
    await expect(t.services.portal.portalPolicy.update(ctx, {})).rejects.toMatchObject({
      code: "policyChangeForbidden",
    });
    await expect(t.services.portal.portalPolicy.reset(ctx)).rejects.toMatchObject({
      code: "policyChangeForbidden",
    });
    await expect(t.services.qr.updatePolicy(ctx, { state: "disabled" })).rejects.toMatchObject({
      code: "policyChangeForbidden",
    });
    await expect(t.services.qr.resetPolicy(ctx)).rejects.toMatchObject({ code: "policyChangeForbidden" });
    // The CLI keeps the operator's access.
    const saved = await t.services.policies.update(cliContext, { minLength: 6 });
    expect(saved.policy.minLength).toBe(6);
  });
});
