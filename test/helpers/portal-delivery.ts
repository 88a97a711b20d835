/**
 * Real delivery endpoints for portal tests: an SMTP server (smtp-server) that can refuse some
 * recipients or the first attempts, and an HTTP SMS webhook that records what it was sent.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import type { Hasher } from "../../src/crypto/hasher.ts";

export interface SmtpMessage {
  to: string[];
  subject: string;
  text: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `refuse(address, attempt)` answers "550 5.1.1 mailbox unavailable" for that recipient; `attempt`
 * counts the tries for the address (1 for the first), so "refuse the first one, accept the retry" works.
 * `naming: true` puts the address in the refusal, as many real servers do ("<ana@…>: Recipient address
 * rejected").
 */
export const startSmtp = async (
  options: { refuse?: (address: string, attempt: number) => boolean; naming?: boolean } = {},
) => {
  const messages: SmtpMessage[] = [];
  const tries = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback) {
      const n = (tries.get(address.address) ?? 0) + 1;
      tries.set(address.address, n);
      if (options.refuse?.(address.address, n)) {
        const error = new Error(
          options.naming
            ? `5.1.1 <${address.address}>: Recipient address rejected: User unknown`
            : "5.1.1 mailbox unavailable",
        ) as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const [head = "", ...rest] = raw.split(/\r?\n\r?\n/);
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: /^subject:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? "",
          text: rest
            .join("\n\n")
            .replace(/=\r?\n/g, "")
            .trim(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    env: { PINDESK_SMTP_HOST: "127.0.0.1", PINDESK_SMTP_PORT: String(port) },
    messages: () => [...messages],
    /** How many times delivery to `address` was attempted (accepted or refused). */
    tries: (address: string) => tries.get(address) ?? 0,
    /**
     * The last code sent to `address` in a message after the first `after` (whose subject contains
     * `subject`, if given), waiting for it.
     */
    async codeFor(address: string, after = 0, subject = "", timeoutMs = 10_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const last = messages
          .slice(after)
          .filter(
            (m) => m.to.includes(address) && m.subject.includes(subject) && /code is (\d+)/.test(m.text),
          )
          .at(-1);
        const code = last && /code is (\d+)/.exec(last.text)?.[1];
        if (code) return code;
        if (Date.now() > until) throw new Error(`no code arrived for ${address}`);
        await sleep(50);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

export interface WebhookCall {
  headers: IncomingHttpHeaders;
  body: string;
  json: { to?: string; text?: string; [key: string]: unknown };
}

/** An SMS provider's webhook: answers `status` (200 by default) and records every call. */
export const startSmsWebhook = async (options: { status?: number } = {}) => {
  const calls: WebhookCall[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: WebhookCall["json"] = {};
      try {
        json = JSON.parse(body);
      } catch {
        json = {};
      }
      calls.push({ headers: req.headers, body, json });
      const status = options.status ?? 200;
      res
        .writeHead(status, { "content-type": "application/json" })
        .end(status === 200 ? JSON.stringify({ id: `sms-${calls.length}` }) : "carrier unavailable");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  return {
    url,
    calls: () => [...calls],
    async codeFor(to: string, after = 0, timeoutMs = 10_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const call = calls
          .slice(after)
          .filter((c) => c.json.to === to && /code is (\d+)/.test(String(c.json.text)))
          .at(-1);
        const code = call && /code is (\d+)/.exec(String(call.json.text))?.[1];
        if (code) return code;
        if (Date.now() > until) throw new Error(`no text message arrived for ${to}`);
        await sleep(50);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

/**
 * Counts the argon2id operations a hasher runs (hash, verify, and the dummy verify that stands in
 * for a missing secret). Wraps the instance's own hasher object, which every service shares.
 */
export const countHashing = (hasher: Hasher) => {
  let count = 0;
  const h = hasher as unknown as Record<"hash" | "verify" | "verifyDummy", (...args: unknown[]) => unknown>;
  for (const name of ["hash", "verify", "verifyDummy"] as const) {
    const original = h[name].bind(hasher);
    h[name] = (...args: unknown[]) => {
      count++;
      return original(...args);
    };
  }
  return {
    /** Operations run while `fn` ran (run one flow at a time). */
    async during<T>(fn: () => Promise<T>): Promise<{ result: T; operations: number }> {
      const before = count;
      const result = await fn();
      return { result, operations: count - before };
    },
  };
};
