import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { toAppError } from "./errors.ts";

const request = { headers: {} } as FastifyRequest;

describe("toAppError", () => {
  it("maps PostgreSQL's refusal of text it cannot store to invalidRequest, not internalError", () => {
    for (const code of ["22021", "22P05"]) {
      const error = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code });
      const mapped = toAppError(error, request);
      expect(mapped.code).toBe("invalidRequest");
      expect(mapped.details.problem).toContain("NUL");
    }
    expect(toAppError(Object.assign(new Error("boom"), { code: "XX000" }), request).code).toBe(
      "internalError",
    );
  });
});
