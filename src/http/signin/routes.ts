import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FastifyInstance } from "fastify";
import { qrPinMinLength } from "../../domain/pin-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Services } from "../../services/index.ts";
import { contextOf } from "../auth.ts";

const asset = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), "utf8");
const PAGE = asset("page.html");
const SCRIPT = asset("page.js");
// The camera fallback's QR decoder, served from PinDesk itself (no third-party host).
const JSQR = readFileSync(createRequire(import.meta.url).resolve("jsqr/dist/jsQR.js"), "utf8");
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const REASON_WORDS: Record<string, string> = {
  temporaryPin: "You signed in with a temporary PIN. Choose your own PIN now.",
  adminReset: "Your help desk set this PIN for you. Choose your own PIN now.",
  pinExpired: "Your PIN has expired. Choose a new PIN now.",
  policyChange:
    "Your organisation's PIN rules changed and your PIN no longer fits them. Choose a new PIN now.",
};

/**
 * QR code sign-in for shared devices: the worker scans their badge and types their PIN. No token: the
 * scanned code and the PIN are the credentials; attempts are rate-limited per address and the PIN
 * shares its lockout counter with every other way of checking it.
 */
export const signinRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  // Per client address; a shared device serves a whole shift from one address, so the limit is generous.
  const limited = {
    config: { rateLimit: { max: services.config.signInRatePerMinute, timeWindow: "1 minute" } },
  };

  app.post(
    "/api/v1/signin/qr",
    {
      ...limited,
      schema: {
        tags: ["signin"],
        summary: "Sign in with a scanned QR code (decoded text or base64 rawContent) and the PIN.",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["qrCode", "pin"],
          properties: {
            qrCode: { type: "string", minLength: 1, maxLength: 2048 },
            pin: { type: "string", minLength: 1, maxLength: 128 },
          },
        },
      },
    },
    async (request) => {
      const { qrCode, pin } = request.body as { qrCode: string; pin: string };
      const outcome = await services.qr.signIn(contextOf(request), qrCode, pin);
      const user = {
        id: outcome.user.id,
        userPrincipalName: outcome.user.userPrincipalName,
        displayName: outcome.user.displayName,
      };
      if (outcome.result === "success") return { result: "success", user, codeKind: outcome.codeKind };
      return {
        result: "pinChangeRequired",
        reason: outcome.reason,
        message: REASON_WORDS[outcome.reason] ?? "Choose a new PIN now.",
        changeToken: outcome.changeToken,
        changeTokenExpiresAt: outcome.changeTokenExpiresAt,
        user,
      };
    },
  );

  app.post(
    "/api/v1/signin/qr/change-pin",
    {
      ...limited,
      schema: {
        tags: ["signin"],
        summary: "Set a new PIN with the changeToken from a pinChangeRequired QR sign-in.",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["changeToken", "newPin"],
          properties: {
            changeToken: { type: "string", minLength: 1, maxLength: 200 },
            newPin: { type: "string", minLength: 1, maxLength: 128 },
            confirmPin: { type: "string", minLength: 1, maxLength: 128 },
          },
        },
      },
    },
    async (request) => {
      const { changeToken, newPin, confirmPin } = request.body as {
        changeToken: string;
        newPin: string;
        confirmPin?: string;
      };
      if (confirmPin !== undefined && confirmPin !== newPin) throw new AppError("pinMismatch");
      await services.pins.changeWithToken(contextOf(request), changeToken, newPin);
      return { result: "pinChanged", message: "PIN changed. Sign in with your new PIN." };
    },
  );

  app.get("/api/v1/signin/qr/policy", async () => {
    const policy = await services.policies.pinPolicy();
    const minLength = qrPinMinLength(policy);
    return {
      minLength,
      maxLength: 20,
      digitsOnly: true,
      description: `Use ${minLength} to 20 digits, without simple patterns like 12345678 or 11112222.`,
    };
  });

  const page = async (_request: unknown, reply: import("fastify").FastifyReply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("content-security-policy", CSP)
      .header("cache-control", "no-store")
      .send(PAGE);
  app.get("/signin/qr", page);
  app.get("/signin/qr/", page);
  app.get("/signin/qr/app.js", async (_request, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "no-cache").send(SCRIPT),
  );
  app.get("/signin/qr/jsqr.js", async (_request, reply) =>
    reply.type("text/javascript; charset=utf-8").header("cache-control", "public, max-age=86400").send(JSQR),
  );
};
