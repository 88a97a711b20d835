import { describe, expect, it } from "vitest";
import { type WindowsHelloError, windowsHelloErrors, windowsHelloGenericSteps } from "./windows-hello.ts";

const find = (hex: string): WindowsHelloError => {
  const entry = windowsHelloErrors.find((e) => e.hex === hex);
  if (entry === undefined) throw new Error(`missing ${hex}`);
  return entry;
};

describe("windowsHelloGenericSteps", () => {
  it("has the article's four steps in order", () => {
    expect(windowsHelloGenericSteps).toHaveLength(4);
    expect(windowsHelloGenericSteps[0]).toBe(
      "Try to create the PIN again. Some errors are transient and resolve themselves",
    );
    expect(windowsHelloGenericSteps[1]).toBe("Sign out, sign in, and try to create the PIN again");
    expect(windowsHelloGenericSteps[2]).toBe("Reboot the device and then try to create the PIN again");
    expect(windowsHelloGenericSteps[3]).toBe(
      "Unjoin the device from Microsoft Entra ID, rejoin, and then try to create the PIN again. To unjoin a device, go to Settings > System > About > Disconnect from organization",
    );
  });
});

describe("windowsHelloErrors", () => {
  it("has every row of both tables: 31 mitigation rows = 30 codes, plus 22 codes without mitigation", () => {
    const withMitigation = windowsHelloErrors.filter((e) => e.mitigation !== null);
    const withoutMitigation = windowsHelloErrors.filter((e) => e.mitigation === null);
    expect(withMitigation).toHaveLength(30);
    expect(withoutMitigation).toHaveLength(22);
    expect(windowsHelloErrors).toHaveLength(52);
    // 31 source rows: each 0x801C044D cause is its own row (the second one has an empty Hex cell).
    const rowsWithMitigation = withMitigation.reduce(
      (n, e) => n + (e.hex === "0x801C044D" ? e.causes.length : 1),
      0,
    );
    expect(rowsWithMitigation).toBe(31);
  });

  it("has distinct codes, all canonical (0x + 8 uppercase hex digits)", () => {
    const hexes = windowsHelloErrors.map((e) => e.hex);
    expect(new Set(hexes).size).toBe(hexes.length);
    for (const hex of hexes) expect(hex).toMatch(/^0x[0-9A-F]{8}$/);
  });

  it("has no empty causes, no leftover markdown and no empty mitigations", () => {
    for (const entry of windowsHelloErrors) {
      expect(entry.causes.length).toBeGreaterThan(0);
      const texts = [...entry.causes, ...(entry.mitigation === null ? [] : [entry.mitigation])];
      for (const text of texts) {
        expect(text.trim()).not.toBe("");
        expect(text).not.toMatch(/<br>|\*\*|`|\]\(/);
      }
    }
  });

  it("keeps the article's order: first and last of each table", () => {
    expect(windowsHelloErrors[0]?.hex).toBe("0x80090005");
    expect(windowsHelloErrors[29]?.hex).toBe("0xC00000BB");
    expect(windowsHelloErrors[30]?.hex).toBe("0x80070057");
    expect(windowsHelloErrors[51]?.hex).toBe("0xCAA30193");
  });

  it("0x80090029: TPM isn't set up, prepare it with tpm.msc", () => {
    expect(find("0x80090029")).toEqual({
      hex: "0x80090029",
      causes: ["TPM isn't set up."],
      mitigation:
        "Sign on with an administrator account. Select Start, type tpm.msc, and select tpm.msc Microsoft Common Console Document. In the Actions pane, select Prepare the TPM.",
    });
  });

  it("0x80090031: relative links become absolute learn.microsoft.com links, parentheses kept", () => {
    expect(find("0x80090031").mitigation).toBe(
      "Reboot the device. If the error occurs again after rebooting, reset the TPM (https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/dd851452(v=ws.11)) or run Clear-TPM (https://learn.microsoft.com/powershell/module/trustedplatformmodule/clear-tpm).",
    );
  });

  it("0x801C03ED has the five causes separated by -or-, and a two-line mitigation", () => {
    const entry = find("0x801C03ED");
    expect(entry.causes).toEqual([
      "Multi-factor authentication is required for a 'ProvisionKey' operation, but wasn't performed.",
      "Token wasn't found in the Authorization header.",
      "Failed to read one or more objects.",
      "The request sent to the server was invalid.",
      "User doesn't have permissions to join to Microsoft Entra ID.",
    ]);
    expect(entry.mitigation).toBe(
      "Sign out and then sign in again. If that doesn't resolve the issue, unjoin the device from Microsoft Entra ID and rejoin.\nAllow user(s) to join to Microsoft Entra ID under Microsoft Entra Device settings.",
    );
  });

  it("0x801C044D has two causes (the row with an empty Hex cell) and both mitigations verbatim", () => {
    const entry = find("0x801C044D");
    expect(entry.causes).toEqual([
      "Authorization token doesn't contain device ID.",
      "Unable to obtain user token.",
    ]);
    expect(entry.mitigation).toContain("Unjoin the device from Microsoft Entra ID and rejoin.");
    expect(entry.mitigation).toContain("Sign out and then sign in again. Check network and credentials.");
  });

  it("0x801C004D (DSREG_NO_DEFAULT_ACCOUNT, lowercase c in the source) is its own code without mitigation", () => {
    expect(find("0x801C004D")).toEqual({
      hex: "0x801C004D",
      causes: [
        "DSREG_NO_DEFAULT_ACCOUNT: NGC provisioning is unable to find the default WAM account to use to request Microsoft Entra token for provisioning. Unable to enroll a device to use a PIN for login.",
      ],
      mitigation: null,
    });
  });

  it("0x80072F0C (capital X in the source) is canonicalised", () => {
    expect(find("0x80072F0C")).toEqual({ hex: "0x80072F0C", causes: ["Unknown"], mitigation: null });
  });

  it("0xC00000BB: the KDC certificate row", () => {
    expect(find("0xC00000BB")).toEqual({
      hex: "0xC00000BB",
      causes: ["Your PIN or this option is temporarily unavailable."],
      mitigation:
        "The destination domain controller doesn't support the login method. Most often the KDC service doesn't have the proper certificate to support the login. Another common cause can be the client cannot verify the KDC certificate CRL. Use a different login method.",
    });
  });

  it("0xCAA30193: HTTP 403 without mitigation", () => {
    expect(find("0xCAA30193")).toEqual({
      hex: "0xCAA30193",
      causes: [
        "HTTP 403 Request Forbidden: it means request left the device, however either Server, proxy or firewall generated this response.",
      ],
      mitigation: null,
    });
  });

  it("keeps the source's wording verbatim, including its quirks", () => {
    expect(find("0x801C03EC").mitigation).toBe("sign out and then sign in again.");
    expect(find("0x801C0016").causes).toEqual(["The federation provider configuration is empty"]);
    expect(find("0x801C0451").mitigation).toBe(
      "Delete the Web Account Manager token broker files located in %LOCALAPPDATA%\\Packages\\Microsoft.AAD.BrokerPlugin_cw5n1h2txyewy\\AC\\TokenBroker\\Accounts\\*.*\\ and reboot.",
    );
    expect(find("0x801C03F2").mitigation).toContain(
      "refer to Duplicate Attributes Prevent Dirsync (https://learn.microsoft.com/office365/troubleshoot/administration/duplicate-attributes-prevent-dirsync).",
    );
    expect(find("0x801C000E").mitigation).toContain(
      "increase the maximum number of devices per user (https://learn.microsoft.com/entra/identity/devices/manage-device-identities).",
    );
  });
});
