import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { AppError } from "../../errors/app-error.ts";
import { sendGraphError } from "./errors.ts";

const retryAfterOf = async (code: "attemptsInProgress" | "tooManyRequests") => {
  const app = Fastify();
  app.get("/", (request, reply) => sendGraphError(reply, request, new AppError(code), Date.now()));
  const res = await app.inject({ method: "GET", url: "/" });
  await app.close();
  return { status: res.statusCode, retryAfter: res.headers["retry-after"] };
};

describe("Graph error responses", () => {
  it("ask a caller refused while guesses are in flight to retry in a second, a rate-limited one in a minute", async () => {
    // Graph SDKs honour Retry-After: a 60 s wait for a burst that settles in a second stalls a script.
    expect(await retryAfterOf("attemptsInProgress")).toEqual({ status: 429, retryAfter: "1" });
    expect(await retryAfterOf("tooManyRequests")).toEqual({ status: 429, retryAfter: "60" });
  });
});
