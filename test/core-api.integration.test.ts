import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

describe.each(dialects)("core API on %s", (dialect) => {
  let t: TestInstance;
  let verifier: string;
  let admin: string;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    verifier = await bearerFor(t, "Pin.Verify");
    admin = await bearerFor(
      t,
      "Pin.ReadWrite.All",
      "User.ReadWrite.All",
      "Policy.ReadWrite.PinPolicy",
      "AuditLog.Read.All",
    );
    await t.services.users.create(cliContext, { userPrincipalName: "ana@contoso.com", displayName: "Ana" });
    await t.services.pins.set(cliContext, "ana@contoso.com", "482915");
  });
  afterAll(() => t?.close());

  const verify = (userPrincipalName: string, pin: string, token = verifier) =>
    t.app.inject({
      method: "POST",
      url: "/api/v1/verify",
      headers: { authorization: token },
      payload: { userPrincipalName, pin },
    });

  it("verifies a correct PIN", async () => {
    const res = await verify("ana@contoso.com", "482915");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ result: "success" });
  });

  it("audits a successful verify with the client, the user, the address, the user agent and the request id", async () => {
    const user = await t.services.users.get("ana@contoso.com");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/verify",
      headers: { authorization: verifier, "user-agent": "door-controller/2.1" },
      remoteAddress: "10.20.30.40",
      payload: { userPrincipalName: "ana@contoso.com", pin: "482915" },
    });
    expect(res.statusCode).toBe(200);
    const [event] = await t.services.audit.query({ action: "pin.verify", targetUserId: user.id, limit: 1 });
    expect(event).toMatchObject({
      action: "pin.verify",
      outcome: "success",
      targetUserId: user.id,
      targetUpn: "ana@contoso.com",
      ip: "10.20.30.40",
      userAgent: "door-controller/2.1",
      requestId: res.headers["request-id"],
    });
    expect(event?.actor).toMatch(/^app:/);
    expect(event?.reason).toBeNull();
    expect(event?.details).toBeNull();
  });

  it("matches the UPN case-insensitively", async () => {
    const res = await verify("ANA@Contoso.com", "482915");
    expect(res.json()).toMatchObject({ result: "success" });
  });

  it("answers a wrong PIN with 401 invalidPin and attempts remaining", async () => {
    const res = await verify("ana@contoso.com", "000001");
    expect(res.statusCode).toBe(401);
    const body = res.json();
    expect(body.error.code).toBe("invalidPin");
    expect(body.error.attemptsRemaining).toBe(9);
    expect(body.error.mitigation).toBeTruthy();
    expect(body.error.requestId).toBeTruthy();
    // A success resets the counter.
    expect((await verify("ana@contoso.com", "482915")).statusCode).toBe(200);
    expect((await verify("ana@contoso.com", "000001")).json().error.attemptsRemaining).toBe(9);
    await verify("ana@contoso.com", "482915");
  });

  it("answers an unknown user exactly like a wrong PIN", async () => {
    const res = await verify("nobody@contoso.com", "482915");
    expect(res.statusCode).toBe(401);
    const known = await verify("ana@contoso.com", "111112");
    await verify("ana@contoso.com", "482915");
    const strip = (b: { error: Record<string, unknown> }) => ({ ...b.error, requestId: undefined });
    expect(strip(res.json())).toEqual(strip(known.json()));
  });

  it("refuses callers without a token or without Pin.Verify", async () => {
    const none = await t.app.inject({
      method: "POST",
      url: "/api/v1/verify",
      payload: { userPrincipalName: "a@b.c", pin: "1" },
    });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe("invalidToken");
    const wrong = await verify("ana@contoso.com", "482915", admin);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe("insufficientPermissions");
  });

  it("locks after the threshold and reports 423 with lockedUntil, then unblocks", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "bo@contoso.com", displayName: "Bo" });
    await t.services.pins.set(cliContext, "bo@contoso.com", "582014");
    for (let i = 0; i < 9; i++) expect((await verify("bo@contoso.com", "999990")).statusCode).toBe(401);
    const tenth = await verify("bo@contoso.com", "999990");
    expect(tenth.statusCode).toBe(423);
    const locked = await verify("bo@contoso.com", "582014");
    expect(locked.statusCode).toBe(423);
    expect(locked.json().error.code).toBe("pinLocked");
    expect(new Date(locked.json().error.lockedUntil).getTime()).toBe(t.clock.now() + 60_000);

    const status = await t.app.inject({
      method: "GET",
      url: "/api/v1/users/bo@contoso.com/pin",
      headers: { authorization: admin },
    });
    expect(status.json()).toMatchObject({ state: "Account Lockout" });

    const unblock = await t.app.inject({
      method: "POST",
      url: "/api/v1/users/bo@contoso.com/pin/unblock",
      headers: { authorization: admin },
    });
    expect(unblock.statusCode).toBe(200);
    expect(unblock.json()).toMatchObject({ state: "Steady State" });
    expect((await verify("bo@contoso.com", "582014")).statusCode).toBe(200);

    const again = await t.app.inject({
      method: "POST",
      url: "/api/v1/users/bo@contoso.com/pin/unblock",
      headers: { authorization: admin },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe("pinNotLocked");
  });

  it("resets to a temporary PIN that only allows setting a new PIN", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "cy@contoso.com", displayName: "Cy" });
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/users/cy@contoso.com/pin/temporary",
      headers: { authorization: admin },
      payload: {},
    });
    expect(res.statusCode).toBe(201);
    const { temporaryPin } = res.json() as { temporaryPin: string };
    expect(temporaryPin).toMatch(/^\d{8}$/);

    const first = await verify("cy@contoso.com", temporaryPin);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ result: "pinChangeRequired", reason: "temporaryPin" });
    const { changeToken } = first.json() as { changeToken: string };

    const tooShort = await t.app.inject({
      method: "POST",
      url: "/api/v1/pin/change",
      headers: { authorization: verifier },
      payload: { changeToken, newPin: "12" },
    });
    expect(tooShort.statusCode).toBe(400);
    expect(tooShort.json().error.code).toBe("pinTooShort");

    // The temporary PIN itself is known to whoever handed it out: it cannot become the user's own.
    const same = await t.app.inject({
      method: "POST",
      url: "/api/v1/pin/change",
      headers: { authorization: verifier },
      payload: { changeToken, newPin: temporaryPin },
    });
    expect(same.statusCode).toBe(400);
    expect(same.json().error).toMatchObject({
      code: "pinInHistory",
      message: "Choose another PIN: the new PIN cannot be the temporary PIN now in force.",
    });

    const changed = await t.app.inject({
      method: "POST",
      url: "/api/v1/pin/change",
      headers: { authorization: verifier },
      payload: { changeToken, newPin: "730164" },
    });
    expect(changed.statusCode).toBe(200);
    expect((await verify("cy@contoso.com", "730164")).json()).toMatchObject({ result: "success" });
    expect((await verify("cy@contoso.com", temporaryPin)).statusCode).toBe(401);

    const reused = await t.app.inject({
      method: "POST",
      url: "/api/v1/pin/change",
      headers: { authorization: verifier },
      payload: { changeToken, newPin: "730165" },
    });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.code).toBe("pinChangeTokenInvalid");
  });

  it("admin reset to a chosen PIN forces a change unless told not to", async () => {
    const forced = await t.app.inject({
      method: "PUT",
      url: "/api/v1/users/ana@contoso.com/pin",
      headers: { authorization: admin },
      payload: { pin: "620481" },
    });
    expect(forced.statusCode).toBe(200);
    expect(forced.json()).toMatchObject({ state: "Must Change" });
    expect((await verify("ana@contoso.com", "620481")).json()).toMatchObject({
      result: "pinChangeRequired",
      reason: "adminReset",
    });

    const kept = await t.app.inject({
      method: "PUT",
      url: "/api/v1/users/ana@contoso.com/pin",
      headers: { authorization: admin },
      payload: { pin: "391746", forceChange: false },
    });
    expect(kept.json()).toMatchObject({ state: "Steady State" });
  });

  it("rejects a PIN that breaks the policy with the exact reason", async () => {
    for (const [pin, code] of [
      ["1234", "pinTooShort"],
      ["123456", "pinHasSequence"],
      ["121212", "pinHasRepeatedGroup"],
      ["111111", "pinRepeatsDigit"],
      ["12345a", "pinLowercaseNotAllowed"],
      ["620481", "pinInHistory"],
    ] as const) {
      const res = await t.app.inject({
        method: "PUT",
        url: "/api/v1/users/ana@contoso.com/pin",
        headers: { authorization: admin },
        payload: { pin },
      });
      expect(res.statusCode, pin).toBe(400);
      expect(res.json().error.code, pin).toBe(code);
    }
  });

  it("updates the policy with validation and versioning", async () => {
    const bad = await t.app.inject({
      method: "PATCH",
      url: "/api/v1/policies/pin",
      headers: { authorization: admin },
      payload: { minLength: 2, history: 99, colour: "blue" },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("invalidPolicy");
    expect(
      bad
        .json()
        .error.problems.map((p: { field: string }) => p.field)
        .sort(),
    ).toEqual(["colour", "history", "minLength"]);

    const good = await t.app.inject({
      method: "PATCH",
      url: "/api/v1/policies/pin",
      headers: { authorization: admin },
      payload: { lockout: { threshold: 5 } },
    });
    expect(good.statusCode).toBe(200);
    expect(good.json()).toMatchObject({ version: 1, policy: { lockout: { threshold: 5 }, minLength: 6 } });
    await t.app.inject({
      method: "PATCH",
      url: "/api/v1/policies/pin",
      headers: { authorization: admin },
      payload: { lockout: { threshold: 10 } },
    });
  });

  it("records audit events with actor, target and outcome, never the PIN", async () => {
    const res = await t.app.inject({
      method: "GET",
      url: "/api/v1/audit?limit=500",
      headers: { authorization: admin },
    });
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(text).toContain("pin.unblock");
    expect(text).not.toContain("482915");
    expect(text).not.toContain("582014");
  });

  it("turns bad input into 4xx with a problem list, never 5xx", async () => {
    const cases = [
      {
        method: "POST" as const,
        url: "/api/v1/verify",
        payload: "{not json",
        headers: { "content-type": "application/json" },
      },
      { method: "POST" as const, url: "/api/v1/verify", payload: { userPrincipalName: 5 } },
      {
        method: "POST" as const,
        url: "/api/v1/verify",
        payload: { userPrincipalName: "a@b.c", pin: "1".repeat(10_000) },
      },
      {
        method: "POST" as const,
        url: "/api/v1/verify",
        payload: "x".repeat(200_000),
        headers: { "content-type": "application/json" },
      },
      {
        method: "POST" as const,
        url: "/api/v1/verify",
        payload: "pin=1",
        headers: { "content-type": "text/plain" },
      },
      { method: "GET" as const, url: "/api/v1/users/%00%ff/pin" },
      { method: "GET" as const, url: "/no/such/route" },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ ...c, headers: { authorization: verifier, ...c.headers } });
      expect(res.statusCode, `${c.method} ${c.url}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${c.method} ${c.url}`).toBeLessThan(500);
      expect(res.json().error.code).toBeTruthy();
    }
  });

  it("a NUL or other control character in a stored or looked-up text is a 400, never a 5xx", async () => {
    const cases = [
      {
        url: "/api/v1/verify",
        token: verifier,
        payload: { userPrincipalName: "ana\u0000@contoso.com", pin: "482915" },
      },
      {
        url: "/api/v1/users",
        token: admin,
        payload: { userPrincipalName: "nul@contoso.com", displayName: "N\u0000" },
      },
      {
        url: "/api/v1/users",
        token: admin,
        payload: { userPrincipalName: "tab\t@contoso.com", displayName: "T" },
      },
      { url: "/portal/api/signin/start", token: "", payload: { userPrincipalName: "ana\u0000@contoso.com" } },
    ];
    for (const c of cases) {
      const res = await t.app.inject({
        method: "POST",
        url: c.url,
        payload: c.payload,
        headers: c.token ? { authorization: c.token } : {},
      });
      expect(res.statusCode, `${c.url} ${JSON.stringify(c.payload)}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe("invalidRequest");
    }
    const byParam = await t.app.inject({
      method: "GET",
      url: "/api/v1/users/ana%00/pin",
      headers: { authorization: admin },
    });
    expect(byParam.statusCode, byParam.body).toBe(400);
    const token = await t.app.inject({
      method: "POST",
      url: "/oauth2/v2.0/token",
      payload:
        "grant_type=client_credentials&client_id=%00&client_secret=x&scope=api%3A%2F%2Fpindesk%2F.default",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(token.statusCode, token.body).toBe(400);
    expect(token.json().error).toBe("invalid_request");
  });

  it("explains error codes over HTTP", async () => {
    const hex = await t.app.inject({ method: "GET", url: "/api/v1/errors/0X80072F0C" });
    expect(hex.statusCode).toBe(200);
    expect(hex.json()).toMatchObject({ kind: "windowsHello" });
    const ours = await t.app.inject({ method: "GET", url: "/api/v1/errors/pinTooShort" });
    expect(ours.json()).toMatchObject({ kind: "pindesk" });
    const unknown = await t.app.inject({ method: "GET", url: "/api/v1/errors/zzz" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().pointer).toContain("GET /api/v1/errors");
    const list = await t.app.inject({ method: "GET", url: "/api/v1/errors" });
    expect(list.statusCode).toBe(200);
    expect(list.json().windowsHello).toHaveLength(52);
    expect(list.json().pindesk).toContainEqual(expect.objectContaining({ code: "pinTooShort", status: 400 }));
  });

  it("serves health, readiness, metrics and docs", async () => {
    expect((await t.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    const ready = await t.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    const metrics = await t.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain('pindesk_pin_verifications_total{outcome="success"');
    expect(metrics.body).toContain("pindesk_pin_lockouts_total 1");
    expect(metrics.body).toContain("pindesk_hash_duration_seconds_bucket");
    const docs = await t.app.inject({ method: "GET", url: "/docs/json" });
    expect(docs.json().paths).toHaveProperty("/api/v1/verify");
  });
});

describe.each(dialects)("concurrent writes on %s", (dialect) => {
  let t: TestInstance;
  let admin: string;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
    admin = await bearerFor(t, "User.ReadWrite.All", "Policy.ReadWrite.PinPolicy");
  });
  afterAll(() => t?.close());

  it("regression: parallel policy changes are all saved as successive versions, never a 500", async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.app.inject({
          method: "PATCH",
          url: "/api/v1/policies/pin",
          headers: { authorization: admin },
          payload: { history: i + 1 },
        }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(new Set(responses.map((r) => r.json().version)).size).toBe(10);
    expect((await t.services.policies.current()).version).toBe(10);
  });

  it("regression: parallel creation of one user gives one 201 and 409 userAlreadyExists for the rest", async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.app.inject({
          method: "POST",
          url: "/api/v1/users",
          headers: { authorization: admin },
          payload: { userPrincipalName: "twin@contoso.com", displayName: "Twin" },
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([201, ...Array(19).fill(409)]);
    for (const r of responses.filter((r) => r.statusCode === 409)) {
      expect(r.json().error.code).toBe("userAlreadyExists");
    }
  });
});

describe.each(dialects)("refusals are answered and audited on %s", (dialect) => {
  let t: TestInstance;
  let admin: string;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
    admin = await bearerFor(t, "Pin.ReadWrite.All", "Policy.ReadWrite.PinPolicy");
    await t.services.users.create(cliContext, { userPrincipalName: "bo@contoso.com", displayName: "Bo" });
  });
  afterAll(() => t?.close());

  it("removing a PIN that does not exist says so instead of reporting success", async () => {
    const res = await t.app.inject({
      method: "DELETE",
      url: "/api/v1/users/bo@contoso.com/pin",
      headers: { authorization: admin },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe("noPin");
    expect(await t.services.audit.query({ action: "pin.removed", limit: 5 })).toHaveLength(0);
  });

  it("a refused policy change and a refused PIN change are both in the audit log, without the PIN", async () => {
    const bad = await t.app.inject({
      method: "PATCH",
      url: "/api/v1/policies/pin",
      headers: { authorization: admin },
      payload: { minLength: 2 },
    });
    expect(bad.statusCode).toBe(400);
    const [policyEvent] = await t.services.audit.query({ action: "policy.updated", limit: 1 });
    expect(policyEvent).toMatchObject({ outcome: "failure" });

    await t.services.pins.set(cliContext, "bo@contoso.com", "482915");
    await expect(
      t.services.pins.change(cliContext, "bo@contoso.com", "482915", "1111"),
    ).rejects.toMatchObject({
      code: "pinTooShort",
    });
    const [changeEvent] = await t.services.audit.query({ action: "pin.changed", limit: 1 });
    expect(changeEvent).toMatchObject({ outcome: "failure", reason: "pinTooShort" });
    expect(JSON.stringify(changeEvent)).not.toContain("1111");
    await expect(t.services.pins.changeWithToken(cliContext, "forged-token", "730164")).rejects.toMatchObject(
      {
        code: "pinChangeTokenInvalid",
      },
    );
    const [tokenEvent] = await t.services.audit.query({ action: "pin.changed", limit: 1 });
    expect(tokenEvent).toMatchObject({ outcome: "failure", reason: "pinChangeTokenInvalid" });
  });
});

describe("bad requests below the routes", () => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance("sqlite");
    await t.app.listen({ host: "127.0.0.1", port: 0 });
  });
  afterAll(() => t?.close());

  it("answers oversized headers with 431 and a catalogue body, not an empty reply", async () => {
    const address = t.app.server.address();
    if (typeof address !== "object" || address === null) throw new Error("not listening");
    const res = await fetch(`http://127.0.0.1:${address.port}/health`, {
      headers: { authorization: `Bearer ${"x".repeat(20_000)}` },
    });
    expect(res.status).toBe(431);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("headersTooLarge");
  });

  it("treats an empty JSON body on a POST whose body is optional as no body", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "empty@contoso.com", displayName: "E" });
    const admin = await bearerFor(t, "Pin.ReadWrite.All");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/users/empty@contoso.com/pin/temporary",
      headers: { authorization: admin, "content-type": "application/json" },
      payload: "",
    });
    expect(res.statusCode).toBe(201);
  });
});
