/**
 * What a QR code on a badge carries: a versioned string with the user's UPN (so a device can greet the
 * person before the PIN), the code's id, and a 256-bit secret. Pure: generation of the secret is the
 * caller's (crypto) business.
 *
 *   pindesk:qr:1:<code id>:<secret, base64url>:<UPN, percent-encoded>
 */
export const QR_CONTENT_VERSION = 1;
const PREFIX = "pindesk:qr:";

export interface QrContent {
  readonly version: number;
  readonly codeId: string;
  readonly secret: string;
  readonly userPrincipalName: string;
}

export const formatQrContent = (content: Omit<QrContent, "version">): string =>
  `${PREFIX}${QR_CONTENT_VERSION}:${content.codeId}:${content.secret}:${encodeURIComponent(content.userPrincipalName)}`;

const parseDecoded = (text: string): QrContent | null => {
  if (!text.startsWith(PREFIX)) return null;
  const parts = text.slice(PREFIX.length).split(":");
  if (parts.length !== 4) return null;
  const [version, codeId, secret, upn] = parts as [string, string, string, string];
  if (version !== String(QR_CONTENT_VERSION)) return null;
  if (!/^[0-9a-f-]{36}$/i.test(codeId) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return null;
  let userPrincipalName: string;
  try {
    userPrincipalName = decodeURIComponent(upn);
  } catch {
    return null;
  }
  if (userPrincipalName.length === 0 || userPrincipalName.length > 256) return null;
  return { version: QR_CONTENT_VERSION, codeId: codeId.toLowerCase(), secret, userPrincipalName };
};

/**
 * Reads what a scanner produced: the decoded string itself, or its base64 (Graph's rawContent), with
 * stray whitespace from keyboard-wedge scanners trimmed. Null when it is not a PinDesk QR code.
 */
export const parseQrContent = (scanned: string): QrContent | null => {
  const text = scanned.trim();
  if (text.length === 0 || text.length > 2048) return null;
  const direct = parseDecoded(text);
  if (direct) return direct;
  if (!/^[A-Za-z0-9+/=_-]+$/.test(text)) return null;
  return parseDecoded(Buffer.from(text, "base64").toString("utf8").trim());
};
