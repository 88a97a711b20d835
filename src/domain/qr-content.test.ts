import { describe, expect, it } from "vitest";
import { formatQrContent, parseQrContent } from "./qr-content.ts";

const content = {
  codeId: "0192f0c4-8a1b-7c3d-9e4f-a1b2c3d4e5f6",
  secret: `${"A".repeat(42)}w`,
  userPrincipalName: "ana.lopez+qr@contoso.com",
};

describe("QR content", () => {
  it("round-trips through the decoded string and its base64", () => {
    const raw = formatQrContent(content);
    expect(raw.startsWith("pindesk:qr:1:")).toBe(true);
    expect(parseQrContent(raw)).toEqual({ version: 1, ...content });
    expect(parseQrContent(Buffer.from(raw).toString("base64"))).toEqual({ version: 1, ...content });
    expect(parseQrContent(`  ${raw}\n`)).toEqual({ version: 1, ...content });
  });

  it.each([
    "",
    "hello",
    "pindesk:qr:2:0192f0c4-8a1b-7c3d-9e4f-a1b2c3d4e5f6:AAAA:a%40b",
    "pindesk:qr:1:not-a-uuid:AAAA:a%40b",
    `pindesk:qr:1:${content.codeId}:short:a%40b`,
    `pindesk:qr:1:${content.codeId}:${content.secret}:%E0%A4%A`,
    "x".repeat(5000),
  ])("rejects %j", (input) => {
    expect(parseQrContent(input)).toBeNull();
  });
});
