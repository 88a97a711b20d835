/**
 * A small keep-alive HTTP client on node:http: enough for closed-loop load, with no dependency whose own
 * overhead we would be measuring.
 */
import http from "node:http";

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A JSON value (sent as application/json) or a URLSearchParams (sent as a form). */
  readonly body?: unknown;
}

export interface HttpClient {
  request(method: string, path: string, options?: RequestOptions): Promise<HttpResponse>;
  close(): void;
}

const encode = (body: unknown): { type: string; data: string } | undefined => {
  if (body === undefined) return undefined;
  if (body instanceof URLSearchParams)
    return { type: "application/x-www-form-urlencoded", data: body.toString() };
  return { type: "application/json", data: JSON.stringify(body) };
};

export const createHttpClient = (baseUrl: string, { maxSockets }: { maxSockets: number }): HttpClient => {
  const base = new URL(baseUrl);
  // Sockets stay open between requests, as behind a load balancer: we measure the app, not TCP set-up.
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  return {
    request(method, path, options = {}) {
      const payload = encode(options.body);
      const headers: Record<string, string> = { ...options.headers };
      if (payload) {
        headers["content-type"] = payload.type;
        headers["content-length"] = String(Buffer.byteLength(payload.data));
      }
      return new Promise<HttpResponse>((resolve, reject) => {
        const req = http.request(
          { agent, hostname: base.hostname, port: base.port, method, path, headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
            );
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(payload?.data);
      });
    },
    close: () => agent.destroy(),
  };
};

/** Asks the token endpoint for an application token (client credentials, form body, as OAuth clients do). */
export const fetchAppToken = async (
  client: HttpClient,
  credentials: { clientId: string; clientSecret: string },
): Promise<string> => {
  const response = await client.request("POST", "/oauth2/v2.0/token", {
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
    }),
  });
  if (response.status !== 200) {
    throw new Error(`token request answered ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return `Bearer ${(JSON.parse(response.body) as { access_token: string }).access_token}`;
};
