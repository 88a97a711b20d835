/**
 * The QR code + PIN surface's finer behaviour, as Graph documents it: code lifetimes, replacing expired
 * methods and codes, case-insensitive paths, the policy's answers and targets, Graph's PIN error, the
 * user's one PIN, and badges that survive a rename. Each test names the defect it pins.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertPermission } from "../src/http/graph/access.ts";
import { cliContext } from "../src/services/context.ts";
import type { User } from "../src/store/repos/users.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";
const raw = (rawContent: string) => Buffer.from(rawContent, "base64").toString("utf8");

describe.each(dialects)("Graph QR behaviour on %s", (dialect) => {
  let t: TestInstance;
  let admin: string;
  let n = 0;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    await token();
  });
  afterAll(() => t?.close());

  const token = async () => {
    admin = await bearerFor(
      t,
      "User.ReadWrite.All",
      "UserAuthenticationMethod.ReadWrite.All",
      "Policy.ReadWrite.AuthenticationMethod",
    );
  };

  const newUser = (label: string): Promise<User> =>
    t.services.users.create(cliContext, {
      userPrincipalName: `${label}.${++n}@contoso.com`,
      displayName: `${label} ${n}`,
    });

  const call = (method: "GET" | "PUT" | "PATCH" | "POST" | "DELETE", url: string, payload?: object) =>
    t.app.inject({ method, url, headers: { authorization: admin }, ...(payload && { payload }) });

  const dates = (fromNowMs: number, lengthMs: number) => ({
    startDateTime: new Date(t.clock.now() + fromNowMs).toISOString(),
    expireDateTime: new Date(t.clock.now() + fromNowMs + lengthMs).toISOString(),
  });

  const methodUrl = (user: User, version = "v1.0") =>
    `/${version}/users/${user.id}/authentication/qrCodePinMethod`;

  const create = async (user: User, pin = "48291573", lengthMs = 30 * DAY) => {
    const res = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, lengthMs),
      pin: { code: pin },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };

  const signIn = (qrCode: string, pin: string) =>
    t.app.inject({ method: "POST", url: "/api/v1/signin/qr", payload: { qrCode, pin } });

  it("standard codes last 1 to 395 days and temporary codes 1 to 12 hours, and the error says so", async () => {
    const user = await newUser("lifetime");
    const short = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 12 * HOUR),
      pin: { code: "48291573" },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.code).toBe("invalidQrCodeLifetime");
    expect(short.json().error.message).toBe(
      "A standard QR code must be valid for 1 to 395 days: expireDateTime must be 1 to 395 days after startDateTime (these dates give 0.5 days).",
    );
    const long = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 396 * DAY),
      pin: { code: "48291573" },
    });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.message).toContain("1 to 395 days");
    await create(user, "48291573", DAY);

    const tooLong = await call("PATCH", `${methodUrl(user)}/temporaryQRCode`, dates(0, 13 * HOUR));
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error.message).toBe(
      "A temporary QR code must be valid for 1 to 12 hours: expireDateTime must be 1 to 12 hours after startDateTime (these dates give 13 hours).",
    );
    const tooShort = await call("PATCH", `${methodUrl(user)}/temporaryQRCode`, dates(0, 0.5 * HOUR));
    expect(tooShort.json().error.message).toContain("1 to 12 hours");
    expect((await call("PATCH", `${methodUrl(user)}/temporaryQRCode`, dates(0, HOUR))).statusCode).toBe(201);
  });

  it("a method whose codes have all expired is replaced by PUT, and PATCH re-creates an expired standard code", async () => {
    const user = await newUser("expired");
    const first = await create(user, "48291573", 2 * DAY);
    t.clock.advance(3 * DAY);
    await token();
    const newCode = await call("PATCH", `${methodUrl(user)}/standardQRCode`, dates(0, 30 * DAY));
    expect(newCode.statusCode, newCode.body).toBe(201);
    expect(newCode.json().id).not.toBe(first.standardQRCode.id);
    expect(newCode.json().image.rawContent).toBeTruthy();
    const badge = raw(newCode.json().image.rawContent);
    expect((await signIn(badge, "48291573")).json().result).toBe("pinChangeRequired");

    // Active again: a second method is refused with Graph's text.
    const again = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 30 * DAY),
      pin: { code: "73016482" },
    });
    expect(again.statusCode).toBe(400);
    expect(again.json().error).toMatchObject({
      code: "tooManyQRCodePinMethod",
      message:
        "There can be only one active QR code auth method for a user, please delete existing QR code auth method to create a new one.",
    });

    t.clock.advance(31 * DAY);
    await token();
    const replaced = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 30 * DAY),
      pin: { code: "73016482" },
    });
    expect(replaced.statusCode, replaced.body).toBe(201);
    const method = (await call("GET", methodUrl(user))).json();
    expect(method.standardQRCode.id).toBe(replaced.json().standardQRCode.id);
    expect((await signIn(badge, "73016482")).json().error.code).toBe("qrCodeInvalid");
  });

  it("routes any spelling of the path segments, keeping the user reference as given", async () => {
    const user = await newUser("casing");
    const created = await create(user);
    const upn = encodeURIComponent(user.userPrincipalName);
    for (const url of [
      `/v1.0/users/${upn}/authentication/qrcodePinMethod/standardQrCode`,
      `/beta/Users/${upn}/Authentication/QRCODEPINMETHOD/StandardQRCode`,
      `/v1.0/users/${user.id.toUpperCase()}/authentication/qrCodePinMethod/standardqrcode`,
    ]) {
      const res = await call("GET", url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.json().id).toBe(created.standardQRCode.id);
    }
    const patched = await call(
      "PATCH",
      `/v1.0/users/${upn}/Authentication/QrCodePinMethod/TemporaryQrCode?$select=id`,
      dates(0, 2 * HOUR),
    );
    expect(patched.statusCode, patched.body).toBe(201);
    const policy = await call(
      "GET",
      "/v1.0/policies/AuthenticationMethodsPolicy/authenticationMethodConfigurations/QRCodePin",
    );
    expect(policy.statusCode).toBe(200);
    expect(policy.json().id).toBe("qrCodePin");
    const unknown = await call("GET", `/v1.0/users/${upn}/authentication/QrCodePinMethod/nothing`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe("itemNotFound");
    const noToken = await t.app.inject({
      method: "GET",
      url: `/v1.0/users/${upn}/authentication/QRCodePinMethod`,
    });
    expect(noToken.statusCode).toBe(401);
    expect(noToken.json().error.code).toBe("InvalidAuthenticationToken");
  });

  it("policy PATCH: 200 with the policy on v1.0, 204 No Content on beta", async () => {
    const v1 = await call("PATCH", `/v1.0${POLICY}`, {
      "@odata.type": "#microsoft.graph.qrCodePinAuthenticationMethodConfiguration",
      standardQRCodeLifetimeInDays: 200,
    });
    expect(v1.statusCode).toBe(200);
    expect(v1.json()).toMatchObject({ id: "qrCodePin", standardQRCodeLifetimeInDays: 200, pinLength: 8 });
    const beta = await call("PATCH", `/beta${POLICY}`, { standardQRCodeLifetimeInDays: 300 });
    expect(beta.statusCode).toBe(204);
    expect(beta.body).toBe("");
    expect((await call("GET", `/beta${POLICY}`)).json().standardQRCodeLifetimeInDays).toBe(300);
    const bad = await call("PATCH", `/v1.0${POLICY}`, { pinLength: 7 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toBe(
      "The policy settings are not valid. pinLength must be a whole number from 8 to 20.",
    );
    expect((await call("DELETE", `/v1.0${POLICY}`)).statusCode).toBe(204);
  });

  it("policy targets: a group other than all_users is refused (PinDesk has no groups), sign-in keeps working", async () => {
    const user = await newUser("targets");
    const created = await create(user);
    const badge = raw(created.standardQRCode.image.rawContent);
    const group = await call("PATCH", `/v1.0${POLICY}`, {
      includeTargets: [{ id: "8c3a5e1f-1111-4222-8333-944455556666", targetType: "group" }],
    });
    expect(group.statusCode).toBe(400);
    expect(group.json().error.code).toBe("invalidRequest");
    expect(group.json().error.message).toContain("PinDesk has no groups");
    const nobody = await call("PATCH", `/v1.0${POLICY}`, {
      includeTargets: [{ id: "8c3a5e1f-1111-4222-8333-944455556666", targetType: "user" }],
    });
    expect(nobody.statusCode).toBe(400);
    expect(nobody.json().error.message).toContain("no user has that id");
    expect((await call("GET", `/v1.0${POLICY}`)).json().includeTargets).toEqual([
      { id: "all_users", targetType: "group", isRegistrationRequired: false },
    ]);
    expect((await signIn(badge, "48291573")).json().result).toBe("pinChangeRequired");

    // Named users do work: the user in includeTargets signs in, another user is off.
    const other = await newUser("targets");
    const otherBadge = raw((await create(other, "73016482")).standardQRCode.image.rawContent);
    const only = await call("PATCH", `/v1.0${POLICY}`, {
      includeTargets: [{ id: user.id, targetType: "user" }],
    });
    expect(only.statusCode, only.body).toBe(200);
    expect((await signIn(badge, "48291573")).json().result).toBe("pinChangeRequired");
    expect((await signIn(otherBadge, "73016482")).json().error.code).toBe("qrCodePinMethodDisabled");
    expect((await call("DELETE", `/v1.0${POLICY}`)).statusCode).toBe(204);
  });

  it("a PIN that breaks the rules answers Graph's pinTooShort with the configured length; the rule is in details", async () => {
    const user = await newUser("pinrules");
    const letters = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 30 * DAY),
      pin: { code: "abcdefgh" },
    });
    expect(letters.statusCode).toBe(400);
    expect(letters.json().error.code).toBe("pinTooShort");
    expect(letters.json().error.message).toBe("PIN needs to be digit only and at least 8 characters long.");
    expect(letters.json().error.details).toEqual([
      { code: "pinNotDigitsOnly", message: "PIN needs to be digit only.", target: "pin.code" },
    ]);
    expect((await call("PATCH", `/v1.0${POLICY}`, { pinLength: 10 })).statusCode).toBe(200);
    const sequence = await call("PUT", methodUrl(user), {
      standardQRCode: dates(0, 30 * DAY),
      pin: { code: "0123456789" },
    });
    expect(sequence.json().error.code).toBe("pinTooShort");
    expect(sequence.json().error.message).toBe("PIN needs to be digit only and at least 10 characters long.");
    expect(sequence.json().error.details[0].code).toBe("pinHasSequence");
    // Nothing was stored by the refused requests.
    expect(await t.services.repos.qr.getMethod(user.id)).toBeUndefined();
    expect(await t.services.repos.pins.get(user.id)).toBeUndefined();
    expect((await call("DELETE", `/v1.0${POLICY}`)).statusCode).toBe(204);
  });

  it("the user has one PIN: PUT replaces an existing PIN (recorded), DELETE removes it (recorded)", async () => {
    const user = await newUser("onepin");
    await t.services.pins.set(cliContext, user.id, "592817");
    const verifier = await bearerFor(t, "Pin.Verify");
    const verify = (pin: string) =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/verify",
        headers: { authorization: verifier },
        payload: { userPrincipalName: user.userPrincipalName, pin },
      });
    expect((await verify("592817")).json().result).toBe("success");
    await create(user, "48291573");
    expect((await verify("592817")).statusCode).toBe(401);
    expect((await verify("48291573")).json().result).toBe("pinChangeRequired");
    const [created] = await t.services.repos.audit.query({
      action: "qr.method.created",
      targetUserId: user.id,
      limit: 5,
    });
    expect(created?.reason).toBe("existingPinReplaced");

    expect((await call("DELETE", methodUrl(user))).statusCode).toBe(204);
    expect(await t.services.repos.pins.get(user.id)).toBeUndefined();
    const [deleted] = await t.services.repos.audit.query({
      action: "qr.method.deleted",
      targetUserId: user.id,
      limit: 5,
    });
    expect(deleted?.reason).toBe("pinRemoved");

    const fresh = await newUser("onepin");
    await create(fresh);
    const [first] = await t.services.repos.audit.query({
      action: "qr.method.created",
      targetUserId: fresh.id,
      limit: 5,
    });
    expect(first?.reason).toBe("pinCreated");
  });

  it("a badge keeps working after the user's UPN is renamed (the code id and secret are the credential)", async () => {
    const user = await newUser("rename");
    const badge = raw((await create(user)).standardQRCode.image.rawContent);
    const renamed = await call("PATCH", `/v1.0/users/${user.id}`, {
      userPrincipalName: `renamed.${user.id.slice(0, 8)}@contoso.com`,
    });
    expect(renamed.statusCode, renamed.body).toBe(204);
    const res = await signIn(badge, "48291573");
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().user.userPrincipalName).toBe(`renamed.${user.id.slice(0, 8)}@contoso.com`);
  });

  it("schema: a never-used code's lastUsedDateTime is Graph's minimum date, the PIN has an id", async () => {
    const user = await newUser("schema");
    const created = await create(user);
    expect(created.standardQRCode.lastUsedDateTime).toBe("0001-01-01T00:00:00Z");
    expect(created.pin.id).toBe(user.id);
    const got = (await call("GET", methodUrl(user))).json();
    expect(got.standardQRCode.lastUsedDateTime).toBe("0001-01-01T00:00:00Z");
    expect(got.pin).toMatchObject({ id: user.id, code: null, forceChangePinNextSignIn: true });
    await signIn(raw(created.standardQRCode.image.rawContent), "48291573");
    const used = (await call("GET", methodUrl(user))).json();
    expect(used.standardQRCode.lastUsedDateTime).toBe(new Date(t.clock.now()).toISOString());
    // Without pin, PUT generates one (Graph: custom or generated).
    const generated = await newUser("schema");
    const res = await call("PUT", methodUrl(generated), { standardQRCode: dates(0, 30 * DAY) });
    expect(res.statusCode).toBe(201);
    expect(res.json().pin.code).toMatch(/^\d{8}$/);
  });

  it("Graph's permission table: Directory.Read.All reads users, Directory.ReadWrite.All also writes them", () => {
    const app = (...permissions: string[]) =>
      ({
        kind: "app",
        actor: { type: "app", id: "c", name: "c", permissions },
        permissions,
      }) as const;
    expect(() => assertPermission(app("Directory.Read.All"), "users.read", false)).not.toThrow();
    expect(() => assertPermission(app("Directory.Read.All"), "users.write", false)).toThrow(
      "does not carry the permission",
    );
    expect(() => assertPermission(app("Directory.ReadWrite.All"), "users.write", false)).not.toThrow();
    expect(() => assertPermission(app("Directory.ReadWrite.All"), "qr.read", false)).toThrow();
  });
});

describe.each(dialects)("Directory.* application permissions on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  it("an application created with Directory.Read.All lists users but cannot create one", async () => {
    const reader = await bearerFor(t, "Directory.Read.All");
    const list = await t.app.inject({
      method: "GET",
      url: "/v1.0/users",
      headers: { authorization: reader },
    });
    expect(list.statusCode).toBe(200);
    const create = await t.app.inject({
      method: "POST",
      url: "/v1.0/users",
      headers: { authorization: reader },
      payload: { userPrincipalName: "dir@contoso.com", displayName: "Dir", accountEnabled: true },
    });
    expect(create.statusCode).toBe(403);
    const writer = await bearerFor(t, "Directory.ReadWrite.All");
    const created = await t.app.inject({
      method: "POST",
      url: "/v1.0/users",
      headers: { authorization: writer },
      payload: { userPrincipalName: "dir@contoso.com", displayName: "Dir", accountEnabled: true },
    });
    expect(created.statusCode).toBe(201);
  });
});
