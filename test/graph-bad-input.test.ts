/**
 * Bad input over every Graph route: malformed JSON, wrong types, unknown ids, bad query options, huge
 * bodies. Always a 4xx in Graph's error shape, never a 5xx.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
type BodyKind = "user" | "userPatch" | "method" | "pin" | "updatePin" | "code" | "policy";

interface Route {
  method: Method;
  /** `{u}` stands for `/users/{id | upn}` or `/me`. */
  path: string;
  body?: BodyKind;
}

const M = "{u}/authentication/qrCodePinMethod";
const POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";

const ROUTES: Route[] = [
  { method: "POST", path: "/users", body: "user" },
  { method: "GET", path: "/users" },
  { method: "GET", path: "{u}" },
  { method: "PATCH", path: "{u}", body: "userPatch" },
  { method: "DELETE", path: "{u}" },
  { method: "GET", path: M },
  { method: "PUT", path: M, body: "method" },
  { method: "DELETE", path: M },
  { method: "PATCH", path: `${M}/pin`, body: "pin" },
  { method: "PATCH", path: `${M}/pin/updatePin`, body: "updatePin" },
  { method: "POST", path: `${M}/pin/updatePin`, body: "updatePin" },
  { method: "GET", path: `${M}/standardQRCode` },
  { method: "PATCH", path: `${M}/standardQRCode`, body: "code" },
  { method: "DELETE", path: `${M}/standardQRCode` },
  { method: "GET", path: `${M}/temporaryQRCode` },
  { method: "PATCH", path: `${M}/temporaryQRCode`, body: "code" },
  { method: "DELETE", path: `${M}/temporaryQRCode` },
  { method: "GET", path: POLICY },
  { method: "PATCH", path: POLICY, body: "policy" },
];

const day = 86_400_000;
const start = Date.parse("2026-05-25T09:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

/** Well-formed JSON with the wrong types or values for each kind of body. */
const WRONG: Record<BodyKind, unknown[]> = {
  user: [
    { userPrincipalName: 5, displayName: [] },
    { displayName: "Missing UPN" },
    { userPrincipalName: "not-an-upn", displayName: "X" },
    { userPrincipalName: "nul@contoso.com", displayName: "A\u0000B" },
    { userPrincipalName: "mail@contoso.com", displayName: "X", mail: "nope" },
    { userPrincipalName: "flag@contoso.com", displayName: "X", accountEnabled: "yes" },
    { userPrincipalName: `${"a".repeat(400)}@contoso.com`, displayName: "X" },
  ],
  userPatch: [
    { accountEnabled: "yes" },
    { mobilePhone: 12 },
    { userPrincipalName: "" },
    { mobilePhone: "12" },
  ],
  method: [
    { standardQRCode: "x", pin: { code: "48291573" } },
    { standardQRCode: { startDateTime: 5, expireDateTime: 6 }, pin: { code: "48291573" } },
    { standardQRCode: { startDateTime: "garbage", expireDateTime: "garbage" }, pin: { code: "48291573" } },
    {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start - day) },
      pin: { code: "48291573" },
    },
    {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + 500 * day) },
      pin: { code: "48291573" },
    },
    {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) },
      pin: { code: 48291573 },
    },
    {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) },
      pin: { code: "1".repeat(10_000) },
    },
    {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) },
      pin: { code: "abcdefgh" },
    },
    { standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) }, pin: "48291573" },
    { standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) }, colour: "blue" },
  ],
  pin: [[], "x", 42],
  updatePin: [
    {},
    { currentPin: 1, newPin: 2 },
    { currentPin: "", newPin: "" },
    { currentPin: "48291573" },
    { currentPin: "48291573", newPin: "9".repeat(300) },
    { currentPin: "4829\u00001573", newPin: "73016482" },
  ],
  code: [
    { expireDateTime: 5 },
    { expireDateTime: "not a date" },
    { startDateTime: "2020-01-01T00:00:00Z", expireDateTime: "2020-01-02T00:00:00Z" },
    { colour: "blue" },
    [],
  ],
  policy: [
    { pinLength: "10" },
    { pinLength: 7 },
    { pinLength: 21 },
    { pinLength: 8.5 },
    { standardQRCodeLifetimeInDays: 0 },
    { standardQRCodeLifetimeInDays: 396 },
    { state: "maybe" },
    { includeTargets: "all" },
    { includeTargets: [{ id: 5, targetType: "group" }] },
    { excludeTargets: [{ id: "x", targetType: "planet" }] },
    { colour: "blue" },
  ],
};

/** Bodies no route accepts: not JSON, or not what the content type says. */
const MALFORMED: { payload: string; contentType: string }[] = [
  { payload: "{not json", contentType: "application/json" },
  { payload: '{"a":', contentType: "application/json" },
  { payload: '{"__proto__":{"polluted":true}}', contentType: "application/json" },
  { payload: JSON.stringify({ blob: "x".repeat(200_000) }), contentType: "application/json" },
  { payload: "pin=1", contentType: "text/plain" },
  { payload: "<pin>1</pin>", contentType: "application/xml" },
];

const BAD_QUERIES = [
  "$top=0",
  "$top=-1",
  "$top=abc",
  "$top=1000",
  "$top=1&$top=2",
  "$filter=garbage",
  "$filter=startswith(mail,'x')",
  "$filter=startswith(userPrincipalName,'unterminated)",
  "$filter=userPrincipalName%20eq%20'a%00b'",
  "$select=password",
  "$select=",
  "$select=id,,displayName",
  "$skiptoken=!!!",
  `$skiptoken=${Buffer.from("nope").toString("base64url")}`,
  `$skiptoken=${Buffer.from("u:\u0000").toString("base64url")}`,
  "$orderby=displayName",
  "$expand=manager",
  "$count=true",
];

const UNKNOWN_USERS = [
  "00000000-0000-4000-8000-00000000dead",
  "nobody%40contoso.com",
  "a%00b",
  "%E2%80%AE",
  `${"x".repeat(60)}%40contoso.com`,
];

const expectGraphError = (res: LightMyRequestResponse, label: string) => {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
  const body = res.json() as {
    error: { code: unknown; message: unknown; innerError: Record<string, unknown> };
  };
  expect(typeof body.error.code, label).toBe("string");
  expect(typeof body.error.message, label).toBe("string");
  expect(body.error.innerError["request-id"], label).toBe(res.headers["request-id"]);
  expect(typeof body.error.innerError.date, label).toBe("string");
  expect(body.error.innerError["client-request-id"], label).toBe("sweep-1");
};

describe.each(dialects)("Graph bad-input sweep on %s", (dialect) => {
  let t: TestInstance;
  let app: string;
  let delegated: string;
  let userId: string;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    app = await bearerFor(
      t,
      "User.ReadWrite.All",
      "UserAuthenticationMethod.ReadWrite.All",
      "Policy.ReadWrite.AuthenticationMethod",
    );
    const user = await t.services.users.create(cliContext, {
      userPrincipalName: "sweep@contoso.com",
      displayName: "Sweep",
      roles: ["Global Administrator", "Privileged Authentication Administrator"],
    });
    userId = user.id;
    await t.services.qr.createMethod(cliContext, user.id, {
      standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + 30 * day) },
      pin: { code: "48291573" },
    });
    delegated = `Bearer ${await t.services.tokens.issueUserToken(
      { userId: user.id, upn: user.userPrincipalName, roles: user.roles },
      "https://graph.microsoft.com",
    )}`;
  });
  afterAll(() => t?.close());

  const callers = () => [
    { name: "app", authorization: app, users: ["/users/sweep%40contoso.com", `/users/${userId}`] },
    { name: "user", authorization: delegated, users: ["/me", "/users/sweep%40contoso.com"] },
  ];

  const send = (
    method: Method,
    url: string,
    authorization: string,
    body?: { payload: string; contentType: string },
  ) =>
    t.app.inject({
      method,
      url,
      headers: {
        authorization,
        "client-request-id": "sweep-1",
        ...(body && { "content-type": body.contentType }),
      },
      ...(body && { payload: body.payload }),
    });

  const expand = (path: string, user: string) => path.replace("{u}", user);

  it("refuses malformed and oversized bodies", async () => {
    for (const version of ["v1.0", "beta"]) {
      for (const caller of callers()) {
        for (const route of ROUTES.filter((r) => r.body)) {
          for (const user of caller.users) {
            for (const body of MALFORMED) {
              const url = `/${version}${expand(route.path, user)}`;
              const res = await send(route.method, url, caller.authorization, body);
              expectGraphError(res, `${caller.name} ${route.method} ${url} ${body.payload.slice(0, 30)}`);
            }
          }
        }
      }
    }
  });

  it("refuses well-formed bodies with wrong types or values", async () => {
    for (const caller of callers()) {
      for (const route of ROUTES.filter((r) => r.body)) {
        for (const user of caller.users) {
          for (const value of WRONG[route.body as BodyKind]) {
            const url = `/v1.0${expand(route.path, user)}`;
            const res = await send(route.method, url, caller.authorization, {
              payload: JSON.stringify(value),
              contentType: "application/json",
            });
            expectGraphError(
              res,
              `${caller.name} ${route.method} ${url} ${JSON.stringify(value).slice(0, 60)}`,
            );
          }
        }
      }
    }
    // Nothing above changed the user or the method.
    expect((await t.services.qr.getMethod(cliContext, userId)).pin.forceChangePinNextSignIn).toBe(true);
  });

  it("answers unknown users with itemNotFound on every user route", async () => {
    const valid: Record<BodyKind, unknown> = {
      user: {},
      userPatch: { displayName: "X" },
      method: {
        standardQRCode: { startDateTime: iso(start), expireDateTime: iso(start + day) },
        pin: { code: "48291573" },
      },
      pin: {},
      updatePin: { currentPin: "48291573", newPin: "73016482" },
      code: {},
      policy: {},
    };
    for (const caller of callers()) {
      for (const route of ROUTES.filter((r) => r.path.startsWith("{u}"))) {
        for (const ref of UNKNOWN_USERS) {
          const url = `/beta${expand(route.path, `/users/${ref}`)}`;
          const res = await send(
            route.method,
            url,
            caller.authorization,
            route.body
              ? { payload: JSON.stringify(valid[route.body]), contentType: "application/json" }
              : undefined,
          );
          expectGraphError(res, `${caller.name} ${route.method} ${url} ${res.body.slice(0, 200)}`);
          // A path reference with control characters or over the length limit is a 400, otherwise a 404;
          // updatePin is not an application's to call whatever the user.
          if (caller.name === "app" && route.path.endsWith("updatePin")) expect(res.statusCode).toBe(403);
          else expect([400, 404], `${route.method} ${url}`).toContain(res.statusCode);
        }
      }
    }
  });

  it("refuses bad query options on every GET", async () => {
    for (const caller of callers()) {
      for (const route of ROUTES.filter((r) => r.method === "GET")) {
        for (const query of BAD_QUERIES) {
          // $top, $filter, $skiptoken and $count are for the users collection; elsewhere they are refused too.
          const url = `/v1.0${expand(route.path, caller.users[0] as string)}?${query}`;
          const res = await send("GET", url, caller.authorization);
          expectGraphError(res, `${caller.name} GET ${url}`);
          expect(res.statusCode, url).toBe(400);
        }
      }
    }
  });

  it("answers unknown paths and methods under both versions in Graph's shape", async () => {
    for (const version of ["v1.0", "beta"]) {
      for (const [method, path] of [
        ["GET", ""],
        ["GET", "/"],
        ["GET", "/groups"],
        ["POST", "/users/sweep%40contoso.com"],
        ["GET", "/users/sweep%40contoso.com/authentication/qrCodePinMethod/pin"],
        ["PUT", "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin"],
        ["GET", "/users/sweep%40contoso.com/authentication/qrCodePinMethod/standardQRCode/extra"],
      ] as [Method, string][]) {
        const res = await send(method, `/${version}${path}`, app);
        expectGraphError(res, `${method} /${version}${path}`);
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe("itemNotFound");
      }
    }
  });

  it("refuses missing, malformed and foreign tokens with InvalidAuthenticationToken", async () => {
    for (const authorization of [
      "",
      "Bearer",
      "Bearer x.y.z",
      "Basic dXNlcjpwYXNz",
      `Bearer ${"a".repeat(5000)}`,
    ]) {
      for (const route of ROUTES) {
        const url = `/v1.0${expand(route.path, "/users/sweep%40contoso.com")}`;
        const res = await send(
          route.method,
          url,
          authorization,
          route.body ? { payload: "{not json", contentType: "application/json" } : undefined,
        );
        // Authentication comes first: a bad body from an unauthenticated caller is not even read.
        expectGraphError(res, `${route.method} ${url} [${authorization.slice(0, 12)}]`);
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe("InvalidAuthenticationToken");
        expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
      }
    }
  });

  it("an empty JSON body is no body, not a 400, where the route needs none", async () => {
    const reset = await t.app.inject({
      method: "PATCH",
      url: `/v1.0/users/${userId}/authentication/qrCodePinMethod/pin`,
      headers: { authorization: app, "content-type": "application/json" },
      payload: "",
    });
    expect(reset.statusCode).toBe(201);
    expect(reset.headers["cache-control"]).toBe("no-store");
  });

  it("undecodable URLs are still refused with a 4xx", async () => {
    // Fastify rejects these before routing (bad percent-encoding; a path segment over the router's
    // maxParamLength), in the app-wide frameworkErrors hook.
    for (const url of [
      "/v1.0/users/%ff",
      "/beta/users/%E0%A4%A/authentication/qrCodePinMethod",
      `/v1.0/users/${"x".repeat(400)}`,
    ]) {
      const res = await send("GET", url, app);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
      expect(typeof res.json().error.code).toBe("string");
    }
  });
});
