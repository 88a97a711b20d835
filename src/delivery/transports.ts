import nodemailer from "nodemailer";
import type { DeliveryConfig } from "../config.ts";
import { toE164 } from "../domain/portal-policy.ts";

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
}

export type SendResult =
  | { accepted: true; providerMessageId: string | null }
  /** `permanent`: trying again cannot help (nothing is configured), so the message fails at once. */
  | { accepted: false; reason: string; permanent?: boolean };

export interface Transport {
  readonly name: string;
  /** Set when the channel cannot deliver at all: the reason, as every send would report it. */
  readonly unavailable?: string;
  send(message: OutgoingMessage): Promise<SendResult>;
}

const reasonOf = (error: unknown): string => {
  const e = error as { response?: string; code?: string; message?: string };
  return (e.response ?? e.message ?? String(error)).replace(/\s+/g, " ").trim().slice(0, 300);
};

/** Email through SMTP (nodemailer). The provider's own answer becomes the failure reason people see. */
export const smtpTransport = (
  smtp:
    | NonNullable<DeliveryConfig["smtp"]>
    | { host: string; port: number; secure: false; requireTls: false; user: undefined; password: undefined },
  from: string,
): Transport => {
  const transporter = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTls,
    ...(smtp.user && { auth: { user: smtp.user, pass: smtp.password ?? "" } }),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
    tls: { rejectUnauthorized: smtp.host !== "127.0.0.1" && smtp.host !== "localhost" },
  });
  return {
    name: `smtp://${smtp.host}:${smtp.port}`,
    async send(message) {
      try {
        const info = await transporter.sendMail({
          from,
          to: message.to,
          subject: message.subject,
          text: message.text,
        });
        if (info.rejected.length > 0)
          return { accepted: false, reason: `the mail server rejected ${message.to}` };
        return { accepted: true, providerMessageId: info.messageId ?? null };
      } catch (error) {
        return { accepted: false, reason: reasonOf(error) };
      }
    },
  };
};

/**
 * SMS through an HTTP webhook: a JSON body from a template, an optional Authorization header. The
 * number goes out in E.164 ("+15550109999"), however it was typed into the directory.
 */
export const webhookTransport = (sms: NonNullable<DeliveryConfig["sms"]>): Transport => ({
  name: `webhook ${new URL(sms.url).host}`,
  async send(message) {
    const fill = (value: string) => JSON.stringify(value).slice(1, -1);
    const body = sms.bodyTemplate
      .replaceAll("{{to}}", fill(toE164(message.to)))
      .replaceAll("{{text}}", fill(message.text));
    try {
      const response = await fetch(sms.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(sms.authorization && { authorization: sms.authorization }),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = (await response.text()).replace(/\s+/g, " ").trim().slice(0, 200);
      if (!response.ok)
        return {
          accepted: false,
          reason: `the SMS provider answered ${response.status}${text ? `: ${text}` : ""}`,
        };
      let id: string | null = null;
      try {
        const parsed = JSON.parse(text) as { id?: unknown; messageId?: unknown };
        id =
          typeof parsed.id === "string"
            ? parsed.id
            : typeof parsed.messageId === "string"
              ? parsed.messageId
              : null;
      } catch {
        id = null;
      }
      return { accepted: true, providerMessageId: id };
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      return { accepted: false, reason: reasonOf(cause ?? error) };
    }
  },
});

/** A channel nobody configured: every message fails with the reason and the fix. */
export const unconfiguredTransport = (channel: "email" | "sms"): Transport => {
  const reason =
    channel === "email"
      ? "email delivery is not configured on this PinDesk (set PINDESK_SMTP_HOST, or PINDESK_DEV_MAIL=true for local development)"
      : "text-message delivery is not configured on this PinDesk (set PINDESK_SMS_WEBHOOK_URL)";
  return {
    name: "unconfigured",
    unavailable: reason,
    async send() {
      return { accepted: false, reason, permanent: true };
    },
  };
};
