/**
 * No secret in clear anywhere: PINs, temporary PINs, client secrets and change tokens never reach the
 * logs, the audit trail, any database column or an error body.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const dumpDatabase = async (t: TestInstance): Promise<string> => {
  const { kysely, dialect } = t.db;
  const tables =
    dialect === "sqlite"
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(kysely)
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(
          kysely,
        );
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(name)}`.execute(kysely);
    parts.push(JSON.stringify(rows.rows));
  }
  return parts.join("\n");
};

describe.each(dialects)("secrets on %s", (dialect) => {
  let t: TestInstance;
  const secrets: string[] = [];
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  it("a full lifecycle leaves no secret in logs, audit, database or error bodies", async () => {
    // Ten digits: a six-digit secret turns up by chance in the logs' many-digit response times
    // (about one run in a hundred), which would fail the test for the wrong reason.
    const chosen = "7301642958";
    const changed = "8642093175";
    secrets.push(chosen, changed);
    const { clientId, clientSecret } = await t.services.apps.create(cliContext, "s", [
      "Pin.Verify",
      "Pin.ReadWrite.All",
      "User.ReadWrite.All",
      "AuditLog.Read.All",
    ]);
    secrets.push(clientSecret);
    const tokenRes = await t.app.inject({
      method: "POST",
      url: "/oauth2/v2.0/token",
      payload: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
    });
    const accessToken = tokenRes.json().access_token as string;
    secrets.push(accessToken);
    const authorization = `Bearer ${accessToken}`;
    const bodies: string[] = [];
    // Every call states the answer it must get: a call that failed early would leave nothing to find.
    const call = async (
      method: "GET" | "POST" | "PUT",
      url: string,
      payload: object | undefined,
      status: number,
    ) => {
      const res = await t.app.inject({
        method,
        url,
        headers: { authorization },
        ...(payload && { payload }),
      });
      expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 200)}`).toBe(status);
      bodies.push(res.body);
      return res;
    };

    await call("POST", "/api/v1/users", { userPrincipalName: "sec@contoso.com", displayName: "Sec" }, 201);
    await call("PUT", "/api/v1/users/sec@contoso.com/pin", { pin: chosen, forceChange: false }, 200);
    // Policy rejections must not echo the PIN they reject, nor wrong PINs their guess.
    const rejected = "4545454545";
    const wrong = "9999170283";
    const huge = "5".repeat(300);
    await call("PUT", "/api/v1/users/sec@contoso.com/pin", { pin: rejected }, 400);
    await call("POST", "/api/v1/verify", { userPrincipalName: "sec@contoso.com", pin: wrong }, 401);
    await call("POST", "/api/v1/verify", { userPrincipalName: "ghost@contoso.com", pin: wrong }, 401);
    await call("POST", "/api/v1/verify", { userPrincipalName: "sec@contoso.com", pin: chosen }, 200);
    const temp = await call("POST", "/api/v1/users/sec@contoso.com/pin/temporary", {}, 201);
    const temporaryPin = temp.json().temporaryPin as string;
    bodies.pop(); // the one response that must show it
    secrets.push(temporaryPin);
    const first = await call(
      "POST",
      "/api/v1/verify",
      { userPrincipalName: "sec@contoso.com", pin: temporaryPin },
      200,
    );
    const changeToken = first.json().changeToken as string;
    bodies.pop(); // the change token is returned to its caller
    secrets.push(changeToken);
    await call("POST", "/api/v1/pin/change", { changeToken, newPin: huge }, 400);
    await call("POST", "/api/v1/pin/change", { changeToken, newPin: changed }, 200);
    await call("POST", "/api/v1/pin/change", { changeToken, newPin: "7391640528" }, 401);
    await call("POST", "/api/v1/verify", { userPrincipalName: "sec@contoso.com", pin: changed }, 200);
    await call("GET", "/api/v1/audit?limit=500", undefined, 200);

    const logs = t.logs();
    const audit = JSON.stringify(await t.services.audit.query({ limit: 1000 }));
    const database = await dumpDatabase(t);
    expect(logs.length).toBeGreaterThan(1000);
    expect(database).toContain("sec@contoso.com");
    for (const secret of [...secrets, rejected, wrong, huge]) {
      expect(logs, "logs").not.toContain(secret);
      expect(audit, "audit").not.toContain(secret);
      expect(database, "database").not.toContain(secret);
    }
    for (const secret of [...secrets, rejected, wrong, huge]) {
      for (const body of bodies) expect(body).not.toContain(secret);
    }
  });

  it("a bad client secret is not logged either", async () => {
    const guess = "not-the-secret-3f9a1c";
    const res = await t.app.inject({
      method: "POST",
      url: "/oauth2/v2.0/token",
      payload: `grant_type=client_credentials&client_id=00000000-0000-0000-0000-000000000000&client_secret=${guess}`,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_client");
    expect(res.body).not.toContain(guess);
    expect(t.logs()).not.toContain(guess);
  });
});
