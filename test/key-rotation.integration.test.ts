import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import {
  createTestInstance,
  dialects,
  FAST_ARGON2ID,
  freshDatabase,
  OWASP_ARGON2ID,
} from "./helpers/instance.ts";

const storedHash = async (t: Awaited<ReturnType<typeof createTestInstance>>, upn: string) => {
  const user = await t.services.repos.users.findByUpn(upn);
  return (await t.services.repos.pins.get(user?.id ?? ""))?.hash ?? "";
};

describe.each(dialects)("pepper key rotation on %s", (dialect) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it("old hashes still verify and are re-hashed under the new key and parameters at the next success", async () => {
    const database = await freshDatabase(dialect);
    cleanup.push(() => database.drop());
    const k1 = `k1:${randomBytes(32).toString("base64")}`;
    const before = await createTestInstance(dialect, {
      database,
      pepper: k1,
      keepDatabase: true,
      hashParams: FAST_ARGON2ID,
    });
    await before.services.users.create(cliContext, {
      userPrincipalName: "rot@contoso.com",
      displayName: "Rot",
    });
    await before.services.pins.set(cliContext, "rot@contoso.com", "482915");
    const oldHash = await storedHash(before, "rot@contoso.com");
    expect(oldHash.startsWith("k1$")).toBe(true);
    await before.close();

    const k2 = `k2:${randomBytes(32).toString("base64")}`;
    const after = await createTestInstance(dialect, {
      database,
      pepper: `${k1},${k2}`,
      keepDatabase: true,
      hashParams: OWASP_ARGON2ID,
    });
    cleanup.push(() => after.close());
    await expect(after.services.pins.verify(cliContext, "rot@contoso.com", "000019")).rejects.toThrow();
    expect(await storedHash(after, "rot@contoso.com")).toBe(oldHash);
    const ok = await after.services.pins.verify(cliContext, "rot@contoso.com", "482915");
    expect(ok.result).toBe("success");
    const newHash = await storedHash(after, "rot@contoso.com");
    expect(newHash.startsWith("k2$")).toBe(true);
    expect(newHash).toContain("m=19456,t=2,p=1");
    expect((await after.services.pins.verify(cliContext, "rot@contoso.com", "482915")).result).toBe(
      "success",
    );
  });
});
