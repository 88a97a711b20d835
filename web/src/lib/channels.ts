/** What a channel sends, in a sentence ("not set up to send text messages"). */
export const channelSends = (channel: "email" | "sms"): string =>
  channel === "sms" ? "text messages" : "email";

/** "email", "text messages", or both, for channels this PinDesk cannot send on. */
export const notSetUpWords = (channels: readonly ("email" | "sms")[]): string =>
  channels.map(channelSends).join(" or ");

/** The channel a method or choice of this kind needs, when this PinDesk cannot send on it. */
export const undeliverable = (
  kind: string,
  channelsNotSetUp: readonly ("email" | "sms")[],
): "email" | "sms" | undefined =>
  (kind === "email" || kind === "sms") && channelsNotSetUp.includes(kind) ? kind : undefined;
