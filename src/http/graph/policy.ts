import type { FastifyInstance } from "fastify";
import type { QrMethodPolicy } from "../../services/qr-service.ts";
import { assertCanReadPolicy, assertCanWritePolicy, callerOf, guard } from "./access.ts";
import { applySelect, parseQuery, parseSelect } from "./odata.ts";
import { contextUrl, ctxOf, docs, type GraphContext, spellings, text } from "./shared.ts";

const POLICY_TYPE = "microsoft.graph.qrCodePinAuthenticationMethodConfiguration";
const POLICY_PROPERTIES = [
  "id",
  "state",
  "pinLength",
  "standardQRCodeLifetimeInDays",
  "includeTargets",
  "excludeTargets",
] as const;

const target = {
  type: "object",
  required: ["id", "targetType"],
  additionalProperties: false,
  properties: {
    "@odata.type": text(200),
    id: text(200, 1),
    targetType: text(20),
    isRegistrationRequired: { type: "boolean" },
  },
} as const;

// Types are checked here; ranges (pinLength 8–20, lifetime 1–395 days) by the policy service, one place.
const patchBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    "@odata.type": text(200),
    id: text(50),
    state: text(20),
    pinLength: { type: "integer" },
    standardQRCodeLifetimeInDays: { type: "integer" },
    includeTargets: { type: "array", maxItems: 500, items: target },
    excludeTargets: { type: "array", maxItems: 500, items: target },
  },
} as const;

export const policyRoutes = async (app: FastifyInstance, g: GraphContext) => {
  const { services } = g;
  const entity = (p: QrMethodPolicy) => ({
    "@odata.context": contextUrl(
      g,
      "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
    ),
    "@odata.type": `#${POLICY_TYPE}`,
    id: "qrCodePin",
    state: p.state,
    pinLength: p.pinLength,
    standardQRCodeLifetimeInDays: p.standardQRCodeLifetimeInDays,
    includeTargets: p.includeTargets,
    excludeTargets: p.excludeTargets,
  });

  const paths = spellings(
    "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/qrCodePin",
  );
  for (const [i, url] of paths.entries()) {
    const schema = docs(i > 0);
    app.get(url, { onRequest: guard(services, "policy.read"), schema }, async (request) => {
      assertCanReadPolicy(callerOf(request));
      const select = parseSelect(
        parseQuery(request.query, ["$select"]).$select,
        POLICY_PROPERTIES,
        POLICY_TYPE,
      );
      return applySelect(entity(await services.qr.policy()), select);
    });

    app.patch(
      url,
      { onRequest: guard(services, "policy.write"), schema: { ...schema, body: patchBody } },
      async (request, reply) => {
        assertCanWritePolicy(callerOf(request));
        const {
          "@odata.type": _type,
          id: _id,
          ...change
        } = request.body as Partial<QrMethodPolicy> & {
          "@odata.type"?: string;
          id?: string;
        };
        const updated = await services.qr.updatePolicy(ctxOf(request), change);
        // v1.0 documents 200 with the updated policy; beta answers 204 No Content.
        if (g.version === "beta") return reply.status(204).send();
        return entity(updated);
      },
    );

    app.delete(url, { onRequest: guard(services, "policy.write"), schema }, async (request, reply) => {
      assertCanWritePolicy(callerOf(request));
      await services.qr.resetPolicy(ctxOf(request));
      return reply.status(204).send();
    });
  }
};
