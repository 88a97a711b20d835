/**
 * A load generator that costs the server's cores as little as possible: raw keep-alive TCP sockets,
 * requests serialised once up front, responses parsed only as far as status and length. On a two-core
 * machine every microsecond the client spends is taken from the server it measures; node:http's client
 * costs about as much per request as the server's own HTTP and database work (measured here with wrk
 * beside it), which would make the benchmark measure its own client.
 */
import net from "node:net";
import { Worker } from "node:worker_threads";
import type { LoadResult } from "./load.ts";

export interface LeanResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** One HTTP/1.1 request, serialised once; `body` is sent as JSON. */
export const serialiseRequest = (
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Buffer => {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, "host: 127.0.0.1", "connection: keep-alive"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) {
    lines.push("content-type: application/json", `content-length: ${Buffer.byteLength(payload)}`);
  }
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${payload}`);
};

const HEADER_END = Buffer.from("\r\n\r\n");

/** A keep-alive connection that carries one request at a time. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: LeanResponse) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection closed by the server")));
  }

  send(request: Buffer): Promise<LeanResponse> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buffered.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const total = end + HEADER_END.length + length;
    if (this.buffered.length < total) return;
    const status = Number(head.slice(9, 12));
    const body = this.buffered.subarray(end + HEADER_END.length, total);
    this.buffered = this.buffered.subarray(total);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ status, body });
  }
}

export interface LeanClient {
  /** Sends on connection `lane` (one request in flight per lane). */
  send(lane: number, request: Buffer): Promise<LeanResponse>;
  close(): void;
}

/** Opens `lanes` keep-alive connections to `address` (http://host:port). */
export const createLeanClient = async (address: string, lanes: number): Promise<LeanClient> => {
  const { hostname, port } = new URL(address);
  const connections = await Promise.all(
    Array.from(
      { length: lanes },
      () =>
        new Promise<Connection>((resolve, reject) => {
          const socket = net.connect({ host: hostname, port: Number(port) }, () =>
            resolve(new Connection(socket)),
          );
          socket.once("error", reject);
        }),
    ),
  );
  return {
    send: (lane, request) => (connections[lane % connections.length] as Connection).send(request),
    close: () => {
      for (const c of connections) c.close();
    },
  };
};

/**
 * Warms up, then keeps `concurrency` of `requests` (taken in turn) in flight against `address` for
 * `durationMs`, from a worker thread. For endpoints that cost the server less than its event loop can
 * give, a load generator on the server's own event loop takes a large share of what is measured (about
 * 40 % of `/health` here); a real client never runs there. Any status but 200 counts as a failure.
 */
export const loadFromThread = (job: {
  address: string;
  requests: readonly Buffer[];
  concurrency: number;
  durationMs: number;
  warmup: { warmupMs: number; requests: number };
}): Promise<LoadResult> =>
  new Promise((resolve, reject) => {
    // The worker registers the TypeScript loader itself: Node 20 does not carry the `--import tsx`
    // hooks of this thread into a worker.
    const entry = new URL("./load-worker.ts", import.meta.url).href;
    const start = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(start, { eval: true, workerData: job });
    worker.once("message", (result: LoadResult) => resolve(result));
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (code !== 0) reject(new Error(`the load thread exited with code ${code}`));
    });
  });
