import { describe, expect, it } from "vitest";
import { mentionsRecipient } from "./outbox.ts";

describe("a provider's reason that names the recipient", () => {
  it("is recognised by the address, its local part or the phone number's digits", () => {
    expect(mentionsRecipient("the mail server rejected Kim@Contoso.com", "kim@contoso.com")).toBe(true);
    expect(mentionsRecipient("550 5.1.1 <kim>: Recipient address rejected", "kim@contoso.com")).toBe(true);
    expect(mentionsRecipient("HTTP 400: invalid number +44 7700 900123", "+447700900123")).toBe(true);
    expect(mentionsRecipient("HTTP 400: 447700900123 is not mobile", "07700 900123")).toBe(true);
  });

  it("is not confused with a reason about the channel", () => {
    expect(mentionsRecipient("connect ECONNREFUSED 127.0.0.1:2525", "kim@contoso.com")).toBe(false);
    expect(mentionsRecipient("550 5.1.1 mailbox unavailable", "kim@contoso.com")).toBe(false);
    expect(mentionsRecipient("HTTP 503: Service Unavailable", "+447700900123")).toBe(false);
    // A stand-in has no destination at all.
    expect(mentionsRecipient("anything", "")).toBe(false);
  });
});
