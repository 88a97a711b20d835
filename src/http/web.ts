import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { AppError } from "../errors/app-error.ts";

/** Where `vite build` puts the portal (web/dist). */
export const webDistDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web/dist");

/**
 * Serves the React portal at /portal/ (client-side routes fall back to index.html, except under
 * /portal/api/) and sends / there.
 * Without a build, /portal/ says how to make one instead of a bare 404.
 */
export const webRoutes = async (app: FastifyInstance) => {
  app.get("/", async (_request, reply) => reply.redirect("/portal/"));
  // An API address that does not exist is a JSON 404 for the page's code, never the portal's HTML.
  app.all("/portal/api/*", async (request) => {
    throw new AppError("notFound", { path: request.url.slice(0, 200) });
  });
  const index = path.join(webDistDir, "index.html");
  if (!existsSync(index)) {
    app.get("/portal/*", async (_request, reply) =>
      reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send(
          "The PinDesk portal has not been built yet. Run `npm run build:web` (npm start does it for you), then reload.",
        ),
    );
    return;
  }
  const html = await readFile(index, "utf8");
  await app.register(fastifyStatic, { root: webDistDir, prefix: "/portal/", index: false, wildcard: false });
  const sendIndex = async (_request: unknown, reply: import("fastify").FastifyReply) =>
    reply
      .type("text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      )
      .send(html);
  app.get("/portal/", sendIndex);
  app.get("/portal/*", sendIndex);
};
