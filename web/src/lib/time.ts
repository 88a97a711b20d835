/**
 * Server time versus this browser's clock. Countdowns (resend a code, session idle) are computed from
 * server timestamps; an offset learnt from a timestamp the server stamped "now" keeps them right even
 * when the two clocks disagree.
 */
let offsetMs: number | undefined;

/** Records a server timestamp that meant "now" when the response arrived. */
export const noteServerTime = (iso: string): void => {
  const t = Date.parse(iso);
  if (!Number.isNaN(t)) offsetMs = t - Date.now();
};

/** Milliseconds from now until a server timestamp, or undefined when it cannot be trusted. */
export const msUntilServerTime = (iso: string, maxMs = 24 * 3_600_000): number | undefined => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  const ms = t - (Date.now() + (offsetMs ?? 0));
  return ms < -maxMs || ms > maxMs ? undefined : ms;
};

const pad = (n: number) => String(n).padStart(2, "0");

/** "0:42", "1:05", "12:00" */
export const formatCountdown = (ms: number): string => {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${pad(total % 60)}`;
};

/** "14:03" in the browser's time zone. */
export const formatClock = (iso: string): string => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

/** "25 May 2026, 14:03" */
export const formatDateTime = (iso: string | null | undefined): string => {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
};

/** Server messages written for logs carry ISO timestamps; people read "25 May 2026, 14:03". */
export const humanizeTimes = (text: string): string =>
  text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, (iso) => formatDateTime(iso));
