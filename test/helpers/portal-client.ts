/** A tiny browser stand-in for portal API tests: keeps cookies and the CSRF token between requests. */
import type { TestInstance } from "./instance.ts";

export interface PortalResponse {
  statusCode: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected loosely.
  body: any;
  /** Raw Set-Cookie headers (for checking cookie attributes). */
  setCookies: string[];
}

/** `ip`: the client address the app sees (per-address rate limits). */
export const portalClient = (t: TestInstance, options: { ip?: string } = {}) => {
  const cookies = new Map<string, string>();
  let csrf: string | undefined;
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const request = async (
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    payload?: unknown,
  ): Promise<PortalResponse> => {
    const res = await t.app.inject({
      method,
      url,
      ...(options.ip && { remoteAddress: options.ip }),
      headers: {
        ...(cookies.size > 0 && { cookie: cookieHeader() }),
        ...(csrf && method !== "GET" && { "x-csrf-token": csrf }),
        ...(payload !== undefined && { "content-type": "application/json" }),
      },
      ...(payload !== undefined && { payload: JSON.stringify(payload) }),
    });
    for (const c of res.cookies) {
      if (c.value === "" || (c.expires && new Date(c.expires).getTime() < Date.now())) cookies.delete(c.name);
      else cookies.set(c.name, c.value);
    }
    const json = String(res.headers["content-type"] ?? "").includes("application/json");
    const body = res.body && json ? JSON.parse(res.body) : res.body;
    if (body && typeof body.csrfToken === "string") csrf = body.csrfToken;
    return {
      statusCode: res.statusCode,
      body,
      setCookies: ([] as string[]).concat(res.headers["set-cookie"] ?? []),
    };
  };
  return {
    get: (url: string) => request("GET", url),
    post: (url: string, payload: unknown = {}) => request("POST", url, payload),
    put: (url: string, payload: unknown) => request("PUT", url, payload),
    patch: (url: string, payload: unknown) => request("PATCH", url, payload),
    delete: (url: string) => request("DELETE", url),
    cookies,
    /** Puts back a cookie copied earlier (replaying an old sign-in state). */
    setCookie: (name: string, value: string) => cookies.set(name, value),
    dropCsrf: () => {
      csrf = undefined;
    },
    /** Signs in with a PIN-only set. */
    async signInWithPin(upn: string, pin: string) {
      await request("POST", "/portal/api/signin/start", { userPrincipalName: upn });
      return request("POST", "/portal/api/signin/pin", { pin });
    },
  };
};
