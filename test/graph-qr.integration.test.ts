/**
 * The Graph-compatible QR code + PIN surface driven by the official Microsoft Graph JavaScript client,
 * over real HTTP, exactly as an admin script would use it — only the base URL and the token differ.
 */
import {
  Client,
  type Context,
  GraphError,
  HTTPMessageHandler,
  type Middleware,
} from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { bearerFor, createTestInstance, dialects, type TestInstance } from "./helpers/instance.ts";

/**
 * The SDK's default chain drops Authorization on http:// hosts; this chain adds the bearer token and
 * sends the request with fetch.
 */
class BearerMiddleware implements Middleware {
  private next: Middleware | undefined;
  constructor(private readonly authorization: string) {}
  async execute(context: Context): Promise<void> {
    const options = context.options ?? {};
    const headers = new Headers(options.headers as HeadersInit | undefined);
    headers.set("Authorization", this.authorization);
    context.options = { ...options, headers };
    if (!this.next) throw new Error("BearerMiddleware needs a next middleware");
    await this.next.execute(context);
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

const graphClient = (baseUrl: string, authorization: string, version = "v1.0") =>
  Client.initWithMiddleware({
    baseUrl,
    defaultVersion: version,
    middleware: [new BearerMiddleware(authorization), new HTTPMessageHandler()],
  });

/** Runs a request that must fail and returns the SDK's GraphError. */
const graphError = async (request: Promise<unknown>): Promise<GraphError> => {
  try {
    await request;
  } catch (error) {
    if (error instanceof GraphError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
};

const day = 86_400_000;

describe.each(dialects)("Graph QR code + PIN through the Microsoft Graph SDK on %s", (dialect) => {
  let t: TestInstance;
  let baseUrl: string;
  let admin: Client;
  let adminBeta: Client;
  let reader: Client;

  beforeAll(async () => {
    t = await createTestInstance(dialect);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    baseUrl = `http://127.0.0.1:${address.port}`;
    await signIn();
  });
  afterAll(() => t?.close());

  /** Fresh application tokens (tests move the clock past their lifetime). */
  const signIn = async () => {
    const adminToken = await bearerFor(
      t,
      "User.ReadWrite.All",
      "UserAuthenticationMethod.ReadWrite.All",
      "Policy.ReadWrite.AuthenticationMethod",
    );
    admin = graphClient(baseUrl, adminToken);
    adminBeta = graphClient(baseUrl, adminToken, "beta");
    reader = graphClient(baseUrl, await bearerFor(t, "User.Read.All", "UserAuthMethod-QR.Read.All"));
  };

  const window = (days = 30) => ({
    startDateTime: new Date(t.clock.now()).toISOString(),
    expireDateTime: new Date(t.clock.now() + days * day).toISOString(),
  });
  const rawOf = (image: { rawContent: string }) => Buffer.from(image.rawContent, "base64").toString("utf8");

  it("creates a user, a method, resets the PIN, signs in, changes the PIN and signs in again", async () => {
    const user = await admin.api("/users").post({
      accountEnabled: true,
      displayName: "Frontline Fay",
      mailNickname: "fay",
      userPrincipalName: "fay@contoso.com",
      passwordProfile: { forceChangePasswordNextSignIn: true, password: "ignored-by-pindesk" },
    });
    expect(user).toMatchObject({
      "@odata.type": "#microsoft.graph.user",
      userPrincipalName: "fay@contoso.com",
      displayName: "Frontline Fay",
      accountEnabled: true,
    });
    expect(user["@odata.context"]).toBe(`${t.config.publicUrl}/v1.0/$metadata#users/$entity`);

    const upn = encodeURIComponent("fay@contoso.com");
    const method = await admin.api(`/users/${upn}/authentication/qrCodePinMethod`).put({
      "@odata.type": "#microsoft.graph.qrCodePinAuthenticationMethod",
      standardQRCode: window(),
      pin: { code: "48291573" },
    });
    expect(method["@odata.type"]).toBe("#microsoft.graph.qrCodePinAuthenticationMethod");
    expect(method.temporaryQRCode).toBeNull();
    expect(method.pin).toMatchObject({
      "@odata.type": "#microsoft.graph.qrPin",
      code: "48291573",
      forceChangePinNextSignIn: true,
    });
    expect(method.standardQRCode["@odata.type"]).toBe("#microsoft.graph.qrCode");
    expect(method.standardQRCode.image).toMatchObject({
      "@odata.type": "#microsoft.graph.qrCodeImageDetails",
      errorCorrectionLevel: "m",
    });
    expect(Buffer.from(method.standardQRCode.image.binaryValue, "base64").toString("utf8")).toContain("<svg");
    const raw = rawOf(method.standardQRCode.image);
    expect(raw.startsWith("pindesk:qr:1:")).toBe(true);

    // GET by id, on /beta too, never shows the image or the PIN.
    for (const client of [admin, adminBeta, reader]) {
      const got = await client.api(`/users/${user.id}/authentication/qrCodePinMethod`).get();
      expect(got.standardQRCode.image).toBeNull();
      expect(got.pin.code).toBeNull();
      expect(got.standardQRCode.id).toBe(method.standardQRCode.id);
    }
    const selected = await admin.api(`/users/${upn}/authentication/qrCodePinMethod`).select("pin").get();
    expect(Object.keys(selected).filter((k) => !k.startsWith("@odata."))).toEqual(["pin"]);

    // Reset: Graph generates the temporary PIN and ignores any code supplied.
    const reset = await admin.api(`/users/${upn}/authentication/qrCodePinMethod/pin`).patch({ pin: "" });
    expect(reset["@odata.type"]).toBe("#microsoft.graph.qrPin");
    expect(reset.code).toMatch(/^\d{8}$/);
    expect(reset.forceChangePinNextSignIn).toBe(true);
    expect(Date.parse(reset.createdDateTime)).not.toBeNaN();
    expect(Date.parse(reset.updatedDateTime)).not.toBeNaN();
    const again = await admin
      .api(`/users/${upn}/authentication/qrCodePinMethod/pin`)
      .patch({ code: "11112222" });
    expect(again.code).not.toBe("11112222");

    // The frontline worker's side: the temporary PIN only opens the change step.
    const first = await t.services.qr.signIn(cliContext, raw, again.code);
    expect(first.result).toBe("pinChangeRequired");
    if (first.result !== "pinChangeRequired") throw new Error("unreachable");
    await t.services.pins.changeWithToken(cliContext, first.changeToken, "73016482");
    expect((await t.services.qr.signIn(cliContext, raw, "73016482")).result).toBe("success");

    // Update own PIN with a delegated token, through the SDK's POST for the updatePin action.
    const userToken = await t.services.tokens.issueUserToken(
      { userId: user.id, upn: "fay@contoso.com", roles: [] },
      "https://graph.microsoft.com",
    );
    const me = graphClient(baseUrl, `Bearer ${userToken}`);
    const mine = await me.api("/me/authentication/qrCodePinMethod").get();
    expect(mine.pin.forceChangePinNextSignIn).toBe(false);
    await me
      .api("/me/authentication/qrCodePinMethod/pin/updatePin")
      .post({ currentPin: "73016482", newPin: "51739264" });
    expect((await t.services.qr.signIn(cliContext, raw, "51739264")).result).toBe("success");

    const wrong = await graphError(
      me
        .api("/me/authentication/qrCodePinMethod/pin/updatePin")
        .post({ currentPin: "00000000", newPin: "62840173" }),
    );
    expect(wrong.statusCode).toBe(400);
    expect(wrong.code).toBe("invalidPin");
    expect(wrong.message).toContain("Attempts remaining");
  });

  it("reports every documented error through GraphError", async () => {
    await admin.api("/users").post({ displayName: "Second", userPrincipalName: "sam@contoso.com" });
    const sam = `/users/${encodeURIComponent("sam@contoso.com")}/authentication/qrCodePinMethod`;

    const notFound = await graphError(admin.api(sam).get());
    expect(notFound.statusCode).toBe(404);
    expect(notFound.code).toBe("itemNotFound");
    expect(notFound.message).toBe("This user has no QR code + PIN method.");
    expect(notFound.requestId).toBeTruthy();

    const noUser = await graphError(
      admin.api("/users/nobody%40contoso.com/authentication/qrCodePinMethod").get(),
    );
    expect(noUser.statusCode).toBe(404);
    expect(noUser.code).toBe("itemNotFound");

    const tooShort = await graphError(
      admin.api(sam).put({ standardQRCode: window(), pin: { code: "1234567" } }),
    );
    expect(tooShort.statusCode).toBe(400);
    expect(tooShort.code).toBe("pinTooShort");
    expect(tooShort.message).toBe("PIN needs to be digit only and at least 8 characters long.");

    const noStandard = await graphError(admin.api(sam).put({ pin: { code: "48291573" } }));
    expect(noStandard.statusCode).toBe(400);
    expect(noStandard.code).toBe("standardQRCodeRequired");
    const withTemporary = await graphError(
      admin
        .api(sam)
        .put({ standardQRCode: window(), temporaryQRCode: window(0.25), pin: { code: "48291573" } }),
    );
    expect(withTemporary.code).toBe("standardQRCodeRequired");

    await admin.api(sam).put({ standardQRCode: window(), pin: { code: "48291573" } });
    const twice = await graphError(
      admin.api(sam).put({ standardQRCode: window(), pin: { code: "48291573" } }),
    );
    expect(twice.statusCode).toBe(400);
    expect(twice.code).toBe("tooManyQRCodePinMethod");

    const denied = await graphError(reader.api(sam).delete());
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe("accessDenied");
    expect(denied.message).toContain("UserAuthenticationMethod.ReadWrite.All");

    const appUpdatesPin = await graphError(
      admin.api(`${sam}/pin/updatePin`).post({ currentPin: "48291573", newPin: "62840173" }),
    );
    expect(appUpdatesPin.statusCode).toBe(403);
    expect(appUpdatesPin.code).toBe("accessDenied");

    const forged = graphClient(baseUrl, "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl");
    const badToken = await graphError(forged.api(sam).get());
    expect(badToken.statusCode).toBe(401);
    expect(badToken.code).toBe("InvalidAuthenticationToken");

    const expiredToken = await bearerFor(t, "UserAuthMethod-QR.Read.All");
    t.clock.advance(2 * 3_600_000);
    const expired = await graphError(graphClient(baseUrl, expiredToken).api(sam).get());
    expect(expired.code).toBe("InvalidAuthenticationToken");
    expect(expired.message).toContain("expired");
    // A token that was valid (and already accepted) before stops working when it expires.
    const stale = await graphError(reader.api(sam).get());
    expect(stale.statusCode).toBe(401);
    expect(stale.code).toBe("InvalidAuthenticationToken");
    await signIn();
  });

  it("echoes client-request-id and request-id in the error's innerError", async () => {
    const error = await graphError(
      admin
        .api("/users/nobody%40contoso.com")
        .header("client-request-id", "7d5c2e0a-55b1-4c1e-9d6a-2f0e4b8b1c11")
        .get(),
    );
    const body = JSON.parse(error.body as string) as {
      innerError: Record<string, string>;
    };
    expect(body.innerError["client-request-id"]).toBe("7d5c2e0a-55b1-4c1e-9d6a-2f0e4b8b1c11");
    expect(body.innerError["request-id"]).toBe(error.requestId);
    expect(body.innerError.date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(error.headers?.get("client-request-id")).toBe("7d5c2e0a-55b1-4c1e-9d6a-2f0e4b8b1c11");
    expect(error.headers?.get("request-id")).toBe(error.requestId);
  });

  it("manages standard and temporary QR codes", async () => {
    await admin.api("/users").post({ displayName: "Codes", userPrincipalName: "cody@contoso.com" });
    const base = "/users/cody%40contoso.com/authentication/qrCodePinMethod";
    await admin.api(base).put({ standardQRCode: window(), pin: { code: "48291573" } });

    const temp = await admin.api(`${base}/temporaryQRCode`).patch({});
    expect(temp["@odata.type"]).toBe("#microsoft.graph.qrCode");
    expect(temp.image.rawContent).toBeTruthy();
    expect(Date.parse(temp.expireDateTime) - Date.parse(temp.startDateTime)).toBe(12 * 3_600_000);
    const notEditable = await graphError(
      admin
        .api(`${base}/temporaryQRCode`)
        .patch({ expireDateTime: new Date(t.clock.now() + 3_600_000).toISOString() }),
    );
    expect(notEditable.code).toBe("qrCodeNotEditable");

    const later = new Date(t.clock.now() + 90 * day).toISOString();
    const edited = await admin.api(`${base}/standardQRCode`).patch({ expireDateTime: later });
    expect(edited.expireDateTime).toBe(later);
    expect(edited.image).toBeNull();

    const tooLong = await graphError(
      admin
        .api(`${base}/standardQRCode`)
        .patch({ expireDateTime: new Date(t.clock.now() + 400 * day).toISOString() }),
    );
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.code).toBe("invalidQrCodeLifetime");

    const got = await admin.api(`${base}/temporaryQRCode`).get();
    expect(got.image).toBeNull();
    await admin.api(`${base}/temporaryQRCode`).delete();
    const gone = await graphError(admin.api(`${base}/temporaryQRCode`).get());
    expect(gone.code).toBe("itemNotFound");

    // Deleting a code keeps the PIN; deleting the method removes everything.
    await admin.api(`${base}/standardQRCode`).delete();
    expect((await t.services.pins.status("cody@contoso.com")).state).not.toBe("No PIN");
    const recreated = await admin.api(`${base}/standardQRCode`).patch({});
    expect(recreated.image.binaryValue).toBeTruthy();
    await admin.api(base).delete();
    expect((await t.services.pins.status("cody@contoso.com")).state).toBe("No PIN");
    expect((await graphError(admin.api(base).get())).code).toBe("itemNotFound");
  });

  it("lists, filters, selects and pages users with @odata.nextLink", async () => {
    for (const n of ["a", "b", "c", "d", "e"]) {
      await admin
        .api("/users")
        .post({ displayName: `Pager ${n.toUpperCase()}`, userPrincipalName: `pager.${n}@contoso.com` });
    }
    const seen: string[] = [];
    let page = await admin
      .api("/users")
      .filter("startswith(userPrincipalName,'pager.')")
      .select(["userPrincipalName", "displayName"])
      .top(2)
      .get();
    expect(page["@odata.context"]).toBe(
      `${t.config.publicUrl}/v1.0/$metadata#users(userPrincipalName,displayName)`,
    );
    for (;;) {
      for (const u of page.value) {
        expect(Object.keys(u).sort()).toEqual(["@odata.type", "displayName", "userPrincipalName"]);
        seen.push(u.userPrincipalName);
      }
      const next = page["@odata.nextLink"] as string | undefined;
      if (!next) break;
      expect(next.startsWith(`${t.config.publicUrl}/v1.0/users?`)).toBe(true);
      const url = new URL(next);
      page = await admin.api(`${url.pathname.replace(/^\/v1\.0/, "")}${url.search}`).get();
    }
    expect(seen).toEqual(["a", "b", "c", "d", "e"].map((n) => `pager.${n}@contoso.com`));

    const byName = await admin.api("/users").filter("startswith(displayName,'pager c')").get();
    expect(byName.value.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual([
      "pager.c@contoso.com",
    ]);

    const one = await admin.api("/users/pager.b%40contoso.com").select("displayName").get();
    expect(one).toEqual({
      "@odata.context": `${t.config.publicUrl}/v1.0/$metadata#users(displayName)/$entity`,
      "@odata.type": "#microsoft.graph.user",
      displayName: "Pager B",
    });
    await admin
      .api("/users/pager.b%40contoso.com")
      .patch({ mobilePhone: "+44 7700 900123", accountEnabled: false });
    const patched = await admin.api("/users/pager.b%40contoso.com").get();
    expect(patched).toMatchObject({ mobilePhone: "+44 7700 900123", accountEnabled: false });
    await admin.api(`/users/${patched.id}`).delete();
    expect((await graphError(admin.api("/users/pager.b%40contoso.com").get())).code).toBe("itemNotFound");
  });

  it("reads, changes and restores the qrCodePin method policy", async () => {
    const path = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin";
    const policy = await admin.api(path).get();
    expect(policy).toMatchObject({
      "@odata.type": "#microsoft.graph.qrCodePinAuthenticationMethodConfiguration",
      id: "qrCodePin",
      state: "enabled",
      pinLength: 8,
      standardQRCodeLifetimeInDays: 365,
    });
    const changed = await admin.api(path).patch({
      "@odata.type": "#microsoft.graph.qrCodePinAuthenticationMethodConfiguration",
      state: "enabled",
      standardQRCodeLifetimeInDays: 180,
      pinLength: 10,
    });
    expect(changed).toMatchObject({ pinLength: 10, standardQRCodeLifetimeInDays: 180 });
    const outOfRange = await graphError(admin.api(path).patch({ pinLength: 7 }));
    expect(outOfRange.statusCode).toBe(400);
    expect(outOfRange.code).toBe("invalidRequest");
    expect((await graphError(admin.api(path).patch({ standardQRCodeLifetimeInDays: 396 }))).statusCode).toBe(
      400,
    );

    await admin.api(path).patch({ state: "disabled" });
    await admin.api("/users").post({ displayName: "Off", userPrincipalName: "off@contoso.com" });
    const disabled = await graphError(
      admin.api("/users/off%40contoso.com/authentication/qrCodePinMethod").put({
        standardQRCode: window(),
        pin: { code: "4829157301" },
      }),
    );
    expect(disabled.statusCode).toBe(403);
    expect(disabled.code).toBe("qrCodePinMethodDisabled");

    await admin.api(path).delete();
    expect(await admin.api(path).get()).toMatchObject({
      state: "enabled",
      pinLength: 8,
      standardQRCodeLifetimeInDays: 365,
    });
  });
});
