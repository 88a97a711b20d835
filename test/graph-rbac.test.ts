/**
 * Who may do what on the Graph surface. Delegated callers act with their directory role (Entra's rules
 * for authentication methods: an Authentication Administrator manages non-admin users only, a
 * Privileged Authentication Administrator anyone, a Global Reader reads); application callers need
 * the operation's permission from Graph's permission table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canManageAuthenticationMethods } from "../src/domain/roles.ts";
import { cliContext } from "../src/services/context.ts";
import type { User } from "../src/store/repos/users.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const AA = "Authentication Administrator";
const PAA = "Privileged Authentication Administrator";
const GR = "Global Reader";
const GA = "Global Administrator";
const PA = "Password Administrator";
const HD = "Helpdesk Administrator";
const SA = "Security Administrator";
const SR = "Security Reader";
const UA = "User Administrator";
const APA = "Authentication Policy Administrator";
type Role =
  | typeof AA
  | typeof PAA
  | typeof GR
  | typeof GA
  | typeof PA
  | typeof HD
  | typeof SA
  | typeof SR
  | typeof UA
  | typeof APA
  | "none";
type Op = "read" | "readCode" | "create" | "resetPin" | "updatePin" | "writeCode" | "deleteCode" | "delete";
const READ_OPS: Op[] = ["read", "readCode"];
const WRITE_OPS: Op[] = ["create", "resetPin", "updatePin", "writeCode", "deleteCode", "delete"];
const OPS: Op[] = [...READ_OPS, ...WRITE_OPS];
const Y = true;
const N = false;

/**
 * [caller's role, target's role, may read (method and codes), may write (create, reset PIN, update PIN,
 * create and delete codes, delete)]. On the Graph routes only Authentication Administrator, Privileged
 * Authentication Administrator and Global Administrator write other users' methods, and Global Reader
 * (with those) reads them (Graph's rbac-authentication-methods-apis-*-others); which targets each may
 * reach is Entra's table (an Authentication Administrator reaches non-admins, Password Administrators and
 * a few reader roles, never a privileged administrator).
 */
const OTHERS: [Role, Role, boolean, boolean][] = [
  ["none", "none", N, N],
  ["none", AA, N, N],
  ["none", GA, N, N],
  [AA, "none", Y, Y],
  [AA, AA, Y, Y],
  [AA, PA, Y, Y],
  [AA, HD, N, N],
  [AA, UA, N, N],
  [AA, APA, N, N],
  [AA, PAA, N, N],
  [AA, GA, N, N],
  [PAA, "none", Y, Y],
  [PAA, AA, Y, Y],
  [PAA, PAA, Y, Y],
  [PAA, HD, Y, Y],
  [PAA, GA, Y, Y],
  [GR, "none", Y, N],
  [GR, AA, Y, N],
  [GR, GA, Y, N],
  [GA, "none", Y, Y],
  [GA, PAA, Y, Y],
  // Roles that do not count for authentication methods on the Graph routes.
  [HD, "none", N, N],
  [HD, PA, N, N],
  [PA, "none", N, N],
  [SA, "none", N, N],
  [SR, "none", N, N],
  [UA, "none", N, N],
  [APA, "none", N, N],
];

/** Acting on oneself through /me: anyone reads their own method and updates their own PIN. */
const SELF: [Role, boolean][] = [
  // role, may write (create, reset, codes, delete); reading and updatePin are always allowed on oneself
  ["none", N],
  [AA, Y],
  [PAA, Y],
  [GR, N],
  [GA, Y],
  [HD, N],
  [APA, N],
];

/** Distinct PINs of the QR profile: a PIN once replaced stays in history and cannot be set again. */
const PINS = ["48291573", "73016482", "51739264", "62840173", "39175028", "84026197", "27590341", "96148203"];
const NEW_PIN = PINS[1] as string;
const day = 86_400_000;

describe.each(dialects)("Graph RBAC on %s", (dialect) => {
  let t: TestInstance;
  let n = 0;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  const newUser = async (role: Role, label: string): Promise<User> =>
    t.services.users.create(cliContext, {
      userPrincipalName: `${label}.${++n}@contoso.com`,
      displayName: `${label} ${n}`,
      roles: role === "none" ? [] : [role],
    });

  const tokenFor = async (user: User, scopes?: string[]) =>
    `Bearer ${await t.services.tokens.issueUserToken(
      { userId: user.id, upn: user.userPrincipalName, roles: user.roles, ...(scopes && { scopes }) },
      "https://graph.microsoft.com",
    )}`;

  const window = () => ({
    startDateTime: new Date(t.clock.now()).toISOString(),
    expireDateTime: new Date(t.clock.now() + 30 * day).toISOString(),
  });

  let turn = 0;

  /**
   * Puts the target in the state the operation needs, as the operator (CLI) would, with a PIN the
   * target has not had before; returns it.
   */
  const prepare = async (target: User, op: Op): Promise<string> => {
    const has = await t.services.repos.qr.getMethod(target.id);
    if (has) await t.services.qr.deleteMethod(cliContext, target.id);
    const pin = PINS[++turn % PINS.length] as string;
    if (op === "create") return pin;
    await t.services.qr.createMethod(cliContext, target.id, { standardQRCode: window(), pin: { code: pin } });
    return pin;
  };

  const perform = (op: Op, path: string, authorization: string, pin: string) => {
    const base = `/v1.0${path}/authentication/qrCodePinMethod`;
    const headers = { authorization };
    switch (op) {
      case "read":
        return t.app.inject({ method: "GET", url: base, headers });
      case "create":
        return t.app.inject({
          method: "PUT",
          url: base,
          headers,
          payload: { standardQRCode: window(), pin: { code: pin } },
        });
      case "resetPin":
        return t.app.inject({ method: "PATCH", url: `${base}/pin`, headers, payload: {} });
      case "updatePin":
        return t.app.inject({
          method: "POST",
          url: `${base}/pin/updatePin`,
          headers,
          payload: { currentPin: pin, newPin: PINS[(PINS.indexOf(pin) + 1) % PINS.length] },
        });
      case "delete":
        return t.app.inject({ method: "DELETE", url: base, headers });
      case "readCode":
        return t.app.inject({ method: "GET", url: `${base}/standardQRCode`, headers });
      case "writeCode":
        return t.app.inject({
          method: "PATCH",
          url: `${base}/temporaryQRCode`,
          headers,
          payload: {
            startDateTime: new Date(t.clock.now()).toISOString(),
            expireDateTime: new Date(t.clock.now() + 4 * 3_600_000).toISOString(),
          },
        });
      case "deleteCode":
        return t.app.inject({ method: "DELETE", url: `${base}/standardQRCode`, headers });
    }
  };

  const SUCCESS: Record<Op, number> = {
    read: 200,
    readCode: 200,
    create: 201,
    resetPin: 201,
    updatePin: 204,
    writeCode: 201,
    deleteCode: 204,
    delete: 204,
  };

  const check = async (op: Op, path: string, target: User, authorization: string, allowed: boolean) => {
    const pin = await prepare(target, op);
    const res = await perform(op, path, authorization, pin);
    if (allowed) {
      expect(res.statusCode, `${op}: ${res.body}`).toBe(SUCCESS[op]);
    } else {
      expect(res.statusCode, `${op}: ${res.body}`).toBe(403);
      expect(res.json().error.code).toBe("accessDenied");
    }
  };

  it.each(OTHERS)("%s on a user with role %s", async (callerRole, targetRole, read, write) => {
    const caller = await newUser(callerRole, "caller");
    const target = await newUser(targetRole, "target");
    const authorization = await tokenFor(caller);
    const allowed = (op: Op) => (READ_OPS.includes(op) ? read : write);
    for (const op of OPS) {
      // Addressed by UPN, percent-encoded, as Graph clients send it.
      await check(
        op,
        `/users/${encodeURIComponent(target.userPrincipalName)}`,
        target,
        authorization,
        allowed(op),
      );
    }
  });

  it.each(SELF)("%s on themselves through /me", async (role, write) => {
    const self = await newUser(role, "self");
    const authorization = await tokenFor(self);
    const allowed = (op: Op) => READ_OPS.includes(op) || op === "updatePin" || write;
    for (const op of OPS) await check(op, "/me", self, authorization, allowed(op));
    // The same rules hold when the caller addresses themselves by id.
    await check("read", `/users/${self.id}`, self, authorization, true);
  });

  it("a wrong current PIN on updatePin consumes an attempt on the shared lockout counter", async () => {
    const self = await newUser("none", "counter");
    await prepare(self, "read");
    const res = await t.app.inject({
      method: "PATCH",
      url: "/beta/me/authentication/qrcodepinmethod/pin/updatepin",
      headers: { authorization: await tokenFor(self) },
      payload: { currentPin: "00000000", newPin: NEW_PIN },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("invalidPin");
    expect((await t.services.pins.status(self.id)).failedAttempts).toBe(1);
  });

  it("the policy's delegated scopes are tenant-wide by name: an Authentication Policy Administrator reads and writes it with them", async () => {
    const admin = await newUser(APA, "policyadmin");
    const url = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";
    const read = await t.app.inject({
      method: "GET",
      url,
      headers: { authorization: await tokenFor(admin, ["Policy.Read.AuthenticationMethod"]) },
    });
    expect(read.statusCode, read.body).toBe(200);
    const write = await t.app.inject({
      method: "PATCH",
      url,
      headers: { authorization: await tokenFor(admin, ["Policy.ReadWrite.AuthenticationMethod"]) },
      payload: { state: "enabled" },
    });
    expect(write.statusCode, write.body).toBe(200);
    const readOnly = await t.app.inject({
      method: "PATCH",
      url,
      headers: { authorization: await tokenFor(admin, ["Policy.Read.AuthenticationMethod"]) },
      payload: { state: "enabled" },
    });
    expect(readOnly.statusCode).toBe(403);
  });

  it("applications: only User.ReadWrite.All deletes users, and never one with a privileged role; such a user is not disabled or re-addressed either", async () => {
    const plain = await newUser("none", "appdel");
    const global = await newUser(GA, "appglobal");
    const directory = await bearerFor(t, "Directory.ReadWrite.All");
    const users = await bearerFor(t, "User.ReadWrite.All");
    const call = (method: "DELETE" | "PATCH", target: User, authorization: string, payload?: object) =>
      t.app.inject({
        method,
        url: `/v1.0/users/${target.id}`,
        headers: { authorization },
        ...(payload && { payload }),
      });
    expect((await call("DELETE", plain, directory)).statusCode).toBe(403);
    expect((await call("PATCH", plain, directory, { displayName: "Renamed" })).statusCode).toBe(204);
    expect((await call("DELETE", global, users)).statusCode).toBe(403);
    expect((await call("PATCH", global, users, { accountEnabled: false })).statusCode).toBe(403);
    expect((await call("PATCH", global, users, { mobilePhone: "+15550100" })).statusCode).toBe(403);
    expect((await call("PATCH", global, users, { displayName: "Still Global" })).statusCode).toBe(204);
    expect((await t.services.users.get(global.id)).accountEnabled).toBe(true);
    expect((await call("DELETE", plain, users)).statusCode).toBe(204);
  });

  it("narrow delegated scopes: a .All-less scope covers only the signed-in user", async () => {
    const admin = await newUser(PAA, "scoped");
    const other = await newUser("none", "other");
    await prepare(admin, "read");
    await prepare(other, "read");
    const authorization = await tokenFor(admin, ["UserAuthMethod-QR.Read"]);
    const own = await t.app.inject({
      method: "GET",
      url: "/v1.0/me/authentication/qrCodePinMethod",
      headers: { authorization },
    });
    expect(own.statusCode).toBe(200);
    const others = await t.app.inject({
      method: "GET",
      url: `/v1.0/users/${other.id}/authentication/qrCodePinMethod`,
      headers: { authorization },
    });
    expect(others.statusCode).toBe(403);
    const write = await t.app.inject({
      method: "DELETE",
      url: "/v1.0/me/authentication/qrCodePinMethod",
      headers: { authorization },
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.message).toContain("UserAuthMethod-QR.ReadWrite");
  });

  it("a role removed, or an account disabled, after the token was issued no longer counts", async () => {
    const admin = await newUser(PAA, "revoked");
    const other = await newUser("none", "victim");
    await prepare(other, "read");
    const authorization = await tokenFor(admin);
    const url = `/v1.0/users/${other.id}/authentication/qrCodePinMethod`;
    expect((await t.app.inject({ method: "GET", url, headers: { authorization } })).statusCode).toBe(200);
    await t.services.users.update(cliContext, admin.id, { roles: [] });
    expect((await t.app.inject({ method: "GET", url, headers: { authorization } })).statusCode).toBe(403);
    await t.services.users.update(cliContext, admin.id, { accountEnabled: false });
    const disabled = await t.app.inject({ method: "GET", url, headers: { authorization } });
    expect(disabled.statusCode).toBe(401);
    expect(disabled.json().error.code).toBe("InvalidAuthenticationToken");
  });

  it("users and policy: directory roles for delegated callers", async () => {
    const plain = await newUser("none", "plain");
    const userAdmin = await newUser("User Administrator", "useradmin");
    const reader = await newUser(GR, "reader");
    const global = await newUser(GA, "global");
    const authAdmin = await newUser(AA, "authadmin");
    const as = async (
      user: User,
      method: "GET" | "POST" | "PATCH" | "DELETE",
      url: string,
      payload?: object,
    ) =>
      (
        await t.app.inject({
          method,
          url: `/v1.0${url}`,
          headers: { authorization: await tokenFor(user) },
          ...(payload && { payload }),
        })
      ).statusCode;

    expect(await as(plain, "GET", "/me")).toBe(200);
    expect(await as(plain, "GET", `/users/${plain.id}`)).toBe(200);
    expect(await as(plain, "GET", `/users/${reader.id}`)).toBe(403);
    expect(await as(plain, "GET", "/users")).toBe(403);
    expect(await as(reader, "GET", "/users")).toBe(200);
    expect(await as(plain, "PATCH", "/me", { displayName: "Me" })).toBe(403);
    expect(await as(plain, "POST", "/users", { displayName: "X", userPrincipalName: "x1@contoso.com" })).toBe(
      403,
    );
    expect(
      await as(userAdmin, "POST", "/users", { displayName: "X", userPrincipalName: "x2@contoso.com" }),
    ).toBe(201);
    expect(await as(userAdmin, "PATCH", `/users/${plain.id}`, { displayName: "Renamed" })).toBe(204);
    expect(await as(userAdmin, "PATCH", `/users/${global.id}`, { displayName: "Nope" })).toBe(403);
    expect(await as(global, "PATCH", `/users/${userAdmin.id}`, { displayName: "Fine" })).toBe(204);

    const policy = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";
    expect(await as(reader, "GET", policy)).toBe(200);
    expect(await as(plain, "GET", policy)).toBe(403);
    expect(await as(authAdmin, "GET", policy)).toBe(403);
    expect(await as(reader, "PATCH", policy, { state: "enabled" })).toBe(403);
    expect(await as(global, "PATCH", policy, { state: "enabled" })).toBe(200);

    const appMe = await t.app.inject({
      method: "GET",
      url: "/v1.0/me",
      headers: { authorization: await bearerFor(t, "User.Read.All") },
    });
    expect(appMe.statusCode).toBe(400);
    expect(appMe.json().error.message).toBe("/me request is only valid with delegated authentication flow.");
  });

  /**
   * The qrCodePin method policy, delegated: Authentication Policy Administrator (and Global
   * Administrator) change it; Global Reader and the security roles read it; the administrators who reset
   * other people's credentials do neither. [role, GET, PATCH, DELETE]
   */
  const POLICY_TABLE: [Role, boolean, boolean, boolean][] = [
    [GA, Y, Y, Y],
    [APA, Y, Y, Y],
    [GR, Y, N, N],
    [SA, Y, N, N],
    [SR, Y, N, N],
    [AA, N, N, N],
    [PAA, N, N, N],
    [HD, N, N, N],
    [UA, N, N, N],
    ["none", N, N, N],
  ];

  it.each(POLICY_TABLE)("%s on the qrCodePin method policy", async (role, read, patch, remove) => {
    const caller = await newUser(role, "policy");
    const headers = { authorization: await tokenFor(caller) };
    const url = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";
    const expectOutcome = (res: { statusCode: number; body: string }, allowed: boolean, success: number) => {
      expect(res.statusCode, res.body).toBe(allowed ? success : 403);
      if (!allowed) expect(JSON.parse(res.body).error.code).toBe("accessDenied");
    };
    expectOutcome(await t.app.inject({ method: "GET", url, headers }), read, 200);
    const patched = await t.app.inject({
      method: "PATCH",
      url,
      headers,
      payload: { standardQRCodeLifetimeInDays: 300 },
    });
    expectOutcome(patched, patch, 200);
    if (patch) expect(patched.json().standardQRCodeLifetimeInDays).toBe(300);
    expectOutcome(await t.app.inject({ method: "DELETE", url, headers }), remove, 204);
    if (remove) expect((await t.services.qr.policy()).standardQRCodeLifetimeInDays).toBe(365);
  });

  it("the admin portal's own rule is unchanged: Helpdesk Administrators still reset non-admins' PINs", () => {
    expect(canManageAuthenticationMethods([HD], [])).toBe(true);
    expect(canManageAuthenticationMethods([HD], [AA])).toBe(false);
    expect(canManageAuthenticationMethods([AA], [PA])).toBe(true);
  });

  describe("application permissions follow Graph's permission table", () => {
    type AppOp =
      | "readMethod"
      | "createMethod"
      | "resetPin"
      | "updatePin"
      | "deleteMethod"
      | "readCode"
      | "writeCode"
      | "readPolicy"
      | "writePolicy"
      | "readUser"
      | "writeUser";
    const ALL_OPS: AppOp[] = [
      "readMethod",
      "createMethod",
      "resetPin",
      "updatePin",
      "deleteMethod",
      "readCode",
      "writeCode",
      "readPolicy",
      "writePolicy",
      "readUser",
      "writeUser",
    ];
    const METHOD_READ: AppOp[] = ["readMethod", "readCode"];
    const METHOD_WRITE: AppOp[] = ["createMethod", "resetPin", "deleteMethod", "writeCode"];
    const TABLE: [string, AppOp[]][] = [
      ["UserAuthMethod-QR.Read.All", METHOD_READ],
      ["UserAuthMethod-QR.ReadWrite.All", [...METHOD_READ, ...METHOD_WRITE]],
      ["UserAuthenticationMethod.Read.All", METHOD_READ],
      ["UserAuthenticationMethod.ReadWrite.All", [...METHOD_READ, ...METHOD_WRITE]],
      ["Policy.Read.AuthenticationMethod", ["readPolicy"]],
      ["Policy.ReadWrite.AuthenticationMethod", ["readPolicy", "writePolicy"]],
      ["User.Read.All", ["readUser"]],
      ["User.ReadWrite.All", ["readUser", "writeUser"]],
      // PinDesk's own permissions grant nothing on the Graph surface; updatePin is never an app's to call.
      ["Pin.ReadWrite.All", []],
    ];

    it.each(TABLE)("%s", async (permission, allowed) => {
      const target = await newUser("none", "apptarget");
      const pin = await prepare(target, "read");
      const authorization = await bearerFor(t, permission);
      const m = `/v1.0/users/${target.id}/authentication/qrCodePinMethod`;
      const requests: Record<
        AppOp,
        { method: "GET" | "PUT" | "PATCH" | "POST" | "DELETE"; url: string; payload?: object }
      > = {
        readMethod: { method: "GET", url: m },
        // A PIN the target has not had: the one it has now stays in its PIN history.
        createMethod: {
          method: "PUT",
          url: m,
          payload: { standardQRCode: window(), pin: { code: PINS[(PINS.indexOf(pin) + 3) % PINS.length] } },
        },
        resetPin: { method: "PATCH", url: `${m}/pin`, payload: {} },
        updatePin: {
          method: "POST",
          url: `${m}/pin/updatePin`,
          payload: { currentPin: pin, newPin: NEW_PIN },
        },
        deleteMethod: { method: "DELETE", url: m },
        readCode: { method: "GET", url: `${m}/standardQRCode` },
        writeCode: { method: "PATCH", url: `${m}/temporaryQRCode`, payload: {} },
        readPolicy: {
          method: "GET",
          url: "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin",
        },
        writePolicy: {
          method: "PATCH",
          url: "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin",
          payload: { state: "enabled" },
        },
        readUser: { method: "GET", url: `/v1.0/users/${target.id}` },
        writeUser: { method: "PATCH", url: `/v1.0/users/${target.id}`, payload: { displayName: "Renamed" } },
      };
      const SUCCESS: Record<AppOp, number> = {
        readMethod: 200,
        createMethod: 201,
        resetPin: 201,
        updatePin: 204,
        deleteMethod: 204,
        readCode: 200,
        writeCode: 201,
        readPolicy: 200,
        writePolicy: 200,
        readUser: 200,
        writeUser: 204,
      };
      // Deleting the method, then creating it again, last: the other operations find it in place.
      const order: AppOp[] = [
        ...ALL_OPS.filter((o) => o !== "deleteMethod" && o !== "createMethod"),
        "deleteMethod",
        "createMethod",
      ];
      for (const op of order) {
        const { payload, ...rest } = requests[op];
        const res = await t.app.inject({ ...rest, headers: { authorization }, ...(payload && { payload }) });
        if (allowed.includes(op)) {
          expect(res.statusCode, `${op}: ${res.body}`).toBe(SUCCESS[op]);
        } else {
          expect(res.statusCode, `${op}: ${res.body}`).toBe(403);
          expect(res.json().error.code).toBe("accessDenied");
        }
      }
    });
  });
});
