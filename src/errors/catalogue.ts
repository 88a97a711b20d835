/**
 * PinDesk's own error codes. Every error a client can see has an entry: HTTP status, a message that
 * says what happened, and a mitigation that says what to do next.
 */
export interface CatalogueEntry {
  readonly status: number;
  readonly message: string;
  readonly mitigation: string;
}

const define = <const T extends Record<string, CatalogueEntry>>(entries: T): T => entries;

export const errorCatalogue = define({
  // --- PIN policy (reason codes, also returned inside policy violations) ---
  pinTooShort: {
    status: 400,
    message: "The PIN is shorter than the policy allows.",
    mitigation: "Choose a longer PIN; the minimum length is in the error details.",
  },
  pinTooLong: {
    status: 400,
    message: "The PIN is longer than the policy allows.",
    mitigation: "Choose a shorter PIN; the maximum length is in the error details.",
  },
  pinHasInvalidCharacter: {
    status: 400,
    message:
      "The PIN contains a character that cannot be used (spaces, letters with accents, emoji or control characters).",
    mitigation:
      "Use only digits, unaccented letters and the keyboard symbols ! \" # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \\ ] ^ _ ` { | } ~ that the policy allows.",
  },
  pinNeedsDigit: {
    status: 400,
    message: "The PIN must contain at least one digit.",
    mitigation: "Add a digit (0-9).",
  },
  pinNeedsLowercase: {
    status: 400,
    message: "The PIN must contain at least one lowercase letter.",
    mitigation: "Add a lowercase letter (a-z).",
  },
  pinNeedsUppercase: {
    status: 400,
    message: "The PIN must contain at least one uppercase letter.",
    mitigation: "Add an uppercase letter (A-Z).",
  },
  pinNeedsSpecial: {
    status: 400,
    message: "The PIN must contain at least one special character.",
    mitigation: "Add a symbol such as ! # $ % or @.",
  },
  pinDigitsNotAllowed: {
    status: 400,
    message: "The policy does not allow digits in a PIN.",
    mitigation: "Remove the digits.",
  },
  pinLowercaseNotAllowed: {
    status: 400,
    message: "The policy does not allow lowercase letters in a PIN.",
    mitigation: "Remove the lowercase letters.",
  },
  pinUppercaseNotAllowed: {
    status: 400,
    message: "The policy does not allow uppercase letters in a PIN.",
    mitigation: "Remove the uppercase letters.",
  },
  pinSpecialNotAllowed: {
    status: 400,
    message: "The policy does not allow special characters in a PIN.",
    mitigation: "Remove the symbols.",
  },
  pinRepeatsDigit: {
    status: 400,
    message: "The PIN is one digit repeated (like 1111).",
    mitigation: "Choose a PIN that mixes different digits.",
  },
  pinHasSequence: {
    status: 400,
    message: "The PIN is a sequence with a constant step (like 1234, 9876 or 9630).",
    mitigation: "Choose digits that do not follow a pattern.",
  },
  pinHasRepeatedGroup: {
    status: 400,
    message: "The PIN repeats a short group of digits (like 121212 or 123123).",
    mitigation: "Choose a PIN without a repeating group.",
  },
  pinTooCommon: {
    status: 400,
    message: "The PIN is on the list of the most commonly used PINs.",
    mitigation: "Choose a less predictable PIN.",
  },
  pinInHistory: {
    status: 400,
    message: "The PIN was used recently.",
    mitigation:
      "Choose a PIN you have not used before; the policy remembers your last PINs (count in the details).",
  },
  pinNotDigitsOnly: {
    status: 400,
    message: "This PIN may contain digits only.",
    mitigation: "Use only the digits 0-9.",
  },
  pinPolicyViolation: {
    status: 400,
    message: "The PIN does not meet the PIN policy.",
    mitigation: "Fix each reason listed in details.violations and try again.",
  },
  pinMismatch: {
    status: 400,
    message: "The PIN and its confirmation are different.",
    mitigation: "Type the same new PIN in both fields.",
  },

  // --- Verification and lockout ---
  invalidPin: {
    status: 401,
    message: "The user name or PIN is incorrect.",
    mitigation:
      "Check the user name and PIN and try again. After too many wrong PINs the PIN is locked; ask your help desk to unblock it.",
  },
  pinLocked: {
    status: 423,
    message: "The PIN is locked after too many wrong attempts.",
    mitigation:
      "Wait until lockedUntil and try again, or ask your help desk to unblock the PIN (it stays locked until an administrator unblocks it when lockedUntil is null).",
  },
  headersTooLarge: {
    status: 431,
    message: "The request's headers are too large.",
    mitigation:
      "Send fewer or shorter headers (a very long Authorization or Cookie header is the usual cause).",
  },
  concurrentChange: {
    status: 409,
    message: "Someone else changed the same record at the same moment, so this change was not saved.",
    mitigation: "Reload to see the current state, then make the change again if it is still needed.",
  },
  attemptsInProgress: {
    status: 429,
    message: "Other attempts to sign in as this user are being checked right now.",
    mitigation:
      "Try again in a second. Nothing is locked and this attempt was not counted; if it keeps happening, someone may be guessing this user's PIN: check the audit log.",
  },
  temporaryPinExpired: {
    status: 401,
    message: "The temporary PIN has expired.",
    mitigation: "Ask your help desk for a new temporary PIN, or use a recovery option on the sign-in page.",
  },
  pinChangeTokenInvalid: {
    status: 401,
    message: "The PIN change session is invalid, expired or already used.",
    mitigation: "Sign in again with your current or temporary PIN to start a new PIN change.",
  },
  noPin: {
    status: 409,
    message: "This user has no PIN yet.",
    mitigation: "Set a PIN for the user first (pindesk pin set, or an admin reset).",
  },
  pinNotLocked: {
    status: 409,
    message: "The PIN is not locked.",
    mitigation: "Nothing to unblock: the user can already sign in with the PIN.",
  },
  accountDisabled: {
    status: 403,
    message: "The account is disabled.",
    mitigation: "Ask an administrator to enable the account.",
  },

  // --- QR code + PIN method ---
  qrCodeInvalid: {
    status: 401,
    message: "This QR code is not valid.",
    mitigation:
      "Scan the badge again. If it still fails the code was replaced or removed: ask your help desk for a new badge or a temporary QR code.",
  },
  qrCodeExpired: {
    status: 401,
    message: "This QR code has expired.",
    mitigation: "Ask your help desk for a temporary QR code to sign in now, and for a new badge.",
  },
  qrCodePinMethodDisabled: {
    status: 403,
    message: "QR code sign-in is turned off for this user by the organisation's policy.",
    mitigation:
      "Sign in another way, or ask an administrator to enable the qrCodePin authentication method policy for you.",
  },
  qrCodePinMethodNotFound: {
    status: 404,
    message: "This user has no QR code + PIN method.",
    mitigation: "Create one first (PUT …/authentication/qrCodePinMethod).",
  },
  qrCodeNotFound: {
    status: 404,
    message: "This user has no QR code of that kind.",
    mitigation: "Create one with PATCH on the code's address.",
  },
  tooManyQRCodePinMethod: {
    status: 400,
    message:
      "There can be only one active QR code auth method for a user, please delete existing QR code auth method to create a new one.",
    mitigation:
      "Update the existing method's codes or PIN, or delete it first. A method whose QR codes have all expired can be replaced directly.",
  },
  standardQRCodeRequired: {
    status: 400,
    message: "Standard QR code is required for adding new QR code auth method.",
    mitigation:
      "Send standardQRCode with startDateTime and expireDateTime; add a temporary code afterwards if needed.",
  },
  invalidQrCodeLifetime: {
    status: 400,
    message:
      "The QR code's dates are outside the allowed range: a standard QR code is valid for 1 to 395 days, a temporary one for 1 to 12 hours.",
    mitigation:
      "A standard code lasts 1 to 395 days (policy default in standardQRCodeLifetimeInDays); a temporary code 1 to 12 hours; expireDateTime must be after startDateTime.",
  },
  qrCodeNotEditable: {
    status: 400,
    message:
      "Only the expireDateTime of a standard QR code can be changed; a temporary QR code cannot be edited.",
    mitigation: "Delete the temporary code and create a new one, or change only expireDateTime.",
  },

  // --- Portal sign-in, methods, recovery ---
  notSignedIn: {
    status: 401,
    message: "You are not signed in, or your session has ended.",
    mitigation: "Sign in again.",
  },
  csrfCheckFailed: {
    status: 403,
    message: "This request did not come from the PinDesk page.",
    mitigation: "Reload the page and try again.",
  },
  signInStepNotExpected: {
    status: 409,
    message: "That sign-in step is not the one expected now.",
    mitigation: "Reload the sign-in page and continue with the step it shows.",
  },
  signInStepUsed: {
    status: 409,
    message:
      "This sign-in step was already completed (perhaps in another tab or window), so it cannot be used again.",
    mitigation: "Start the sign-in again from your user name.",
  },
  methodAlreadyEnrolled: {
    status: 409,
    message: "This method is already set up for you, so it is not set up again during sign-in.",
    mitigation: "Start the sign-in again and present the method you already have.",
  },
  methodCheckFailed: {
    status: 401,
    message: "That did not match.",
    mitigation: "Try again; the number of tries left is in the details.",
  },
  methodLocked: {
    status: 423,
    message: "Too many wrong attempts with this method.",
    mitigation: "Wait until the time shown, or ask your help desk, who can unblock it straight away.",
  },
  methodNotFound: {
    status: 404,
    message: "No such authentication method for this user.",
    mitigation: "Reload the list of your methods.",
  },
  methodNotEnrolled: {
    status: 409,
    message: "Your sign-in needs a method you have not set up.",
    mitigation: "Set it up when the page offers it, or ask your help desk to set it up with you.",
  },
  lastMethodOfSet: {
    status: 409,
    message: "This is your only method of a kind your sign-in needs, so it cannot be removed.",
    mitigation: "Add another method of the same kind first, then remove this one.",
  },
  badgeAlreadyEnrolled: {
    status: 409,
    message: "This badge is already registered.",
    mitigation: "Use a different badge, or ask your help desk who it belongs to.",
  },
  webauthnFailed: {
    status: 400,
    message: "The security key or passkey could not be checked.",
    mitigation: "Try again, and touch the key when it blinks; if it keeps failing, use another method.",
  },
  pushNotAvailable: {
    status: 409,
    message: "You are not signed in anywhere else to approve this sign-in.",
    mitigation: "Use another method, or sign in on your other device first.",
  },
  pushDenied: {
    status: 401,
    message: "The sign-in was denied on your other device.",
    mitigation: "If that was not you, tell your help desk; otherwise start again.",
  },
  recoveryCodeInvalid: {
    status: 401,
    message: "The code is not correct or has expired.",
    mitigation: "Check the latest message we sent, or send a new code.",
  },
  recoveryRateLimited: {
    status: 429,
    message: "Too many codes requested.",
    mitigation:
      "Wait until the time shown before asking for another code, or contact your help desk, who can reset your PIN straight away.",
  },
  resendTooSoon: {
    status: 429,
    message: "A code was sent moments ago.",
    mitigation:
      "Wait for the countdown to finish before sending another code; check your spam folder meanwhile.",
  },
  emergencyAccessDisabled: {
    status: 403,
    message: "Emergency Access is not enabled by your organisation.",
    mitigation: "Use Forgot PIN, or contact your help desk.",
  },
  emergencyAnswersWrong: {
    status: 401,
    message: "One or more answers did not match.",
    mitigation:
      "Check spelling; capitals and extra spaces do not matter. The number of tries left is in the details.",
  },
  securityAnswersInvalid: {
    status: 400,
    message: "The security answers are not complete.",
    mitigation: "Answer the required number of different questions, each with at least 2 characters.",
  },
  recoveryLinkInvalid: {
    status: 401,
    message: "This recovery step has expired or was already used.",
    mitigation:
      "Start again from Forgot PIN or Emergency Access on the sign-in page. If your help desk sent you a link, ask them for a new one.",
  },
  recoveryTooManyFromAddress: {
    status: 429,
    message: "Too many PIN recovery requests came from your network in the last hour.",
    mitigation: "Wait until the time shown, or contact your help desk, who can reset your PIN straight away.",
  },
  setupLinkInvalid: {
    status: 401,
    message: "This link is not valid, has expired or was already used.",
    mitigation: "Ask for a new link (pindesk admin create prints one).",
  },

  // --- Users and policy management ---
  userNotFound: {
    status: 404,
    message: "No user has that id or user principal name.",
    mitigation: "Check the spelling, or list users with `pindesk user list`.",
  },
  userAlreadyExists: {
    status: 409,
    message: "A user with this user principal name already exists.",
    mitigation: "Use a different userPrincipalName, or update the existing user.",
  },
  invalidPolicy: {
    status: 400,
    message: "The policy settings are not valid.",
    mitigation: "Fix each setting listed in details.problems; the documented ranges are in the README.",
  },
  forbiddenTarget: {
    status: 403,
    message: "Your role does not allow this action on this user.",
    mitigation: "Ask a Privileged Authentication Administrator to do it.",
  },
  policyChangeForbidden: {
    status: 403,
    message:
      "Changing policies needs the Global Administrator or Authentication Policy Administrator role; your role can only read them.",
    mitigation:
      "Ask a Global Administrator or an Authentication Policy Administrator to make the change, or to give you that role.",
  },
  policyReadForbidden: {
    status: 403,
    message: "Your role cannot read the organisation's policies.",
    mitigation: "Ask a Global Administrator if you need to see them.",
  },
  nothingToUnblockNoPin: {
    status: 409,
    message: "This user has no PIN, so there is no lockout to clear.",
    mitigation: "Generate a temporary PIN (or use Reset PIN) and give it to the user.",
  },
  noRecoveryChannel: {
    status: 409,
    message: "This user has no email address or mobile number on file, so a recovery link cannot be sent.",
    mitigation:
      "Add their email address or mobile number to their account, or generate a temporary PIN and give it to them in person or by phone.",
  },
  channelNotSetUp: {
    status: 409,
    message: "This PinDesk is not set up to send codes this way.",
    mitigation:
      "Choose another way to confirm it is you, or contact your help desk: they can help you in now, and have it set up.",
  },
  deliveryUnavailable: {
    status: 409,
    message: "This PinDesk cannot send to any of this user's channels: delivery is not set up for them.",
    mitigation:
      "Ask whoever runs PinDesk to set up email (PINDESK_SMTP_HOST) or text messages (PINDESK_SMS_WEBHOOK_URL), or generate a temporary PIN and give it to the user in person or by phone.",
  },

  // --- API clients and tokens ---
  invalidToken: {
    status: 401,
    message: "The access token is missing, expired, or not signed by this PinDesk.",
    mitigation: "Request a new token from /oauth2/v2.0/token and send it as 'Authorization: Bearer <token>'.",
  },
  insufficientPermissions: {
    status: 403,
    message: "The access token does not carry the permission this operation needs.",
    mitigation:
      "Grant the permission named in details.required to the API client (pindesk app create --permission …) and request a new token.",
  },
  appNotFound: {
    status: 404,
    message: "No API client has that id.",
    mitigation: "List API clients with `pindesk app list`.",
  },
  unknownPermission: {
    status: 400,
    message: "That permission name is not known.",
    mitigation: "Use one of the permissions listed in details.known.",
  },

  // --- Request problems ---
  invalidRequest: {
    status: 400,
    message: "The request is not valid.",
    mitigation: "Fix the fields named in details and send the request again; the API reference is at /docs.",
  },
  malformedJson: {
    status: 400,
    message: "The request body is not valid JSON.",
    mitigation: "Send a JSON body with 'Content-Type: application/json'.",
  },
  requestTooLarge: {
    status: 413,
    message: "The request body is too large.",
    mitigation: "Send a smaller body; PINs and names are short.",
  },
  unsupportedMediaType: {
    status: 415,
    message: "The request body has a content type this endpoint does not accept.",
    mitigation:
      "Send 'Content-Type: application/json' (or application/x-www-form-urlencoded for the token endpoint).",
  },
  notFound: {
    status: 404,
    message: "There is nothing at this address.",
    mitigation: "Check the URL; the API reference is at /docs.",
  },
  methodNotAllowed: {
    status: 405,
    message: "This address does not accept that HTTP method.",
    mitigation: "Check the API reference at /docs.",
  },
  tooManyRequests: {
    status: 429,
    message: "Too many requests.",
    mitigation: "Wait a moment (see the Retry-After header) and try again.",
  },
  serviceUnavailable: {
    status: 503,
    message: "PinDesk cannot reach its database.",
    mitigation: "Check that the database is running and PINDESK_DATABASE_URL is right; then retry.",
  },
  internalError: {
    status: 500,
    message: "Something went wrong inside PinDesk.",
    mitigation:
      "Try again. If it keeps happening, give your administrator the request id; the server log has the details.",
  },
});

export type ErrorCode = keyof typeof errorCatalogue;

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(errorCatalogue, code);
