import { Readable } from "node:stream";
import cookie from "@fastify/cookie";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { describePinPolicy } from "../../domain/pin-policy.ts";
import { canManagePolicies } from "../../domain/roles.ts";
import { humanTime } from "../../domain/time-words.ts";
import { AppError } from "../../errors/app-error.ts";
import { explainCode } from "../../errors/explain.ts";
import type { RequestContext } from "../../services/context.ts";
import type { Services } from "../../services/index.ts";
import { assertCanManage, assertCanReadPolicies, POLICY_WRITER_ROLES } from "../../services/permissions.ts";
import type { PinState } from "../../services/pin-service.ts";
import { pinText, text } from "../text-schema.ts";
import { SESSION_COOKIE } from "./routes.ts";

const API = "/portal/api/admin";
const str = (max: number, min = 1) => text(max, min);
const STATES = ["Steady State", "Must Change", "Account Lockout", "No PIN"];

const AUDIT_PAGE = 200;
const AUDIT_COLUMNS = [
  "id",
  "at",
  "actor",
  "action",
  "outcome",
  "reason",
  "targetUserId",
  "targetUpn",
  "ip",
  "userAgent",
  "requestId",
  "details",
] as const;

const csvCell = (value: unknown): string => {
  const text =
    value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  // Cells that a spreadsheet would run as a formula are prefixed so they stay text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/**
 * The admin portal's API. Every route needs a portal session of an administrator and, for changes,
 * the CSRF header; what an administrator may do to whom is enforced by the services (Entra's rules).
 */
export const adminRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  // Cookies (the portal session) only here: the API, Graph and OAuth routes carry bearer tokens and
  // do not pay for cookie parsing on every request.
  await app.register(cookie);
  const { portal, admin, pins, qr, policies, users } = services;

  const ctxOf = (request: FastifyRequest): RequestContext => {
    const user = request.portal?.user;
    if (!user) throw new AppError("notSignedIn");
    return {
      actor: { type: "user", id: user.id, upn: user.userPrincipalName, roles: user.roles },
      ip: request.ip,
      userAgent: request.headers["user-agent"],
      requestId: request.id,
    };
  };

  // ------------------------------------------------------------------ first run (no session)
  app.get("/portal/api/setup/status", async () => ({ needsSetup: !(await admin.hasAdministrator()) }));
  app.post(
    "/portal/api/setup",
    {
      config: { rateLimit: { max: 10, timeWindow: "1 minute" } },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["token", "userPrincipalName", "displayName", "pin", "confirmPin"],
          properties: {
            token: str(200),
            userPrincipalName: str(256),
            displayName: str(256),
            pin: pinText(128),
            confirmPin: pinText(128),
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as {
        token: string;
        userPrincipalName: string;
        displayName: string;
        pin: string;
        confirmPin: string;
      };
      if (body.pin !== body.confirmPin) throw new AppError("pinMismatch");
      const ctx: RequestContext = {
        actor: { type: "anonymous" },
        ip: request.ip,
        userAgent: request.headers["user-agent"],
        requestId: request.id,
      };
      const user = await admin.completeSetup(ctx, body.token, body);
      const session = await portal.sessions.create(user, {
        ip: request.ip,
        userAgent: request.headers["user-agent"],
      });
      reply.setCookie(SESSION_COOKIE, session.token, {
        httpOnly: true,
        sameSite: "strict",
        secure: services.config.publicUrl.startsWith("https:"),
        path: "/",
      });
      return {
        result: "created",
        message: `Administrator ${user.userPrincipalName} created and signed in. Next: enrol your sign-in methods, so you are not left with a PIN alone.`,
        // Where the setup page takes the new administrator: enrolling their methods.
        next: "/portal/me/methods",
        csrfToken: session.csrfToken,
      };
    },
  );

  app.register(async (scope) => {
    scope.addHook("preHandler", async (request) => {
      const token = request.cookies[SESSION_COOKIE];
      request.portal = await portal.sessions.resolve(token);
      if (request.method !== "GET")
        portal.sessions.checkCsrf(token as string, request.headers["x-csrf-token"] as string | undefined);
      admin.assertAdmin(ctxOf(request));
    });

    scope.get(
      `${API}/users`,
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              q: str(256, 0),
              state: { type: "string", enum: STATES },
              limit: { type: "string", pattern: "^[1-9][0-9]?$|^100$" },
              cursor: str(600),
            },
          },
        },
      },
      async (request) => {
        const query = request.query as { q?: string; state?: PinState; limit?: string; cursor?: string };
        const { limit, ...rest } = query;
        return admin.searchUsers(ctxOf(request), {
          ...rest,
          ...(limit !== undefined && { limit: Number(limit) }),
        });
      },
    );

    scope.get(`${API}/users/:id`, async (request) =>
      admin.userDetail(ctxOf(request), (request.params as { id: string }).id),
    );

    scope.post(
      `${API}/users/:id/pin/reset`,
      {
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["pin", "confirmPin"],
            properties: { pin: pinText(128), confirmPin: pinText(128), forceChange: { type: "boolean" } },
          },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const { pin, confirmPin, forceChange } = request.body as {
          pin: string;
          confirmPin: string;
          forceChange?: boolean;
        };
        if (pin !== confirmPin) throw new AppError("pinMismatch");
        const status = await pins.set(ctxOf(request), id, pin, {
          action: "pin.reset",
          ...(forceChange !== undefined && { forceChange }),
        });
        return {
          result: "pinReset",
          message:
            status.state === "Must Change"
              ? "PIN reset. The user must choose a new PIN at their next sign-in."
              : "PIN reset. The user can sign in with it now.",
          pin: status,
        };
      },
    );

    scope.post(
      `${API}/users/:id/pin/temporary`,
      {
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            properties: { expiresInHours: { type: "integer", minimum: 1, maximum: 720 } },
          },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const { expiresInHours } = (request.body ?? {}) as { expiresInHours?: number };
        const result = await pins.resetTemporary(
          ctxOf(request),
          id,
          expiresInHours ? { expiresInHours } : {},
        );
        return {
          result: "temporaryPinCreated",
          temporaryPin: result.temporaryPin,
          expiresAt: result.expiresAt,
          message: "Give this PIN to the user; they must change it at sign-in. It is shown only once.",
        };
      },
    );

    scope.post(`${API}/users/:id/pin/unblock`, async (request) => {
      let status: Awaited<ReturnType<typeof pins.unblock>>;
      try {
        status = await pins.unblock(ctxOf(request), (request.params as { id: string }).id);
      } catch (error) {
        // "Nothing to unblock: the user can already sign in with the PIN" is wrong for a user with no PIN.
        if (error instanceof AppError && error.code === "pinNotLocked" && error.details.state === "No PIN")
          throw new AppError("nothingToUnblockNoPin", error.details);
        throw error;
      }
      return {
        result: "unblocked",
        message:
          (status as { unblockedText?: string }).unblockedText ??
          "PIN unblocked. The user can sign in with their existing PIN.",
        pin: status,
      };
    });

    scope.post(
      `${API}/users/:id/qr`,
      {
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            required: ["pin"],
            properties: { pin: pinText(20), lifetimeDays: { type: "integer", minimum: 1, maximum: 395 } },
          },
        },
      },
      async (request) => {
        const ctx = ctxOf(request);
        const { id } = request.params as { id: string };
        const { pin, lifetimeDays } = request.body as { pin: string; lifetimeDays?: number };
        const user = await users.get(id);
        const issued = await qr.issueBadge(ctx, user.id, pin, lifetimeDays);
        return issued.created
          ? {
              result: "qrCreated",
              message: `QR badge created for ${user.displayName}; the PIN you chose is now their PIN everywhere. Print it now: the image is shown only once. They must change that PIN at their first sign-in.`,
              code: issued.code,
            }
          : {
              result: "qrReplaced",
              message: `New QR badge created for ${user.displayName}; the old badge no longer works, and the PIN you chose replaces their PIN everywhere. Print it now: the image is shown only once. They must change the PIN you chose at their first sign-in.`,
              code: issued.code,
            };
      },
    );

    scope.post(`${API}/users/:id/qr/temporary`, async (request) => {
      const { replaced, code } = await qr.issueTemporaryCode(
        ctxOf(request),
        (request.params as { id: string }).id,
      );
      const valid = `valid until ${humanTime(Date.parse(code.expireDateTime))}`;
      return replaced
        ? {
            result: "temporaryQrReplaced",
            message: `New temporary QR code created, ${valid}; the previous temporary code no longer works. Show or print it now: the image is shown only once.`,
            code,
          }
        : {
            result: "temporaryQrCreated",
            message: `Temporary QR code created, ${valid}. Show or print it now: the image is shown only once.`,
            code,
          };
    });

    scope.delete(`${API}/users/:id/methods/:methodId`, async (request) => {
      const ctx = ctxOf(request);
      const { id, methodId } = request.params as { id: string; methodId: string };
      const user = await users.get(id);
      if (methodId === "qr") {
        await qr.deleteMethod(ctx, user.id);
        return {
          result: "removed",
          message: `QR badge removed, and with it ${user.displayName}'s PIN (state: No PIN). Generate a temporary PIN if they still need to sign in.`,
        };
      }
      await services.admin.removeMethod(ctx, user.id, methodId);
      return { result: "removed", message: "Method removed." };
    });

    scope.post(`${API}/users/:id/recovery-link`, async (request) => {
      const ctx = ctxOf(request);
      const user = await users.get((request.params as { id: string }).id);
      assertCanManage(ctx.actor, user);
      if ((await portal.methods.recoveryChannels(user)).length === 0) throw new AppError("noRecoveryChannel");
      const sent = await portal.recovery.sendRecoveryLink(ctx, user, services.config.publicUrl);
      const delivery = await admin.deliveryOutcome(sent.messageId);
      const state = delivery?.state ?? "queued";
      const why = delivery?.lastError ?? delivery?.statusText ?? "";
      const message =
        state === "accepted"
          ? `Recovery link sent to ${sent.to}: the provider accepted it. It works once, for 24 hours.`
          : state === "failed" || state === "expired"
            ? `The recovery link to ${sent.to} was NOT delivered: ${why}. Generate a temporary PIN and give it to the user instead.`
            : state === "retrying"
              ? `The recovery link to ${sent.to} is not delivered yet: ${delivery?.statusText ?? why} It shows under Recent messages.`
              : `The recovery link to ${sent.to} is queued; it shows under Recent messages once the provider answers.`;
      return {
        result:
          state === "accepted" ? "sent" : state === "failed" || state === "expired" ? "notSent" : "queued",
        message,
        delivery: delivery ?? null,
        ...sent,
      };
    });

    // Policies
    scope.get(`${API}/policies`, async (request) => {
      const ctx = ctxOf(request);
      assertCanReadPolicies(ctx.actor);
      const pin = await policies.current();
      return {
        pin: { ...pin, description: describePinPolicy(pin.policy) },
        portal: await portal.portalPolicy.current(),
        qr: await qr.policy(),
        // The page shows the policies read-only, with the reason, to an administrator who cannot change them.
        canManage: ctx.actor.type === "user" && canManagePolicies(ctx.actor.roles),
        manageRoles: [...POLICY_WRITER_ROLES],
      };
    });
    scope.post(`${API}/policies/pin/preview`, { schema: { body: { type: "object" } } }, async (request) =>
      admin.previewPinPolicy(ctxOf(request), request.body),
    );
    scope.post(`${API}/policies/portal/preview`, { schema: { body: { type: "object" } } }, async (request) =>
      admin.previewPortalPolicy(ctxOf(request), request.body, await portal.portalPolicy.current()),
    );
    scope.post(`${API}/policies/qr/preview`, { schema: { body: { type: "object" } } }, async (request) =>
      admin.previewQrPolicy(
        ctxOf(request),
        request.body as { state?: string; pinLength?: number; standardQRCodeLifetimeInDays?: number },
        await qr.policy(),
      ),
    );
    scope.patch(`${API}/policies/pin`, { schema: { body: { type: "object" } } }, async (request) => {
      const updated = await policies.update(ctxOf(request), request.body);
      return { ...updated, message: `PIN policy saved (version ${updated.version}).` };
    });
    scope.patch(`${API}/policies/portal`, { schema: { body: { type: "object" } } }, async (request) => {
      const policy = await portal.portalPolicy.update(ctxOf(request), request.body);
      return { policy, message: "Sign-in and recovery policy saved." };
    });
    scope.patch(`${API}/policies/qr`, { schema: { body: { type: "object" } } }, async (request) => {
      const policy = await qr.updatePolicy(
        ctxOf(request),
        request.body as Parameters<typeof qr.updatePolicy>[1],
      );
      return { policy, message: "QR code policy saved." };
    });

    // Audit
    scope.get(
      `${API}/audit`,
      {
        schema: {
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              user: str(256),
              actor: str(300),
              action: str(100),
              from: { type: "string", format: "date-time" },
              to: { type: "string", format: "date-time" },
              limit: { type: "string", pattern: "^[0-9]{1,4}$" },
              format: { type: "string", enum: ["json", "csv", "jsonl"] },
            },
          },
        },
      },
      async (request, reply) => {
        const q = request.query as {
          user?: string;
          actor?: string;
          action?: string;
          from?: string;
          to?: string;
          limit?: string;
          format?: string;
        };
        const ctx = ctxOf(request);
        const filter = {
          user: q.user,
          actor: q.actor,
          action: q.action,
          from: q.from ? Date.parse(q.from) : undefined,
          to: q.to ? Date.parse(q.to) : undefined,
        };
        if (q.format === "jsonl" || q.format === "csv") {
          // Exports are the whole trail the filter matches, read in pages and streamed: no silent cap.
          const events = admin.auditExport(ctx, filter);
          const csv = q.format === "csv";
          const lines = async function* () {
            if (csv) yield `${AUDIT_COLUMNS.join(",")}\r\n`;
            for await (const e of events)
              yield csv
                ? `${AUDIT_COLUMNS.map((c) => csvCell(e[c])).join(",")}\r\n`
                : `${JSON.stringify(e)}\n`;
          };
          reply.header(
            "content-disposition",
            `attachment; filename="pindesk-audit.${csv ? "csv" : "jsonl"}"`,
          );
          reply.type(csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
          return reply.send(Readable.from(lines()));
        }
        const limit = Math.min(Math.max(Number(q.limit ?? AUDIT_PAGE), 1), 1000);
        const events = await admin.auditEvents(ctx, filter, limit + 1);
        return {
          events: events.slice(0, limit),
          // The page shows the newest events; more exist when this is true (the export has them all).
          more: events.length > limit,
          limit,
        };
      },
    );

    scope.get(`${API}/dashboard`, async (request) => admin.dashboard(ctxOf(request)));
    scope.get(`${API}/errors/:code`, async (request) =>
      explainCode((request.params as { code: string }).code),
    );
  });
};
