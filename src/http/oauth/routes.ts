import type { FastifyInstance, FastifyReply } from "fastify";
import type { Services } from "../../services/index.ts";
import { TOKEN_AUDIENCES } from "../../services/token-service.ts";
import { contextOf } from "../auth.ts";
import { text } from "../text-schema.ts";

/** OAuth errors use OAuth's own JSON shape (RFC 6749 §5.2), which client libraries parse. */
const oauthError = (reply: FastifyReply, status: number, error: string, description: string) =>
  reply.status(status).header("cache-control", "no-store").send({ error, error_description: description });

const GRAPH_AUDIENCE = "https://graph.microsoft.com";

export const oauthRoutes = async (app: FastifyInstance, { services }: { services: Services }) => {
  const tokenSchema = {
    tags: ["oauth"],
    summary: "Client-credentials token endpoint (Microsoft identity platform compatible).",
    consumes: ["application/x-www-form-urlencoded"],
    body: {
      type: "object",
      properties: {
        grant_type: { type: "string", maxLength: 100 },
        client_id: text(200),
        client_secret: text(500),
        scope: { type: "string", maxLength: 1000 },
      },
    },
  };

  const handler = async (request: { body: unknown; validationError?: Error }, reply: FastifyReply) => {
    if (request.validationError) {
      return oauthError(
        reply,
        400,
        "invalid_request",
        `The form body is not valid (${request.validationError.message}). Send grant_type, client_id, client_secret and scope once each.`,
      );
    }
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    if (body.grant_type !== "client_credentials") {
      return oauthError(
        reply,
        400,
        "unsupported_grant_type",
        "Only grant_type=client_credentials is supported.",
      );
    }
    if (!body.client_id || !body.client_secret) {
      return oauthError(reply, 401, "invalid_client", "Send client_id and client_secret in the form body.");
    }
    const scope = body.scope ?? `${GRAPH_AUDIENCE}/.default`;
    const scopes = scope.split(/\s+/).filter(Boolean);
    const resource =
      scopes.length === 1 && scopes[0]?.endsWith("/.default")
        ? scopes[0].slice(0, -"/.default".length)
        : undefined;
    if (!resource || !(TOKEN_AUDIENCES as readonly string[]).includes(resource)) {
      return oauthError(
        reply,
        400,
        "invalid_scope",
        "Use a single scope ending in /.default: https://graph.microsoft.com/.default for the Graph-compatible API, or api://pindesk/.default for the PinDesk API.",
      );
    }
    const client = await services.apps.authenticate(body.client_id, body.client_secret);
    const ctx = contextOf(request as never);
    if (!client) {
      await services.audit.record(ctx, {
        action: "token.issue",
        outcome: "failure",
        reason: "invalidClient",
        details: { clientId: body.client_id.slice(0, 64) },
      });
      return oauthError(
        reply,
        401,
        "invalid_client",
        "The client id or secret is wrong, or the client was deleted. Create one with `pindesk app create`.",
      );
    }
    const accessToken = await services.tokens.issueAppToken(
      { clientId: client.clientId, appName: client.name, roles: client.permissions },
      resource,
    );
    await services.audit.record(
      {
        ...ctx,
        actor: { type: "app", id: client.clientId, name: client.name, permissions: client.permissions },
      },
      { action: "token.issue", outcome: "success" },
    );
    return reply.header("cache-control", "no-store").send({
      token_type: "Bearer",
      expires_in: services.tokens.ttlSeconds,
      ext_expires_in: services.tokens.ttlSeconds,
      access_token: accessToken,
    });
  };

  const routeOptions = {
    schema: tokenSchema,
    // Validation problems are answered in OAuth's error shape, which token clients parse.
    attachValidation: true,
    config: { rateLimit: { max: 120, timeWindow: "1 minute" } },
  };
  app.post("/oauth2/v2.0/token", routeOptions, handler);
  app.post("/:tenant/oauth2/v2.0/token", routeOptions, handler);

  const jwks = async () => services.tokens.jwks();
  app.get(
    "/discovery/v2.0/keys",
    { schema: { tags: ["oauth"], summary: "Token signing keys (JWKS)." } },
    jwks,
  );
  app.get(
    "/:tenant/discovery/v2.0/keys",
    { schema: { tags: ["oauth"], summary: "Token signing keys (JWKS)." } },
    jwks,
  );
  app.get(
    "/.well-known/jwks.json",
    { schema: { tags: ["oauth"], summary: "Token signing keys (JWKS)." } },
    jwks,
  );

  app.get(
    "/.well-known/openid-configuration",
    { schema: { tags: ["oauth"], summary: "Discovery document." } },
    async () => {
      const base = services.config.publicUrl;
      return {
        issuer: `${base}/${services.config.tenantId}/v2.0`,
        token_endpoint: `${base}/${services.config.tenantId}/oauth2/v2.0/token`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        grant_types_supported: ["client_credentials"],
        token_endpoint_auth_methods_supported: ["client_secret_post"],
        id_token_signing_alg_values_supported: ["ES256"],
      };
    },
  );
};
