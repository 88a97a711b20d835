/**
 * Windows Hello errors during PIN creation, transcribed from the Microsoft Learn article
 * "Windows Hello errors during PIN creation" (ms.date 03/12/2024).
 *
 * Transcription rules: markdown links become "text (https://learn.microsoft.com/target)", `<br>` becomes a
 * newline, bold and code markup are dropped; all other text is verbatim (including the source's own wording
 * and capitalisation). Hex codes are canonical: "0x" followed by 8 uppercase hex digits.
 */

export interface WindowsHelloError {
  /** Canonical "0x" + 8 uppercase hex digits. */
  readonly hex: string;
  readonly causes: readonly string[];
  /** null: the article lists no mitigation (the "Errors with unknown mitigation" table): contact Microsoft Support. */
  readonly mitigation: string | null;
}

/** The article's generic steps, to try first for any error during PIN creation. */
export const windowsHelloGenericSteps: readonly string[] = [
  "Try to create the PIN again. Some errors are transient and resolve themselves",
  "Sign out, sign in, and try to create the PIN again",
  "Reboot the device and then try to create the PIN again",
  "Unjoin the device from Microsoft Entra ID, rejoin, and then try to create the PIN again. To unjoin a device, go to Settings > System > About > Disconnect from organization",
];

const UNJOIN_REJOIN = "Unjoin the device from Microsoft Entra ID and rejoin.";
const SIGN_OUT_IN = "Sign out and then sign in again.";

/** The "Error mitigations" table (31 rows in the article; the row with an empty Hex cell continues 0x801C044D). */
const withMitigation: readonly WindowsHelloError[] = [
  { hex: "0x80090005", causes: ["NTE_BAD_DATA"], mitigation: UNJOIN_REJOIN },
  { hex: "0x8009000F", causes: ["The container or key already exists."], mitigation: UNJOIN_REJOIN },
  { hex: "0x80090011", causes: ["The container or key wasn't found."], mitigation: UNJOIN_REJOIN },
  {
    hex: "0x80090029",
    causes: ["TPM isn't set up."],
    mitigation:
      "Sign on with an administrator account. Select Start, type tpm.msc, and select tpm.msc Microsoft Common Console Document. In the Actions pane, select Prepare the TPM.",
  },
  {
    hex: "0x8009002A",
    causes: ["NTE_NO_MEMORY"],
    mitigation: "Close programs, which are taking up memory and try again.",
  },
  {
    hex: "0x80090031",
    causes: ["NTE_AUTHENTICATION_IGNORED"],
    mitigation:
      "Reboot the device. If the error occurs again after rebooting, reset the TPM (https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/dd851452(v=ws.11)) or run Clear-TPM (https://learn.microsoft.com/powershell/module/trustedplatformmodule/clear-tpm).",
  },
  {
    hex: "0x80090035",
    causes: ["Policy requires TPM and the device doesn't have TPM."],
    mitigation: "Change the Windows Hello for Business policy to not require a TPM.",
  },
  {
    hex: "0x80090036",
    causes: ["User canceled an interactive dialog."],
    mitigation: "User is asked to try again.",
  },
  {
    hex: "0x801C0003",
    causes: ["User isn't authorized to enroll."],
    mitigation: "Check if the user has permission to perform the operation.",
  },
  {
    hex: "0x801C000E",
    causes: ["Registration quota reached."],
    mitigation:
      "Unjoin some other device that is currently joined using the same account or increase the maximum number of devices per user (https://learn.microsoft.com/entra/identity/devices/manage-device-identities).",
  },
  {
    hex: "0x801C000F",
    causes: ["Operation successful, but the device requires a reboot."],
    mitigation: "Reboot the device.",
  },
  { hex: "0x801C0010", causes: ["The AIK certificate isn't valid or trusted."], mitigation: SIGN_OUT_IN },
  {
    hex: "0x801C0011",
    causes: ["The attestation statement of the transport key is invalid."],
    mitigation: SIGN_OUT_IN,
  },
  { hex: "0x801C0012", causes: ["Discovery request isn't in a valid format."], mitigation: SIGN_OUT_IN },
  {
    hex: "0x801C0015",
    causes: ["The device is required to be joined to an Active Directory domain."],
    mitigation: "Join the device to an Active Directory domain.",
  },
  {
    hex: "0x801C0016",
    causes: ["The federation provider configuration is empty"],
    mitigation:
      "Go to http://clientconfig.microsoftonline-p.net/FPURL.xml and verify that the file isn't empty.",
  },
  {
    hex: "0x801C0017",
    causes: ["The federation provider domain is empty"],
    mitigation:
      "Go to http://clientconfig.microsoftonline-p.net/FPURL.xml and verify that the FPDOMAINNAME element isn't empty.",
  },
  {
    hex: "0x801C0018",
    causes: ["The federation provider client configuration URL is empty"],
    mitigation:
      "Go to http://clientconfig.microsoftonline-p.net/FPURL.xml and verify that the CLIENTCONFIG element contains a valid URL.",
  },
  { hex: "0x801C03E9", causes: ["Server response message is invalid"], mitigation: SIGN_OUT_IN },
  {
    hex: "0x801C03EA",
    causes: ["Server failed to authorize user or device."],
    mitigation:
      "Check if the token is valid and user has permission to register Windows Hello for Business keys.",
  },
  { hex: "0x801C03EB", causes: ["Server response http status isn't valid"], mitigation: SIGN_OUT_IN },
  // The source writes this mitigation with a lowercase "s"; kept verbatim.
  {
    hex: "0x801C03EC",
    causes: ["Unhandled exception from server."],
    mitigation: "sign out and then sign in again.",
  },
  {
    hex: "0x801C03ED",
    causes: [
      "Multi-factor authentication is required for a 'ProvisionKey' operation, but wasn't performed.",
      "Token wasn't found in the Authorization header.",
      "Failed to read one or more objects.",
      "The request sent to the server was invalid.",
      "User doesn't have permissions to join to Microsoft Entra ID.",
    ],
    mitigation:
      "Sign out and then sign in again. If that doesn't resolve the issue, unjoin the device from Microsoft Entra ID and rejoin.\nAllow user(s) to join to Microsoft Entra ID under Microsoft Entra Device settings.",
  },
  { hex: "0x801C03EE", causes: ["Attestation failed."], mitigation: SIGN_OUT_IN },
  { hex: "0x801C03EF", causes: ["The AIK certificate is no longer valid."], mitigation: SIGN_OUT_IN },
  {
    hex: "0x801C03F2",
    causes: ["Windows Hello key registration failed."],
    mitigation:
      'ERROR_BAD_DIRECTORY_REQUEST. Another object with the same value for property proxyAddresses already exists. To resolve the issue, refer to Duplicate Attributes Prevent Dirsync (https://learn.microsoft.com/office365/troubleshoot/administration/duplicate-attributes-prevent-dirsync). Also, if no sync conflict exists, please verify that the "Mail/Email address" in Microsoft Entra ID and the Primary SMTP address are the same in the proxy address.',
  },
  // Two source rows: the second has an empty Hex cell and continues 0x801C044D.
  {
    hex: "0x801C044D",
    causes: ["Authorization token doesn't contain device ID.", "Unable to obtain user token."],
    mitigation:
      'If the cause is "Authorization token doesn\'t contain device ID.": Unjoin the device from Microsoft Entra ID and rejoin.\nIf the cause is "Unable to obtain user token.": Sign out and then sign in again. Check network and credentials.',
  },
  { hex: "0x801C044E", causes: ["Failed to receive user credentials input."], mitigation: SIGN_OUT_IN },
  {
    hex: "0x801C0451",
    causes: ["User token switch account."],
    mitigation:
      "Delete the Web Account Manager token broker files located in %LOCALAPPDATA%\\Packages\\Microsoft.AAD.BrokerPlugin_cw5n1h2txyewy\\AC\\TokenBroker\\Accounts\\*.*\\ and reboot.",
  },
  {
    hex: "0xC00000BB",
    causes: ["Your PIN or this option is temporarily unavailable."],
    mitigation:
      "The destination domain controller doesn't support the login method. Most often the KDC service doesn't have the proper certificate to support the login. Another common cause can be the client cannot verify the KDC certificate CRL. Use a different login method.",
  },
];

/** The "Errors with unknown mitigation" table (22 rows): contact Microsoft Support. */
const withoutMitigation: readonly WindowsHelloError[] = [
  { hex: "0x80070057", causes: ["Invalid parameter or argument is passed."], mitigation: null },
  // "0X80072F0C" in the source.
  { hex: "0x80072F0C", causes: ["Unknown"], mitigation: null },
  {
    hex: "0x80072F8F",
    causes: [
      "A mismatch happens between the system's clock and the activation server's clock when attempting to activate Windows.",
    ],
    mitigation: null,
  },
  { hex: "0x80090010", causes: ["NTE_PERM"], mitigation: null },
  { hex: "0x80090020", causes: ["NTE_FAIL"], mitigation: null },
  {
    hex: "0x80090027",
    causes: [
      "Caller provided a wrong parameter. If non-Microsoft code receives this error, they must change their code.",
    ],
    mitigation: null,
  },
  { hex: "0x8009002D", causes: ["NTE_INTERNAL_ERROR"], mitigation: null },
  { hex: "0x801C0001", causes: ["ADRS server response isn't in a valid format."], mitigation: null },
  { hex: "0x801C0002", causes: ["Server failed to authenticate the user."], mitigation: null },
  { hex: "0x801C0006", causes: ["Unhandled exception from server."], mitigation: null },
  {
    hex: "0x801C000B",
    causes: ["Redirection is needed and redirected location isn't a well known server."],
    mitigation: null,
  },
  { hex: "0x801C000C", causes: ["Discovery failed."], mitigation: null },
  { hex: "0x801C0013", causes: ["Tenant ID isn't found in the token."], mitigation: null },
  { hex: "0x801C0014", causes: ["User SID isn't found in the token."], mitigation: null },
  { hex: "0x801C0019", causes: ["The federation provider client configuration is empty"], mitigation: null },
  {
    hex: "0x801C001A",
    causes: ["The DRS endpoint in the federation provider client configuration is empty."],
    mitigation: null,
  },
  { hex: "0x801C001B", causes: ["The device certificate isn't found."], mitigation: null },
  { hex: "0x801C03F0", causes: ["There's no key registered for the user."], mitigation: null },
  { hex: "0x801C03F1", causes: ["There's no UPN in the token."], mitigation: null },
  { hex: "0x801C044C", causes: ["There's no core window for the current thread."], mitigation: null },
  // "0x801c004D" in the source: DSREG_NO_DEFAULT_ACCOUNT, a different code from 0x801C044D.
  {
    hex: "0x801C004D",
    causes: [
      "DSREG_NO_DEFAULT_ACCOUNT: NGC provisioning is unable to find the default WAM account to use to request Microsoft Entra token for provisioning. Unable to enroll a device to use a PIN for login.",
    ],
    mitigation: null,
  },
  {
    hex: "0xCAA30193",
    causes: [
      "HTTP 403 Request Forbidden: it means request left the device, however either Server, proxy or firewall generated this response.",
    ],
    mitigation: null,
  },
];

/** Every code of the article: first the codes with a mitigation, then those without, each in source order. */
export const windowsHelloErrors: readonly WindowsHelloError[] = [...withMitigation, ...withoutMitigation];
