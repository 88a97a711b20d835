/**
 * Tokens that must stop working (deleted application, foreign audience, bad form) and a database that
 * goes away: the API says what happened — never "your token is forged" for an outage, never a 500.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { isDatabaseUnavailable } from "../src/store/db-errors.ts";
import {
  bearerFor,
  createTestInstance,
  dialects,
  freshDatabase,
  type TestInstance,
} from "./helpers/instance.ts";

const tokenRequest = (t: TestInstance, form: Record<string, string> | string) =>
  t.app.inject({
    method: "POST",
    url: "/oauth2/v2.0/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: typeof form === "string" ? form : new URLSearchParams(form).toString(),
  });

describe.each(dialects)("application tokens on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
    await t.services.users.create(cliContext, { userPrincipalName: "ana@contoso.com", displayName: "Ana" });
    await t.services.pins.set(cliContext, "ana@contoso.com", "482915");
  });
  afterAll(() => t?.close());

  it("a deleted application's token stops working within seconds, not at its expiry", async () => {
    const { clientId, clientSecret } = await t.services.apps.create(cliContext, "door", ["Pin.Verify"]);
    const token = await tokenRequest(t, {
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
      scope: "api://pindesk/.default",
    });
    const authorization = `Bearer ${token.json().access_token}`;
    const verify = () =>
      t.app.inject({
        method: "POST",
        url: "/api/v1/verify",
        headers: { authorization },
        payload: { userPrincipalName: "ana@contoso.com", pin: "482915" },
      });
    expect((await verify()).statusCode).toBe(200);
    await t.services.apps.delete(cliContext, clientId);
    t.clock.advance(6_000);
    const refused = await verify();
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatchObject({
      code: "invalidToken",
      problem: "the application this token was issued to has been deleted",
    });
  });

  it("issues tokens only for PinDesk's own resources", async () => {
    const { clientId, clientSecret } = await t.services.apps.create(cliContext, "scoped", ["Pin.Verify"]);
    const res = await tokenRequest(t, {
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
      scope: "https://evil.example/.default",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: "invalid_scope" });
    for (const scope of ["https://graph.microsoft.com/.default", "api://pindesk/.default"]) {
      const ok = await tokenRequest(t, {
        grant_type: "client_credentials",
        client_id: clientId,
        client_secret: clientSecret,
        scope,
      });
      expect(ok.statusCode).toBe(200);
    }
  });

  it("answers a malformed token request in OAuth's error shape", async () => {
    const res = await tokenRequest(
      t,
      "grant_type=client_credentials&client_id=a&client_id=b&client_secret=x",
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: "invalid_request" });
    expect(res.json().error_description).toMatch(/once each/);
  });
});

describe.skipIf(!dialects.includes("postgres"))("a database that goes away (PostgreSQL)", () => {
  it("/ready answers 503 and the API 503 serviceUnavailable — not a forged-token 401, not a 500", async () => {
    const database = await freshDatabase("postgres");
    const t = await createTestInstance("postgres", { database, keepDatabase: true });
    try {
      const authorization = await bearerFor(t, "Pin.Verify");
      expect((await t.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
      const name = new URL(database.url).pathname.slice(1);
      const admin = new pg.Client({ connectionString: process.env.PINDESK_TEST_POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
      const ready = await t.app.inject({ method: "GET", url: "/ready" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().error.code).toBe("serviceUnavailable");
      t.clock.advance(6_000);
      const verify = await t.app.inject({
        method: "POST",
        url: "/api/v1/verify",
        headers: { authorization },
        payload: { userPrincipalName: "ana@contoso.com", pin: "482915" },
      });
      expect(verify.statusCode).toBe(503);
      expect(verify.json().error.code).toBe("serviceUnavailable");
    } finally {
      await t.close();
      await database.drop();
    }
  });
});

describe("database outage detection", () => {
  it("tells connection failures from everything else", () => {
    for (const code of ["ECONNREFUSED", "57P01", "3D000", "08006", "SQLITE_BUSY", "SQLITE_IOERR_WRITE"]) {
      expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code })), code).toBe(true);
    }
    expect(isDatabaseUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
    for (const code of ["23505", "SQLITE_CONSTRAINT_UNIQUE", "ERR_JWT_EXPIRED", undefined]) {
      expect(isDatabaseUnavailable(Object.assign(new Error("x"), { code })), String(code)).toBe(false);
    }
  });
});
