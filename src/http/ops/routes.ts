import type { FastifyInstance } from "fastify";
import type { Services } from "../../services/index.ts";

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
        },
      },
    },
    async () => {
      await services.db.ping();
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
