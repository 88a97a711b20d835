import type { FastifyInstance } from "fastify";
import { AppError } from "../../errors/app-error.ts";
import type { Services } from "../../services/index.ts";
import { sendAppError } from "../errors.ts";

export const opsRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  app.get(
    "/health",
    {
      schema: {
        tags: ["ops"],
        summary: "Liveness: the process answers.",
        response: { 200: { type: "object", properties: { status: { type: "string" } } } },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/ready",
    {
      schema: {
        tags: ["ops"],
        summary: "Readiness: the database answers.",
        response: {
          200: { type: "object", properties: { status: { type: "string" }, database: { type: "string" } } },
          503: { $ref: "PinDeskError#" },
        },
      },
    },
    async (request, reply) => {
      try {
        await services.db.ping();
      } catch (error) {
        // Not ready is an answer, not a failure: load balancers take the process out of rotation.
        request.log.warn({ err: error }, "readiness check: the database does not answer");
        return sendAppError(reply, request, new AppError("serviceUnavailable"));
      }
      return { status: "ready", database: services.db.dialect };
    },
  );

  app.get(
    "/metrics",
    { schema: { tags: ["ops"], summary: "Prometheus metrics.", hide: false } },
    async (_request, reply) => {
      reply.header("content-type", services.metrics.registry.contentType);
      return services.metrics.registry.metrics();
    },
  );
};
