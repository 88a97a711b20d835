import { type ErrorCode, errorCatalogue } from "./catalogue.ts";

/** The one error type clients can see. Its code keys the catalogue (status, message, mitigation). */
export class AppError extends Error {
  override name = "AppError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly mitigation: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, details: Record<string, unknown> = {}, message?: string) {
    const entry = errorCatalogue[code];
    super(message ?? entry.message);
    this.code = code;
    this.status = entry.status;
    this.mitigation = entry.mitigation;
    this.details = details;
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;
