import type { FastifyInstance, FastifyRequest } from "fastify";
import { describePinPolicy } from "../../domain/pin-policy.ts";
import { canManagePolicies } from "../../domain/roles.ts";
import { AppError } from "../../errors/app-error.ts";
import { explainCode } from "../../errors/explain.ts";
import type { RequestContext } from "../../services/context.ts";
import type { Services } from "../../services/index.ts";
import { assertCanManage, assertCanReadPolicies, POLICY_WRITER_ROLES } from "../../services/permissions.ts";
import type { PinState } from "../../services/pin-service.ts";
import { SESSION_COOKIE } from "./routes.ts";

const API = "/portal/api/admin";
const str = (max: number, min = 1) => ({ type: "string", minLength: min, maxLength: max });
const STATES = ["Steady State", "Must Change", "Account Lockout", "No PIN"];

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
            pin: str(128),
            confirmPin: str(128),
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
        message: `Administrator ${user.userPrincipalName} created and signed in. Next: add your other sign-in methods under My methods.`,
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
            properties: { pin: str(128), confirmPin: str(128), forceChange: { type: "boolean" } },
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
      const status = await pins.unblock(ctxOf(request), (request.params as { id: string }).id);
      return {
        result: "unblocked",
        message: "PIN unblocked. The user can sign in with their existing PIN.",
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
            properties: { pin: str(20), lifetimeDays: { type: "integer", minimum: 1, maximum: 395 } },
          },
        },
      },
      async (request) => {
        const ctx = ctxOf(request);
        const { id } = request.params as { id: string };
        const { pin, lifetimeDays } = request.body as { pin: string; lifetimeDays?: number };
        const now = services.clock.now();
        const days = lifetimeDays ?? (await qr.policy()).standardQRCodeLifetimeInDays;
        const window = {
          startDateTime: new Date(now).toISOString(),
          expireDateTime: new Date(now + days * 86_400_000).toISOString(),
        };
        let method: Awaited<ReturnType<typeof qr.createMethod>> | undefined;
        try {
          method = await qr.createMethod(ctx, id, { standardQRCode: window, pin: { code: pin } });
        } catch (error) {
          if (!(error instanceof AppError) || error.code !== "tooManyQRCodePinMethod") throw error;
          // Replace the badge: a new standard code (the old printed one stops working).
          await qr.deleteCode(ctx, id, "standard").catch(() => undefined);
          const created = await qr.patchCode(ctx, id, "standard", window);
          await pins.set(ctx, id, pin, { action: "pin.reset", forceChange: true, qrProfile: true });
          return {
            result: "qrReplaced",
            message:
              "New QR badge created; the old one no longer works. Print it now — the image is shown only once.",
            code: created.code,
          };
        }
        return {
          result: "qrCreated",
          message: "QR badge created. Print it now — the image is shown only once.",
          code: method.standardQRCode,
        };
      },
    );

    scope.post(`${API}/users/:id/qr/temporary`, async (request) => {
      const created = await qr.patchCode(
        ctxOf(request),
        (request.params as { id: string }).id,
        "temporary",
        {},
      );
      return {
        result: "temporaryQrCreated",
        message: "Temporary QR code created (valid up to 12 hours).",
        code: created.code,
      };
    });

    scope.delete(`${API}/users/:id/methods/:methodId`, async (request) => {
      const ctx = ctxOf(request);
      const { id, methodId } = request.params as { id: string; methodId: string };
      const user = await users.get(id);
      if (methodId === "qr") await qr.deleteMethod(ctx, user.id);
      else {
        assertCanManage(ctx.actor, user);
        const row = await services.repos.authMethods.get(methodId);
        if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
        await services.repos.authMethods.delete(methodId);
        await services.audit.record(ctx, {
          action: "method.removedByAdmin",
          outcome: "success",
          target: { id: user.id, upn: user.userPrincipalName },
          details: { type: row.type },
        });
      }
      return { result: "removed", message: "Method removed." };
    });

    scope.post(`${API}/users/:id/recovery-link`, async (request) => {
      const ctx = ctxOf(request);
      const user = await users.get((request.params as { id: string }).id);
      assertCanManage(ctx.actor, user);
      const sent = await portal.recovery.sendRecoveryLink(ctx, user, services.config.publicUrl);
      return {
        result: "sent",
        message: `Recovery link sent to ${sent.to}. Delivery shows under Recent messages.`,
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
              limit: { type: "string", pattern: "^[0-9]{1,5}$" },
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
          limit?: number;
          format?: string;
        };
        const target = q.user ? await users.get(q.user).catch(() => undefined) : undefined;
        const events = await services.audit.query({
          ...(target ? { targetUserId: target.id } : q.user ? { targetUpn: q.user } : {}),
          ...(q.actor && { actor: q.actor }),
          ...(q.action && { action: q.action }),
          ...(q.from && { from: Date.parse(q.from) }),
          ...(q.to && { to: Date.parse(q.to) }),
          limit: Math.min(Math.max(Number(q.limit ?? 200), 1), 10_000),
        });
        if (q.format === "jsonl") {
          reply.header("content-disposition", 'attachment; filename="pindesk-audit.jsonl"');
          return reply
            .type("application/x-ndjson")
            .send(events.map((e) => JSON.stringify(e)).join("\n") + (events.length ? "\n" : ""));
        }
        if (q.format === "csv") {
          const columns = [
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
          const lines = [
            columns.join(","),
            ...events.map((e) => columns.map((c) => csvCell(e[c])).join(",")),
          ];
          reply.header("content-disposition", 'attachment; filename="pindesk-audit.csv"');
          return reply.type("text/csv; charset=utf-8").send(`${lines.join("\r\n")}\r\n`);
        }
        return { events };
      },
    );

    scope.get(`${API}/dashboard`, async (request) => admin.dashboard(ctxOf(request)));
    scope.get(`${API}/errors/:code`, async (request) =>
      explainCode((request.params as { code: string }).code),
    );
  });
};
