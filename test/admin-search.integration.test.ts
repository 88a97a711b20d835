/**
 * The help desk's user search and the dashboard counts.
 * Regressions pinned here:
 * - the state filter disagreed with the state shown: "Must Change" listed locked users, "Account
 *   Lockout" listed users without a PIN (one rule now serves filter, counts and display, with the PIN
 *   service's precedence, including locks that ran out and PINs that expired with time);
 * - "Ömer" was not found by "omer" or "ÖMER" on SQLite (lower() folds ASCII only);
 * - a surname did not find anyone ("locked" → "Lee Locked").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import type { PinState } from "../src/services/pin-service.ts";
import { firstAdmin, type PortalClient } from "./helpers/admin.ts";
import { createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

const STATES: PinState[] = ["Steady State", "Must Change", "Account Lockout", "No PIN"];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe.each(dialects)("admin user search on %s", (dialect) => {
  let t: TestInstance;
  let admin: PortalClient;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    admin = await firstAdmin(t);
  });
  afterAll(() => t?.close());

  const add = async (
    upn: string,
    displayName: string,
    pin: string | null,
    extra: { mail?: string; roles?: string[] } = {},
  ) => {
    const user = await t.services.users.create(cliContext, { userPrincipalName: upn, displayName, ...extra });
    if (pin) await t.services.pins.set(cliContext, user.id, pin);
    return user;
  };
  const lock = async (upn: string) => {
    for (let i = 0; i < 10; i++)
      await t.services.pins.verify(cliContext, upn, "000013").catch(() => undefined);
  };
  const search = async (params: Record<string, string>) => {
    const res = await admin.get(
      `/portal/api/admin/users?${new URLSearchParams({ limit: "100", ...params })}`,
    );
    expect(res.statusCode, JSON.stringify(res.body)).toBe(200);
    return res.body as {
      users: { id: string; displayName: string; state: string }[];
      nextCursor: string | null;
    };
  };
  // Days pass in some tests and portal sessions end: those call the service the route calls.
  const searchNow = (params: { q?: string; state?: PinState; cursor?: string }) =>
    t.services.admin.searchUsers(cliContext, { limit: 100, ...params });
  const names = async (q: string) => (await search({ q })).users.map((u) => u.displayName);

  it("finds names with accents and other scripts whatever the case, by any word, and by mail", async () => {
    await add("omer@contoso.com", "Ömer Çelik", null, { mail: "ÖMER.Celik@Contoso.com" });
    await add("lee@contoso.com", "Lee Locked", null);
    await add("zoe.strasse@contoso.com", "Zoë Straße", null);
    await add("mark.smith@contoso.com", "Mark Smith", null);
    await add("ann.marksmith@contoso.com", "Ann Marksmith", null);

    expect(await names("omer")).toEqual(["Ömer Çelik"]);
    expect(await names("ÖMER")).toEqual(["Ömer Çelik"]);
    expect(await names("ömer ç")).toEqual(["Ömer Çelik"]);
    expect(await names("Çelik")).toEqual(["Ömer Çelik"]);
    expect(await names("celik")).toEqual(["Ömer Çelik"]);
    expect(await names("omer.celik@c")).toEqual(["Ömer Çelik"]);
    expect(await names("strasse")).toEqual(["Zoë Straße"]);
    expect(await names("ZOE S")).toEqual(["Zoë Straße"]);
    expect(await names("locked")).toEqual(["Lee Locked"]);
    expect(await names("Lock")).toEqual(["Lee Locked"]);
    // Every word must match the start of a word of the name (in any order).
    expect(await names("smith mark")).toEqual(["Mark Smith"]);
    // The user-name match comes first, then the display name, then other words; each user once.
    expect(await names("mark")).toEqual(["Mark Smith", "Ann Marksmith"]);
    expect(await names("marksm")).toEqual(["Ann Marksmith"]);
    expect(await names("nomatch")).toEqual([]);
  });

  it("keeps the search words in step with renames", async () => {
    const user = await add("rename.me@contoso.com", "Rhea Oldname", null);
    expect(await names("oldname")).toEqual(["Rhea Oldname"]);
    await t.services.users.update(cliContext, user.id, { displayName: "Rhea Newname" });
    expect(await names("oldname")).toEqual([]);
    expect(await names("newname")).toEqual(["Rhea Newname"]);
    await t.services.users.update(cliContext, user.id, { userPrincipalName: "rhea.other@contoso.com" });
    expect(await names("other")).toEqual(["Rhea Newname"]);
    expect((await search({ q: "rename.me" })).users).toEqual([]);
    // A user with a PIN and a lock is deleted with their words (the triggers follow the cascade).
    await t.services.pins.set(cliContext, user.id, "482915");
    await lock("rhea.other@contoso.com");
    await t.services.users.delete(cliContext, user.id);
    expect(await names("newname")).toEqual([]);
  });

  it("pages through every source without repeating or skipping anyone", async () => {
    for (let i = 0; i < 12; i++)
      await add(`pager${String(i).padStart(2, "0")}@contoso.com`, `Pager ${i}`, null);
    for (let i = 0; i < 8; i++) await add(`other${i}@contoso.com`, `Zed Pagerson ${i}`, null);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res = await admin.get(
        `/portal/api/admin/users?q=pager&limit=5${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...res.body.users.map((u: { displayName: string }) => u.displayName));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    expect(seen.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => `Pager ${i}`));
    // Same word, so in id order: which one comes first is not a name order.
    expect([...seen.slice(12)].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `Zed Pagerson ${i}`));
    const bad = await admin.get("/portal/api/admin/users?cursor=bm90LWEtY3Vyc29y");
    expect(bad.statusCode).toBe(400);
    expect(bad.body.error.problems).toEqual([
      { field: "cursor", message: "is not a cursor from a previous page" },
    ]);
  });

  it("filter, row and counts agree with the PIN service's state, as time passes", async () => {
    // A fresh directory of known states (the earlier tests' users have no PIN; the admin is Steady).
    const made: Record<string, string> = {};
    const mk = async (key: string, pin: string | null) => {
      made[key] = (await add(`st.${key}@contoso.com`, `State ${key}`, pin)).id;
    };
    await mk("steady", "482915");
    await mk("nopin", null);
    await mk("temporary", "593026");
    await t.services.pins.resetTemporary(cliContext, made.temporary as string);
    await mk("forced", "604137");
    await t.services.pins.set(cliContext, made.forced as string, "715248", {
      action: "pin.reset",
      forceChange: true,
    });
    await mk("locked", "826359");
    await lock("st.locked@contoso.com");
    // Locked while it must also be changed: Account Lockout comes first.
    await mk("lockedmust", "937460");
    await t.services.pins.set(cliContext, made.lockedmust as string, "148571", {
      action: "pin.reset",
      forceChange: true,
    });
    await lock("st.lockedmust@contoso.com");
    // Locked, then the PIN was removed: No PIN comes first.
    await mk("lockedgone", "259682");
    await lock("st.lockedgone@contoso.com");
    await t.services.pins.remove(cliContext, made.lockedgone as string);

    const check = async (expected: Record<string, PinState>) => {
      for (const [key, state] of Object.entries(expected)) {
        const id = made[key] as string;
        expect((await t.services.pins.status(id)).state, `${key}: PIN service`).toBe(state);
        const row = (await searchNow({ q: `st.${key}@contoso.com` })).users;
        expect(
          row.map((u) => [u.id, u.state]),
          `${key}: row shown`,
        ).toEqual([[id, state]]);
        for (const filter of STATES) {
          const listed = (await searchNow({ q: `st.${key}@contoso.com`, state: filter })).users.map(
            (u) => u.id,
          );
          expect(listed, `${key}: filter ${filter}`).toEqual(filter === state ? [id] : []);
          const unfiltered = (await searchNow({ state: filter })).users.map((u) => u.id);
          expect(unfiltered.includes(id), `${key}: filter ${filter} without a search`).toBe(filter === state);
        }
      }
      // The dashboard counts every user by the same rule.
      const all: Record<string, number> = {
        "Steady State": 0,
        "Must Change": 0,
        "Account Lockout": 0,
        "No PIN": 0,
      };
      let cursor: string | null = null;
      do {
        const page = await searchNow(cursor ? { cursor } : {});
        for (const u of page.users) {
          all[u.state] = (all[u.state] ?? 0) + 1;
          expect((await t.services.pins.status(u.id)).state).toBe(u.state);
        }
        cursor = page.nextCursor;
      } while (cursor);
      expect((await t.services.admin.dashboard(cliContext)).usersPerState).toEqual(all);
    };

    await check({
      steady: "Steady State",
      nopin: "No PIN",
      temporary: "Must Change",
      forced: "Must Change",
      locked: "Account Lockout",
      lockedmust: "Account Lockout",
      lockedgone: "No PIN",
    });

    // The first lock lasts a minute: after it the users are back to their other state.
    t.clock.advance(61_000);
    await check({ locked: "Steady State", lockedmust: "Must Change" });

    // PINs expire under a new policy, by the clock, without any write.
    await t.services.policies.update(cliContext, { expirationDays: 30 });
    await check({ steady: "Steady State", locked: "Steady State" });
    t.clock.advance(31 * DAY);
    await check({ steady: "Must Change", locked: "Must Change", nopin: "No PIN" });
    await t.services.pins.set(cliContext, made.steady as string, "360793");
    await check({ steady: "Steady State" });
    await t.services.policies.update(cliContext, { expirationDays: 0 });
    await check({ steady: "Steady State", locked: "Steady State", temporary: "Must Change" });

    // Unblock and a permanent lock.
    await t.services.policies.update(cliContext, { lockout: { mode: "permanent" } });
    await lock("st.locked@contoso.com");
    await check({ locked: "Account Lockout" });
    t.clock.advance(30 * DAY);
    await check({ locked: "Account Lockout" });
    await t.services.pins.unblock(cliContext, made.locked as string);
    await check({ locked: "Steady State" });
    await t.services.policies.reset(cliContext);
  });

  it("shows the wrong PINs that still count, not the ones a lock that ran out wiped", async () => {
    const user = await add("counts@contoso.com", "Count Me", "471829");
    for (let i = 0; i < 3; i++)
      await t.services.pins.verify(cliContext, "counts@contoso.com", "000013").catch(() => undefined);
    const row = (await searchNow({ q: "counts@" })).users[0];
    expect(row?.failedAttempts).toBe(3);
    expect((await t.services.pins.status(user.id)).failedAttempts).toBe(3);
    await lock("counts@contoso.com");
    expect((await searchNow({ q: "counts@" })).users[0]?.failedAttempts).toBe(10);
    t.clock.advance(61_000);
    // The lock ran out: the next try starts a fresh count, and both views say 0.
    expect((await t.services.pins.status(user.id)).failedAttempts).toBe(0);
    expect((await searchNow({ q: "counts@" })).users[0]?.failedAttempts).toBe(0);
  });
});

describe.each(dialects)("first-run checks on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  it("finds an administrator behind more than a thousand users with other roles", async () => {
    // Regression: only the first 1,000 users with any role were looked at.
    const { db, services } = t;
    await db.transaction(async (trx) => {
      for (let i = 0; i < 1100; i++)
        await services.repos.users.insert(
          {
            id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
            userPrincipalName: `reader${i}@contoso.com`,
            displayName: `Reader ${i}`,
            roles: ["Directory Readers"],
          },
          t.clock.now(),
          trx,
        );
    });
    expect(await services.admin.hasAdministrator()).toBe(false);
    expect((await (await t.app.inject("/portal/api/setup/status")).json()).needsSetup).toBe(true);
    await services.users.create(cliContext, {
      userPrincipalName: "late.admin@contoso.com",
      displayName: "Late Admin",
      roles: ["Helpdesk Administrator"],
    });
    expect(await services.admin.hasAdministrator()).toBe(true);
    expect((await (await t.app.inject("/portal/api/setup/status")).json()).needsSetup).toBe(false);
  });
});
