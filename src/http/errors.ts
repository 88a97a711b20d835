import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { AppError, isAppError } from "../errors/app-error.ts";
import { constraintViolationOf, isDatabaseUnavailable, isUnstorableText } from "../store/db-errors.ts";

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

const fieldOf = (issue: ValidationIssue, context: string): string => {
  const missing = issue.params?.missingProperty;
  const extra = issue.params?.additionalProperty;
  const path = (issue.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
  const name = typeof missing === "string" ? missing : typeof extra === "string" ? extra : path;
  return name ? (path && name !== path ? `${path}.${name}` : name) : context;
};

/** Maps anything thrown in a route to a catalogue error; unknown errors become a generic 500. */
export const toAppError = (error: FastifyError | Error, request: FastifyRequest): AppError => {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (fastifyError.validation) {
    return new AppError("invalidRequest", {
      problems: fastifyError.validation.map((issue) => ({
        field: fieldOf(issue, fastifyError.validationContext ?? "body"),
        message:
          issue.params?.additionalProperty !== undefined
            ? "is not a known field"
            : (issue.message ?? "is not valid"),
      })),
    });
  }
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("requestTooLarge");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("unsupportedMediaType", { contentType: request.headers["content-type"] ?? null });
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new AppError("malformedJson");
    case "FST_ERR_RATE_LIMIT_EXCEEDED":
      return new AppError("tooManyRequests");
    default:
      break;
  }
  if (
    fastifyError instanceof SyntaxError ||
    (fastifyError.statusCode === 400 && /JSON/i.test(fastifyError.message))
  ) {
    return new AppError("malformedJson");
  }
  if (isDatabaseUnavailable(error)) return new AppError("serviceUnavailable");
  if (isUnstorableText(error))
    return new AppError("invalidRequest", {
      problem: "a text value holds a NUL or another character that cannot be stored: remove it",
    });
  // Two requests racing for the same row: the database refused the second one.
  const violation = constraintViolationOf(error);
  if (violation?.kind === "unique" && violation.target === "users.upn_key")
    return new AppError("userAlreadyExists");
  if (violation?.kind === "unique")
    return new AppError("concurrentChange", { conflict: violation.target ?? null });
  if (violation?.kind === "foreignKey")
    return new AppError("concurrentChange", { conflict: "a related record was removed" });
  if (fastifyError.statusCode === 429) return new AppError("tooManyRequests");
  if (fastifyError.statusCode === 413) return new AppError("requestTooLarge");
  if (fastifyError.statusCode === 415) return new AppError("unsupportedMediaType");
  if (
    fastifyError.statusCode !== undefined &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return new AppError("invalidRequest", { problem: fastifyError.message });
  }
  return new AppError("internalError");
};

export const errorBody = (error: AppError, request: FastifyRequest) => ({
  error: {
    code: error.code,
    message: error.message,
    mitigation: error.mitigation,
    ...error.details,
    requestId: request.id,
  },
});

export const sendAppError = (reply: FastifyReply, request: FastifyRequest, error: AppError) => {
  if (error.code === "tooManyRequests" && !reply.hasHeader("retry-after")) reply.header("retry-after", "60");
  if (error.code === "attemptsInProgress") reply.header("retry-after", "1");
  return reply.status(error.status).send(errorBody(error, request));
};

/** Logs what the client does not see: the original of a 500, or nothing for expected errors. */
export const logIfUnexpected = (request: FastifyRequest, original: Error, mapped: AppError) => {
  if (mapped.status >= 500) request.log.error({ err: original }, "unhandled error");
};

export { AppError };
