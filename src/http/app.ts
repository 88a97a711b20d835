import { randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import formbody from "@fastify/formbody";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance } from "fastify";
import { AppError } from "../errors/app-error.ts";
import type { Services } from "../services/index.ts";
import { apiRoutes } from "./api/routes.ts";
import { logIfUnexpected, sendAppError, toAppError } from "./errors.ts";
import { graphRoutes, isGraphUrl, sendGraphFrameworkError } from "./graph/routes.ts";
import { oauthRoutes } from "./oauth/routes.ts";
import { opsRoutes } from "./ops/routes.ts";
import { adminRoutes } from "./portal/admin-routes.ts";
import { portalRoutes } from "./portal/routes.ts";
import { signinRoutes } from "./signin/routes.ts";
import { webRoutes } from "./web.ts";

export interface HttpOptions {
  /** Where logs go (default stdout); tests pass a stream to inspect them. */
  logStream?: Writable;
  logLevel?: string;
}

/** Never let a secret reach a log line, whatever a future log call includes. */
const REDACT = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  "*.pin",
  "*.newPin",
  "*.currentPin",
  "*.temporaryPin",
  "*.client_secret",
  "*.clientSecret",
  "*.code",
];

export const buildApp = async (services: Services, options: HttpOptions = {}): Promise<FastifyInstance> => {
  const { config } = services;
  const app = Fastify({
    logger: {
      level: options.logLevel ?? config.logLevel,
      redact: { paths: REDACT, censor: "[redacted]" },
      ...(options.logStream && { stream: options.logStream }),
    },
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
    return503OnClosing: true,
    // Requests Fastify rejects before routing (undecodable URL, bad content type) get the same error body.
    frameworkErrors: (error, request, reply) => {
      const mapped =
        error.code === "FST_ERR_BAD_URL"
          ? new AppError("invalidRequest", { problems: [{ field: "url", message: "is not a valid URL" }] })
          : toAppError(error, request);
      if (isGraphUrl(request.url)) return sendGraphFrameworkError(services, request, reply, mapped);
      return sendAppError(reply, request, mapped);
    },
    // Long user principal names (guest #EXT# addresses) arrive as path parameters.
    routerOptions: { maxParamLength: 512 },
    // Requests Node's HTTP parser refuses (headers too large, garbage) still get a catalogue body.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const tooLarge = (error as { code?: string }).code === "HPE_HEADER_OVERFLOW";
      const appError = new AppError(tooLarge ? "headersTooLarge" : "invalidRequest");
      const body = JSON.stringify({
        error: { code: appError.code, message: appError.message, mitigation: appError.mitigation },
      });
      socket.end(
        `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  });

  // An empty body sent as JSON (some clients do, on POSTs whose body is optional) counts as no body.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: config.bodyLimitBytes },
    (request, body, done) => {
      const text = typeof body === "string" ? body : body.toString("utf8");
      if (text.trim() === "") return done(null, undefined);
      return parseJson(request, text, done);
    },
  );

  app.addHook("onRequest", async (request, reply) => {
    reply.header("request-id", request.id);
    reply.header("x-content-type-options", "nosniff");
  });

  app.addSchema({
    $id: "PinDeskError",
    type: "object",
    properties: {
      error: {
        type: "object",
        additionalProperties: true,
        properties: {
          code: { type: "string" },
          message: { type: "string" },
          mitigation: { type: "string" },
          requestId: { type: "string" },
        },
      },
    },
  });

  app.setErrorHandler((error, request, reply) => {
    const mapped = toAppError(error as Error, request);
    logIfUnexpected(request, error as Error, mapped);
    return sendAppError(reply, request, mapped);
  });

  app.setNotFoundHandler((request, reply) =>
    sendAppError(reply, request, new AppError("notFound", { path: request.url.slice(0, 200) })),
  );

  await app.register(formbody, { bodyLimit: config.bodyLimitBytes });
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: "PinDesk API",
        version: "1.0",
        description:
          "PIN authentication: verification with exact lockout, admin reset and unblock, temporary PINs, API clients. Errors carry a stable code, a message and a mitigation.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  await app.register(opsRoutes, { services });
  await app.register(oauthRoutes, { services });
  await app.register(apiRoutes, { services });
  await app.register(graphRoutes, { services });
  await app.register(signinRoutes, { services });
  await app.register(portalRoutes, { services });
  await app.register(adminRoutes, { services });
  await app.register(webRoutes);
  return app;
};
