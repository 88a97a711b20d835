/**
 * "25 May 2026, 09:02 UTC": how a help desk reads a time, in every message and page that shows one
 * (machine fields keep ISO 8601). Accepts epoch milliseconds or an ISO string.
 */
export const humanTime = (value: string | number | null | undefined): string => {
  const ms = typeof value === "string" ? Date.parse(value) : value;
  return ms === null || ms === undefined || Number.isNaN(ms)
    ? "an unknown time"
    : `${new Date(ms).toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC" })} UTC`;
};
