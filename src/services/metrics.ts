import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** One registry per app instance, so several instances (tests, benchmarks) never share counters. */
export const createMetrics = ({ defaults = true }: { defaults?: boolean } = {}) => {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry, prefix: "pindesk_" });
  return {
    registry,
    verifications: new Counter({
      name: "pindesk_pin_verifications_total",
      help: "PIN verifications by outcome (success, invalid, locked, changeRequired, expired, disabled).",
      labelNames: ["outcome", "channel"] as const,
      registers: [registry],
    }),
    lockouts: new Counter({
      name: "pindesk_pin_lockouts_total",
      help: "PINs locked after reaching the failure threshold.",
      registers: [registry],
    }),
    hashDuration: new Histogram({
      name: "pindesk_hash_duration_seconds",
      help: "Time to evaluate one argon2id hash (verify or create).",
      labelNames: ["operation"] as const,
      buckets: [0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1],
      registers: [registry],
    }),
  };
};

export type Metrics = ReturnType<typeof createMetrics>;
