import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../errors/app-error.ts";
import type { Services } from "../../services/index.ts";
import { logIfUnexpected, toAppError } from "../errors.ts";
import { clientRequestIdOf, sendGraphError } from "./errors.ts";
import { policyRoutes } from "./policy.ts";
import { qrRoutes } from "./qr.ts";
import type { GraphVersion } from "./shared.ts";
import { userRoutes } from "./users.ts";

const VERSIONS: readonly GraphVersion[] = ["v1.0", "beta"];

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

  app.setErrorHandler((error, request, reply) => {
    const mapped = toAppError(error as Error, request);
    logIfUnexpected(request, error as Error, mapped);
    return sendGraphError(reply, request, mapped, now());
  });

  app.setNotFoundHandler((request, reply) =>
    sendGraphError(
      reply,
      request,
      new AppError(
        "notFound",
        {},
        `Resource not found: ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""} is not part of the PinDesk Graph API.`,
      ),
      now(),
    ),
  );

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
