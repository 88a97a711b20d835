/** Terminal input and output helpers for the CLI: hidden PIN prompts, stdin, tables, plain-word states. */
import { createInterface } from "node:readline";
import { InvalidArgumentError } from "commander";
import type { PinStatus } from "../services/pin-service.ts";

/** The streams one CLI run reads and writes; the real process passes its own, tests pass buffers. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  /** Environment for the configuration; the process environment when absent. */
  env?: Record<string, string | undefined>;
}

/** A mistake in how a command was called. `nextStep` says what to do instead. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    readonly nextStep?: string,
  ) {
    super(message);
  }
}

export interface Terminal {
  io: CliIo;
  say(line: string): void;
  note(line: string): void;
  /** Reads a secret without echoing it (TTY), or one line from piped stdin. Never from argv. */
  readSecret(prompt: string, options?: { confirm?: string }): Promise<string>;
}

export const createTerminal = (io: CliIo): Terminal => {
  let stdinLines: string[] | undefined;
  // Only the line break ends the PIN: spaces around it are part of what was typed, and the policy
  // rejects them with its own message instead of the CLI silently changing the PIN.
  const readLine = async (): Promise<string | undefined> => {
    if (!stdinLines) {
      const chunks: Buffer[] = [];
      for await (const chunk of io.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      stdinLines = Buffer.concat(chunks).toString("utf8").split(/\r?\n/);
    }
    return stdinLines.shift();
  };

  const hiddenPrompt = (prompt: string): Promise<string> =>
    new Promise((resolve) => {
      const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
      const output = rl as unknown as { _writeToOutput: (s: string) => void };
      io.stderr.write(prompt);
      output._writeToOutput = () => undefined;
      rl.question("", (answer) => {
        rl.close();
        io.stderr.write("\n");
        resolve(answer);
      });
    });

  return {
    io,
    say: (line) => void io.stdout.write(`${line}\n`),
    note: (line) => void io.stderr.write(`${line}\n`),
    async readSecret(prompt, options = {}) {
      if (!io.stdin.isTTY) {
        const line = await readLine();
        if (!line)
          throw new UsageError(
            "No PIN on standard input.",
            "pipe it in (echo 482915 | pindesk …) or run the command in a terminal to be asked for it.",
          );
        return line;
      }
      const first = await hiddenPrompt(prompt);
      if (options.confirm) {
        const second = await hiddenPrompt(options.confirm);
        if (first !== second)
          throw new UsageError(
            "The two PINs are different. Nothing was changed.",
            "run the command again and type the same PIN twice.",
          );
      }
      return first;
    },
  };
};

/**
 * A commander argument parser for a whole number in [min, max]; the message names the allowed range
 * (commander prefixes it with the option and the value given).
 */
export const wholeNumber =
  (min: number, max: number) =>
  (raw: string): number => {
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max)
      throw new InvalidArgumentError(`Use a whole number from ${min} to ${max}.`);
    return Number(raw);
  };

/** A commander argument parser for an ISO 8601 date-time; returns epoch milliseconds. */
export const isoTime = (raw: string): number => {
  const ms = /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms))
    throw new InvalidArgumentError(
      "Use an ISO 8601 date or date-time, e.g. 2026-05-25 or 2026-05-25T09:00:00Z.",
    );
  return ms;
};

/** A fixed-width table for people; scripts use --json. */
export const table = (rows: Record<string, unknown>[], columns: string[]): string => {
  const cell = (v: unknown) =>
    v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join("\n");
};

/** The PIN state in plain words, as a help desk reads it. */
export const describeStatus = (s: PinStatus): string => {
  const lines = [`${s.userPrincipalName}: ${s.state}`, `  ${s.description}`];
  if (s.state !== "No PIN")
    lines.push(
      `  Wrong PINs since last success: ${s.failedAttempts} (${s.attemptsRemaining} left before lockout)`,
    );
  if (s.changedAt) lines.push(`  PIN last set: ${s.changedAt}`);
  if (s.expiresAt) lines.push(`  Expires: ${s.expiresAt}`);
  return lines.join("\n");
};
