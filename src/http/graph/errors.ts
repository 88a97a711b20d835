import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppError } from "../../errors/app-error.ts";
import type { ErrorCode } from "../../errors/catalogue.ts";

/** Microsoft Graph's error body: `{"error":{"code","message","innerError":{…},"details"?}}`. */
export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { "request-id": string; date: string; "client-request-id": string };
    details?: { code: string; message: string; target: string }[];
  };
}

interface Mapped {
  status: number;
  code: string;
}

const NOT_FOUND: readonly ErrorCode[] = [
  "userNotFound",
  "qrCodePinMethodNotFound",
  "qrCodeNotFound",
  "notFound",
  "methodNotFound",
  "appNotFound",
];

/** A PIN that breaks the QR profile's rules (not a reused PIN, which has its own answer). */
export const isPinViolation = (error: AppError): boolean =>
  Array.isArray(error.details.violations) &&
  error.details.violations.length > 0 &&
  error.code !== "pinInHistory";

export interface GraphErrorOptions {
  /** For a PIN violation: the length Graph's pinTooShort message names. */
  pinMinLength?: number | undefined;
}

/**
 * Graph's generic codes where Graph has one; PinDesk's method-specific codes (tooManyQRCodePinMethod,
 * pinTooShort, standardQRCodeRequired, …) pass through under their own name, as Graph does for its own.
 */
const mapCode = (error: AppError): Mapped => {
  if (isPinViolation(error)) return { status: 400, code: "pinTooShort" };
  if (NOT_FOUND.includes(error.code)) return { status: 404, code: "itemNotFound" };
  switch (error.code) {
    // Graph answers every token problem (missing, expired, forged, wrong audience) with this code.
    case "invalidToken":
    case "notSignedIn":
      return { status: 401, code: "InvalidAuthenticationToken" };
    case "insufficientPermissions":
    case "forbiddenTarget":
    case "csrfCheckFailed":
      return { status: 403, code: "accessDenied" };
    case "invalidRequest":
    case "malformedJson":
    case "invalidPolicy":
      return { status: 400, code: "invalidRequest" };
    // Graph reports a clash on a unique property this way (400, not 409).
    case "userAlreadyExists":
      return { status: 400, code: "Request_BadRequest" };
    case "tooManyRequests":
      return { status: 429, code: "TooManyRequests" };
    case "serviceUnavailable":
      return { status: 503, code: "serviceNotAvailable" };
    case "internalError":
      return { status: 500, code: "generalException" };
    default:
      break;
  }
  // In Graph a 401 always means "get a new token"; a wrong PIN or QR code is a bad request instead.
  if (error.status === 401) return { status: 400, code: error.code };
  return { status: error.status, code: error.code };
};

type Problem = { field?: unknown; message?: unknown };

/** The schema's "no control characters" pattern, said in words rather than as a regular expression. */
const plain = (message: string) =>
  message.startsWith('must match pattern "^[^\\u0000') ? "must not contain control characters" : message;

const problemsOf = (error: AppError): { field: string; message: string; code?: string }[] => {
  // Graph answers every PIN rule with pinTooShort; which rule the PIN broke is listed in details.
  if (isPinViolation(error)) {
    const target = typeof error.details.field === "string" ? error.details.field : "pin";
    return (error.details.violations as { code?: unknown; message?: unknown }[]).flatMap((v) =>
      typeof v?.message === "string" ? [{ field: target, message: v.message, code: String(v.code) }] : [],
    );
  }
  const problems = error.details.problems;
  if (!Array.isArray(problems)) return [];
  return problems.flatMap((p: Problem) =>
    typeof p?.message === "string"
      ? [{ field: typeof p.field === "string" ? p.field : "", message: plain(p.message) }]
      : [],
  );
};

/** The catalogue's message, made specific with what the details say (never a secret: details hold none). */
const messageOf = (error: AppError, options: GraphErrorOptions): string => {
  const { details } = error;
  if (isPinViolation(error)) {
    const minLength =
      options.pinMinLength ??
      (details.violations as { params?: { minLength?: unknown } }[])
        .map((v) => v?.params?.minLength)
        .find((n): n is number => typeof n === "number") ??
      8;
    return `PIN needs to be digit only and at least ${minLength} characters long.`;
  }
  const problems = problemsOf(error);
  if (problems.length > 0) {
    return `${error.message} ${problems.map((p) => (p.field ? `${p.field} ${p.message}` : p.message)).join("; ")}.`;
  }
  switch (error.code) {
    case "userAlreadyExists":
      return "Another object with the same value for property userPrincipalName already exists.";
    case "invalidToken":
      return typeof details.problem === "string" ? `${error.message} (${details.problem})` : error.message;
    case "insufficientPermissions":
      return Array.isArray(details.required) && details.required.length > 0
        ? `Insufficient privileges to complete the operation. It needs one of these permissions: ${details.required.join(", ")}.`
        : `Insufficient privileges to complete the operation. ${typeof details.problem === "string" ? details.problem : ""}`.trim();
    case "invalidPin":
      return typeof details.attemptsRemaining === "number"
        ? `The current PIN is incorrect. Attempts remaining before the PIN locks: ${details.attemptsRemaining}.`
        : error.message;
    case "pinLocked":
      return details.lockedUntil
        ? `${error.message} Try again after ${String(details.lockedUntil)}.`
        : `${error.message} An administrator must unblock it.`;
    default:
      return typeof details.problem === "string" ? `${error.message} ${details.problem}` : error.message;
  }
};

/** client-request-id is echoed only when it is a plain token, never arbitrary bytes into a header. */
export const clientRequestIdOf = (request: FastifyRequest): string | undefined => {
  const value = request.headers["client-request-id"];
  return typeof value === "string" && /^[\x21-\x7e]{1,128}$/.test(value) ? value : undefined;
};

export const graphErrorBody = (
  error: AppError,
  request: FastifyRequest,
  now: number,
  options: GraphErrorOptions = {},
): { status: number; body: GraphErrorBody } => {
  const { status, code } = mapCode(error);
  const problems = problemsOf(error);
  return {
    status,
    body: {
      error: {
        code,
        message: messageOf(error, options),
        innerError: {
          "request-id": request.id,
          date: new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z"),
          "client-request-id": clientRequestIdOf(request) ?? request.id,
        },
        ...(problems.length > 0 && {
          details: problems.map((p) => ({ code: p.code ?? error.code, message: p.message, target: p.field })),
        }),
      },
    },
  };
};

export const sendGraphError = (
  reply: FastifyReply,
  request: FastifyRequest,
  error: AppError,
  now: number,
  options: GraphErrorOptions = {},
) => {
  const { status, body } = graphErrorBody(error, request, now, options);
  if (status === 401) reply.header("www-authenticate", 'Bearer realm="", error="invalid_token"');
  // Guesses in flight settle within a second; a rate limit lasts longer.
  if (status === 429 && !reply.hasHeader("retry-after"))
    reply.header("retry-after", error.code === "attemptsInProgress" ? "1" : "60");
  const clientRequestId = clientRequestIdOf(request);
  if (clientRequestId) reply.header("client-request-id", clientRequestId);
  return reply.status(status).header("content-type", "application/json; charset=utf-8").send(body);
};
