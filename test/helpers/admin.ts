/** Helpers for the admin portal's API tests: the first administrator, and signed-in clients by role. */
import { expect } from "vitest";
import { cliContext } from "../../src/services/context.ts";
import type { TestInstance } from "./instance.ts";
import { portalClient } from "./portal-client.ts";

export type PortalClient = ReturnType<typeof portalClient>;

/** Redeems a setup link the way the setup page does and returns the signed-in first administrator. */
export const firstAdmin = async (
  t: TestInstance,
  upn = "root@contoso.com",
  pin = "58203917",
): Promise<PortalClient> => {
  const link = await t.services.admin.createSetupLink(cliContext, t.config.publicUrl);
  const token = link.url.split("#")[1] as string;
  const client = portalClient(t);
  const created = await client.post("/portal/api/setup", {
    token,
    userPrincipalName: upn,
    displayName: "Root Admin",
    pin,
    confirmPin: pin,
  });
  expect(created.statusCode, JSON.stringify(created.body)).toBe(200);
  await client.get("/portal/api/session");
  return client;
};

let counter = 0;

/** A user with the roles and a PIN (Steady State), signed in to the portal. */
export const signedInWithRoles = async (
  t: TestInstance,
  roles: string[],
  extra: { upn?: string; displayName?: string } = {},
): Promise<{ client: PortalClient; id: string; upn: string }> => {
  counter++;
  const upn =
    extra.upn ?? `r${counter}.${roles.join("-").replace(/\W+/g, "").toLowerCase() || "none"}@contoso.com`;
  const pin = String(60_000_000 + counter * 7919 + 1_234);
  const user = await t.services.users.create(cliContext, {
    userPrincipalName: upn,
    displayName: extra.displayName ?? upn.split("@")[0] ?? upn,
    roles,
  });
  await t.services.pins.set(cliContext, user.id, pin);
  const client = portalClient(t);
  const signIn = await client.signInWithPin(upn, pin);
  expect(signIn.statusCode, JSON.stringify(signIn.body)).toBe(200);
  await client.get("/portal/api/session");
  return { client, id: user.id, upn };
};
