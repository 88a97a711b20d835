import type { FastifyInstance } from "fastify";
import { explainCode, knownCodeList } from "../../errors/explain.ts";
import type { Services } from "../../services/index.ts";
import type { PinStatus } from "../../services/pin-service.ts";
import { userView } from "../../services/user-service.ts";
import { contextOf, requireAppPermission } from "../auth.ts";
import { nullableText, pinText, text } from "../text-schema.ts";

const pinString = pinText(256);
const upnString = text(320, 1);
const userParam = {
  type: "object",
  required: ["user"],
  properties: {
    user: { ...text(320, 1), description: "User id (GUID) or userPrincipalName" },
  },
} as const;

const errorRef = { $ref: "PinDeskError#" } as const;

const statusView = (s: PinStatus) => s;

export const apiRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  const can = (...permissions: string[]) => requireAppPermission(services, ...permissions);
  const security = [{ bearer: [] }];

  app.post(
    "/api/v1/verify",
    {
      preHandler: can("Pin.Verify"),
      schema: {
        tags: ["verify"],
        summary: "Verify a user's PIN (exact lockout shared with every other entry point).",
        description:
          "200 success | 200 pinChangeRequired (with a single-use changeToken for /api/v1/pin/change) | 401 invalidPin with attemptsRemaining | 423 pinLocked with lockedUntil (null = until an administrator unblocks). Unknown users answer exactly like a wrong PIN.",
        security,
        body: {
          type: "object",
          required: ["userPrincipalName", "pin"],
          additionalProperties: false,
          properties: { userPrincipalName: upnString, pin: pinString },
        },
        response: {
          200: {
            type: "object",
            properties: {
              result: { type: "string", enum: ["success", "pinChangeRequired"] },
              reason: { type: "string" },
              changeToken: { type: "string" },
              changeTokenExpiresAt: { type: "string" },
              userId: { type: "string" },
            },
          },
          401: errorRef,
          423: errorRef,
        },
      },
    },
    async (request) => {
      const { userPrincipalName, pin } = request.body as { userPrincipalName: string; pin: string };
      const outcome = await services.pins.verify(contextOf(request), userPrincipalName, pin);
      if (outcome.result === "success") return { result: "success", userId: outcome.user.id };
      return {
        result: "pinChangeRequired",
        reason: outcome.reason,
        changeToken: outcome.changeToken,
        changeTokenExpiresAt: outcome.changeTokenExpiresAt,
        userId: outcome.user.id,
      };
    },
  );

  app.post(
    "/api/v1/pin/change",
    {
      preHandler: can("Pin.Verify"),
      schema: {
        tags: ["verify"],
        summary: "Set a new PIN with the changeToken from a pinChangeRequired verification.",
        security,
        body: {
          type: "object",
          required: ["changeToken", "newPin"],
          additionalProperties: false,
          properties: { changeToken: { type: "string", minLength: 1, maxLength: 200 }, newPin: pinString },
        },
      },
    },
    async (request) => {
      const { changeToken, newPin } = request.body as { changeToken: string; newPin: string };
      const status = await services.pins.changeWithToken(contextOf(request), changeToken, newPin);
      return {
        result: "pinChanged",
        message: "The PIN was changed. Sign in with the new PIN.",
        state: status.state,
      };
    },
  );

  app.get(
    "/api/v1/errors/:code",
    {
      schema: {
        tags: ["troubleshooting"],
        summary:
          "Explain a PIN error code (Windows Hello hex codes, any casing, with or without 0x, and PinDesk's own codes).",
        params: { type: "object", properties: { code: { type: "string", maxLength: 200 } } },
      },
    },
    async (request, reply) => {
      const { code } = request.params as { code: string };
      const explanation = explainCode(code);
      return reply.status(explanation.kind === "unknown" ? 404 : 200).send(explanation);
    },
  );

  app.get(
    "/api/v1/errors",
    {
      schema: {
        tags: ["troubleshooting"],
        summary: "Every error code PinDesk explains, with its one-line meaning (as pindesk explain --list).",
      },
    },
    async () => knownCodeList(),
  );

  // --- Administration (application permissions) ---

  app.post(
    "/api/v1/users",
    {
      preHandler: can("User.ReadWrite.All"),
      schema: {
        tags: ["users"],
        summary: "Create a user.",
        security,
        body: {
          type: "object",
          required: ["userPrincipalName", "displayName"],
          additionalProperties: false,
          properties: {
            userPrincipalName: upnString,
            displayName: text(256, 1),
            mail: nullableText(320),
            mobilePhone: nullableText(40),
            accountEnabled: { type: "boolean" },
            roles: { type: "array", maxItems: 20, items: { type: "string", maxLength: 100 } },
          },
        },
      },
    },
    async (request, reply) => {
      const user = await services.users.create(contextOf(request), request.body as never);
      return reply.status(201).send(userView(user));
    },
  );

  app.get(
    "/api/v1/users/:user",
    {
      preHandler: can("User.Read.All", "User.ReadWrite.All"),
      schema: { tags: ["users"], summary: "Get a user.", security, params: userParam },
    },
    async (request) => userView(await services.users.get((request.params as { user: string }).user)),
  );

  app.get(
    "/api/v1/users/:user/pin",
    {
      preHandler: can("Pin.Read.All", "Pin.ReadWrite.All"),
      schema: {
        tags: ["pin"],
        summary: "PIN state of a user (Steady State, Must Change, Account Lockout, No PIN).",
        security,
        params: userParam,
      },
    },
    async (request) => statusView(await services.pins.status((request.params as { user: string }).user)),
  );

  app.put(
    "/api/v1/users/:user/pin",
    {
      preHandler: can("Pin.ReadWrite.All"),
      schema: {
        tags: ["pin"],
        summary:
          "Admin reset to a chosen PIN (policy-checked; forces a change at next sign-in unless forceChange is false).",
        security,
        params: userParam,
        body: {
          type: "object",
          required: ["pin"],
          additionalProperties: false,
          properties: { pin: pinString, forceChange: { type: "boolean" } },
        },
      },
    },
    async (request) => {
      const { pin, forceChange } = request.body as { pin: string; forceChange?: boolean };
      const status = await services.pins.set(
        contextOf(request),
        (request.params as { user: string }).user,
        pin,
        {
          action: "pin.reset",
          ...(forceChange !== undefined && { forceChange }),
        },
      );
      return { ...statusView(status), message: "PIN reset." };
    },
  );

  app.post(
    "/api/v1/users/:user/pin/temporary",
    {
      preHandler: can("Pin.ReadWrite.All"),
      schema: {
        tags: ["pin"],
        summary:
          "Admin reset to a generated temporary PIN, returned once; the user must change it at sign-in.",
        security,
        params: userParam,
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: { expiresInHours: { type: "integer", minimum: 1, maximum: 720 } },
        },
      },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { expiresInHours?: number };
      const result = await services.pins.resetTemporary(
        contextOf(request),
        (request.params as { user: string }).user,
        {
          ...(body.expiresInHours !== undefined && { expiresInHours: body.expiresInHours }),
        },
      );
      reply.header("cache-control", "no-store");
      return reply.status(201).send({
        temporaryPin: result.temporaryPin,
        expiresAt: result.expiresAt,
        forceChangePinNextSignIn: true,
        message:
          "Give this temporary PIN to the user; they must choose a new PIN when they sign in. It is not shown again.",
      });
    },
  );

  app.post(
    "/api/v1/users/:user/pin/unblock",
    {
      preHandler: can("Pin.ReadWrite.All"),
      schema: { tags: ["pin"], summary: "Clear a lockout and keep the PIN.", security, params: userParam },
    },
    async (request) => ({
      ...statusView(
        await services.pins.unblock(contextOf(request), (request.params as { user: string }).user),
      ),
      message: "PIN unblocked.",
    }),
  );

  app.delete(
    "/api/v1/users/:user/pin",
    {
      preHandler: can("Pin.ReadWrite.All"),
      schema: { tags: ["pin"], summary: "Remove a user's PIN.", security, params: userParam },
    },
    async (request, reply) => {
      await services.pins.remove(contextOf(request), (request.params as { user: string }).user);
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/policies/pin",
    {
      preHandler: can("Policy.Read.PinPolicy", "Policy.ReadWrite.PinPolicy"),
      schema: { tags: ["policy"], summary: "The PIN policy in force, with its version.", security },
    },
    async () => services.policies.current(),
  );

  app.patch(
    "/api/v1/policies/pin",
    {
      preHandler: can("Policy.ReadWrite.PinPolicy"),
      schema: {
        tags: ["policy"],
        summary: "Change PIN policy settings (partial; saved as a new version).",
        security,
        body: { type: "object" },
      },
    },
    async (request) => services.policies.update(contextOf(request), request.body),
  );

  app.get(
    "/api/v1/audit",
    {
      preHandler: can("AuditLog.Read.All"),
      schema: {
        tags: ["audit"],
        summary: "Audit events, newest first.",
        security,
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            user: text(320),
            actor: text(320),
            action: text(100),
            outcome: { type: "string", enum: ["success", "failure", "denied"] },
            from: { type: "string", format: "date-time" },
            to: { type: "string", format: "date-time" },
            before: { type: "string", maxLength: 64 },
            limit: { type: "string", pattern: "^[0-9]{1,4}$" },
          },
        },
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | undefined>;
      const limit = Math.min(Number(q.limit ?? 100), 1000);
      const target = q.user ? await services.users.get(q.user) : undefined;
      const events = await services.audit.query({
        limit,
        ...(target && { targetUserId: target.id }),
        ...(q.actor && { actor: q.actor }),
        ...(q.action && { action: q.action }),
        ...(q.outcome && { outcome: q.outcome }),
        ...(q.from && { from: Date.parse(q.from) }),
        ...(q.to && { to: Date.parse(q.to) }),
        ...(q.before && { before: q.before }),
      });
      return { events, next: events.length === limit ? (events.at(-1)?.id ?? null) : null };
    },
  );
};
