// Preloaded (node --require) before anything else runs: sizes libuv's thread pool, where argon2id
// hashing runs, to PINDESK_HASH_THREADS (default: the number of cores). libuv reads
// UV_THREADPOOL_SIZE once, when the pool first starts, and module loading starts it early, so the
// application's own configuration would be too late. An explicit UV_THREADPOOL_SIZE is kept.
const { availableParallelism } = require("node:os");

if (process.env.UV_THREADPOOL_SIZE === undefined) {
  const raw = process.env.PINDESK_HASH_THREADS;
  const wanted = raw === undefined || raw === "" ? availableParallelism() : Number(raw);
  // A bad value is reported by the configuration check at start; here it just falls back.
  const size = Number.isInteger(wanted) && wanted >= 1 && wanted <= 256 ? wanted : availableParallelism();
  process.env.UV_THREADPOOL_SIZE = String(size);
}
