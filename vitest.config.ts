import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: argon2id at OWASP parameters is CPU-bound, so keep parallel files modest.
    maxWorkers: 2,
    pool: "forks",
  },
});
