import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const load = (env: Record<string, string>) => loadConfig({}, env);

describe("configuration from the environment", () => {
  it("takes true, 1, false, 0 or nothing for PINDESK_TRUST_PROXY and stops on anything else", () => {
    expect(load({}).trustProxy).toBe(false);
    expect(load({ PINDESK_TRUST_PROXY: "true" }).trustProxy).toBe(true);
    expect(load({ PINDESK_TRUST_PROXY: "1" }).trustProxy).toBe(true);
    expect(load({ PINDESK_TRUST_PROXY: "0" }).trustProxy).toBe(false);
    expect(() => load({ PINDESK_TRUST_PROXY: "yes" })).toThrow(ConfigError);
    expect(() => load({ PINDESK_TRUST_PROXY: "yes" })).toThrow(
      'PINDESK_TRUST_PROXY must be true or false, got "yes".',
    );
  });

  it("checks the SMTP settings even before a host is set", () => {
    expect(() => load({ PINDESK_SMTP_PORT: "99999" })).toThrow(/PINDESK_SMTP_PORT/);
    expect(() => load({ PINDESK_SMTP_SECURE: "maybe" })).toThrow(/PINDESK_SMTP_SECURE must be true or false/);
    expect(load({ PINDESK_SMTP_PORT: "2525" }).delivery.smtp).toBeUndefined();
    expect(
      load({ PINDESK_SMTP_HOST: "mail.example", PINDESK_SMTP_PORT: "2525", PINDESK_SMTP_SECURE: "1" })
        .delivery.smtp,
    ).toMatchObject({
      host: "mail.example",
      port: 2525,
      secure: true,
      requireTls: false,
    });
  });
});
