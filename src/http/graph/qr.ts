import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { QrCodeView, QrMethodView, QrPinView } from "../../services/qr-service.ts";
import type { QrCodeKind } from "../../store/schema.ts";
import { guard, type Operation, userRefOf } from "./access.ts";
import { applySelect, parseQuery, parseSelect } from "./odata.ts";
import {
  contextUrl,
  ctxOf,
  docs,
  type GraphContext,
  keySegment,
  noStore,
  nullableText,
  text,
  userParams,
  userPaths,
} from "./shared.ts";

const METHOD_TYPE = "microsoft.graph.qrCodePinAuthenticationMethod";
const CODE_TYPE = "microsoft.graph.qrCode";
const PIN_TYPE = "microsoft.graph.qrPin";
const IMAGE_TYPE = "microsoft.graph.qrCodeImageDetails";
const METHOD_PROPERTIES = ["id", "createdDateTime", "standardQRCode", "temporaryQRCode", "pin"] as const;
const CODE_PROPERTIES = [
  "id",
  "startDateTime",
  "expireDateTime",
  "createdDateTime",
  "lastUsedDateTime",
  "image",
] as const;

/** What Graph answers for a code never used to sign in (DateTimeOffset's minimum, not null). */
export const NEVER_USED = "0001-01-01T00:00:00Z";

/** The image (and with it the code's secret) appears only in the response that creates the code. */
export const codeEntity = (code: QrCodeView) => ({
  "@odata.type": `#${CODE_TYPE}`,
  id: code.id,
  startDateTime: code.startDateTime,
  expireDateTime: code.expireDateTime,
  createdDateTime: code.createdDateTime,
  lastUsedDateTime: code.lastUsedDateTime ?? NEVER_USED,
  image: code.image ? { "@odata.type": `#${IMAGE_TYPE}`, ...code.image } : null,
});

/** `code` is the PIN in clear only when it was just set or reset; Graph returns null otherwise. */
export const pinEntity = (pin: QrPinView) => ({
  "@odata.type": `#${PIN_TYPE}`,
  id: pin.id,
  code: pin.code ?? null,
  forceChangePinNextSignIn: pin.forceChangePinNextSignIn,
  createdDateTime: pin.createdDateTime,
  updatedDateTime: pin.updatedDateTime,
});

export const methodEntity = (method: QrMethodView) => ({
  "@odata.type": `#${METHOD_TYPE}`,
  id: method.id,
  createdDateTime: method.createdDateTime,
  standardQRCode: method.standardQRCode ? codeEntity(method.standardQRCode) : null,
  temporaryQRCode: method.temporaryQRCode ? codeEntity(method.temporaryQRCode) : null,
  pin: pinEntity(method.pin),
});

const odataType = text(200);

const codeDates = {
  "@odata.type": odataType,
  startDateTime: text(64),
  expireDateTime: text(64),
} as const;

const createMethodBody = {
  type: "object",
  additionalProperties: false,
  properties: {
    "@odata.type": odataType,
    standardQRCode: { type: ["object", "null"], additionalProperties: false, properties: codeDates },
    // Any value other than null is refused by the service with standardQRCodeRequired, as Graph does.
    temporaryQRCode: {},
    pin: {
      type: ["object", "null"],
      additionalProperties: false,
      properties: {
        "@odata.type": odataType,
        code: nullableText(256),
        forceChangePinNextSignIn: { type: "boolean" },
      },
    },
  },
} as const;

const patchCodeBody = {
  type: ["object", "null"],
  additionalProperties: false,
  properties: codeDates,
} as const;

// Graph documents an empty object or `{"pin": ""}`; whatever code is supplied, a reset generates the PIN.
const resetPinBody = { type: ["object", "null"] } as const;

const updatePinBody = {
  type: "object",
  required: ["currentPin", "newPin"],
  additionalProperties: false,
  properties: { "@odata.type": odataType, currentPin: text(256, 1), newPin: text(256, 1) },
} as const;

type Handler = (request: FastifyRequest, reply: FastifyReply, ref: string) => Promise<unknown>;

export const qrRoutes = async (app: FastifyInstance, g: GraphContext) => {
  const { services } = g;
  const methodPath = "/authentication/qrCodePinMethod";
  const methodContext = (ref: string, tail = "") =>
    contextUrl(g, `${keySegment(ref)}/authentication/qrCodePinMethod${tail}/$entity`);

  /** Registers one operation under /users/{id | upn}… and /me…, in both spellings. */
  const route = (
    method: "GET" | "PUT" | "PATCH" | "POST" | "DELETE",
    suffix: string,
    op: Operation,
    body: object | undefined,
    handler: Handler,
  ) => {
    for (const { path, me, hidden } of userPaths(`${methodPath}${suffix}`)) {
      app.route({
        method,
        url: path,
        onRequest: guard(services, op, { me }),
        schema: { ...docs(hidden), ...(!me && { params: userParams }), ...(body && { body }) },
        handler: async (request, reply) => handler(request, reply, userRefOf(request, me)),
      });
    }
  };

  route("GET", "", "qr.read", undefined, async (request, _reply, ref) => {
    const select = parseSelect(
      parseQuery(request.query, ["$select"]).$select,
      METHOD_PROPERTIES,
      METHOD_TYPE,
    );
    const method = await services.qr.getMethod(ctxOf(request), ref);
    return { "@odata.context": methodContext(ref), ...applySelect(methodEntity(method), select) };
  });

  route("PUT", "", "qr.write", createMethodBody, async (request, reply, ref) => {
    const method = await services.qr.createMethod(ctxOf(request), ref, request.body as never);
    noStore(reply);
    return reply.status(201).send({ "@odata.context": methodContext(ref), ...methodEntity(method) });
  });

  route("DELETE", "", "qr.write", undefined, async (request, reply, ref) => {
    await services.qr.deleteMethod(ctxOf(request), ref);
    return reply.status(204).send();
  });

  route("PATCH", "/pin", "qr.write", resetPinBody, async (request, reply, ref) => {
    const pin = await services.qr.resetPin(ctxOf(request), ref);
    noStore(reply);
    return reply.status(201).send({ "@odata.context": methodContext(ref, "/pin"), ...pinEntity(pin) });
  });

  // Graph documents PATCH; the SDKs send POST (it is an OData action). Both are served.
  for (const method of ["PATCH", "POST"] as const) {
    route(method, "/pin/updatePin", "qr.updatePin", updatePinBody, async (request, reply, ref) => {
      const { currentPin, newPin } = request.body as { currentPin: string; newPin: string };
      await services.qr.updateOwnPin(ctxOf(request), ref, currentPin, newPin);
      return reply.status(204).send();
    });
  }

  const codeRoutes = (kind: QrCodeKind, segment: string) => {
    route("GET", segment, "qr.read", undefined, async (request, _reply, ref) => {
      const select = parseSelect(parseQuery(request.query, ["$select"]).$select, CODE_PROPERTIES, CODE_TYPE);
      const code = await services.qr.getCode(ctxOf(request), ref, kind);
      return { "@odata.context": methodContext(ref, segment), ...applySelect(codeEntity(code), select) };
    });

    route("PATCH", segment, "qr.write", patchCodeBody, async (request, reply, ref) => {
      const body = (request.body ?? {}) as { startDateTime?: string; expireDateTime?: string };
      const { created, code } = await services.qr.patchCode(ctxOf(request), ref, kind, {
        ...(body.startDateTime !== undefined && { startDateTime: body.startDateTime }),
        ...(body.expireDateTime !== undefined && { expireDateTime: body.expireDateTime }),
      });
      if (created) noStore(reply);
      return reply
        .status(created ? 201 : 200)
        .send({ "@odata.context": methodContext(ref, segment), ...codeEntity(code) });
    });

    route("DELETE", segment, "qr.write", undefined, async (request, reply, ref) => {
      await services.qr.deleteCode(ctxOf(request), ref, kind);
      return reply.status(204).send();
    });
  };
  codeRoutes("standard", "/standardQRCode");
  codeRoutes("temporary", "/temporaryQRCode");
};
