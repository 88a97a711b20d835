import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { qrPinMinLength as badgePinMinLength } from "../../domain/pin-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Services } from "../../services/index.ts";
import { logIfUnexpected, toAppError } from "../errors.ts";
import { clientRequestIdOf, isPinViolation, sendGraphError } from "./errors.ts";
import { policyRoutes } from "./policy.ts";
import { qrRoutes } from "./qr.ts";
import type { GraphVersion } from "./shared.ts";
import { userRoutes } from "./users.ts";

const VERSIONS: readonly GraphVersion[] = ["v1.0", "beta"];

/** Every fixed path segment of the surface, in its documented spelling. */
const SEGMENTS = new Map(
  [
    "users",
    "me",
    "authentication",
    "qrCodePinMethod",
    "pin",
    "updatePin",
    "standardQRCode",
    "temporaryQRCode",
    "policies",
    "authenticationMethodsPolicy",
    "authenticationMethodConfigurations",
    "qrCodePin",
  ].map((segment) => [segment.toLowerCase(), segment]),
);

/**
 * Graph's paths are case-insensitive (scripts send `…/qrcodePinMethod/standardQrCode`). The documented
 * and all-lowercase spellings are routes of their own; any other spelling is rewritten here to the
 * documented one. The user reference after `users/` is a value, not a name, and keeps its case.
 */
export const documentedPath = (path: string): string => {
  const segments = path.split("/");
  return segments
    .map((segment, i) => {
      if (i > 0 && segments[i - 1]?.toLowerCase() === "users") return segment;
      return SEGMENTS.get(segment.toLowerCase()) ?? segment;
    })
    .join("/");
};

const HOP_BY_HOP = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "host"]);

/** Whether a URL belongs to the Graph-compatible surface (for errors raised before routing). */
export const isGraphUrl = (url: string): boolean =>
  VERSIONS.some((v) => url === `/${v}` || url.startsWith(`/${v}/`) || url.startsWith(`/${v}?`));

/**
 * For the app's frameworkErrors hook: a request Fastify rejects before routing (an undecodable URL)
 * under /v1.0 or /beta still gets Graph's error shape.
 */
export const sendGraphFrameworkError = (
  services: Services,
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
) => sendGraphError(reply, request, error, services.clock.now());

/** The QR profile's PIN length (the QR policy's pinLength, or the PIN policy's minimum if longer). */
const qrPinMinLength = async (services: Services): Promise<number> => {
  return badgePinMinLength(await services.policies.pinPolicy());
};

const graphApi = async (
  app: FastifyInstance,
  { services, version }: { services: Services; version: GraphVersion },
) => {
  const now = () => services.clock.now();

  // Graph clients send Content-Type: application/json on bodiless requests (an SDK .post() without
  // content); an empty JSON body is read as no body instead of a 400.
  const json = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (String(body).trim() === "") {
      done(null, undefined);
      return;
    }
    (
      json as (
        req: FastifyRequest,
        body: string | Buffer,
        done: (err: Error | null, body?: unknown) => void,
      ) => void
    )(request, body, done);
  });

  app.addHook("onRequest", async (request, reply) => {
    const clientRequestId = clientRequestIdOf(request);
    if (clientRequestId) reply.header("client-request-id", clientRequestId);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const mapped = toAppError(error as Error, request);
    logIfUnexpected(request, error as Error, mapped);
    const pinMinLength = isPinViolation(mapped) ? await qrPinMinLength(services) : undefined;
    return sendGraphError(reply, request, mapped, now(), { pinMinLength });
  });

  // Any other spelling of a Graph path: answered as the documented path, in full (authentication,
  // validation, hooks), or with Graph's 404 when no such path exists.
  app.route({
    method: ["GET", "PUT", "PATCH", "POST", "DELETE"],
    url: "/*",
    schema: { hide: true },
    handler: async (request, reply) => {
      const [path = "", query] = request.url.split(/\?(.*)/s, 2);
      const documented = documentedPath(path);
      if (documented === path) return notFound(request, reply);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      const body = request.body;
      const response = await app.inject({
        method: request.method as "GET",
        url: query ? `${documented}?${query}` : documented,
        headers,
        remoteAddress: request.socket.remoteAddress ?? request.ip,
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
      }
      return reply.status(response.statusCode).send(response.rawPayload);
    },
  });

  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendGraphError(
      reply,
      request,
      new AppError(
        "notFound",
        {},
        `Resource not found: ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""} is not part of the PinDesk Graph API.`,
      ),
      now(),
    );
  app.setNotFoundHandler(notFound);

  const g = { services, version };
  await userRoutes(app, g);
  await qrRoutes(app, g);
  await policyRoutes(app, g);
};

/** Microsoft Graph-compatible surface under /v1.0 and /beta. */
export const graphRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  for (const version of VERSIONS) {
    await app.register(graphApi, { prefix: `/${version}`, services, version });
  }
};
