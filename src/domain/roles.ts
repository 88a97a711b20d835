/**
 * Directory roles and who may manage whose authentication methods (Microsoft Entra's rules for
 * resetting credentials: a lesser administrator cannot reset a more privileged user).
 */
export const DIRECTORY_ROLES = [
  "Global Administrator",
  "Privileged Authentication Administrator",
  "Privileged Role Administrator",
  "Authentication Administrator",
  "Authentication Policy Administrator",
  "Helpdesk Administrator",
  "Password Administrator",
  "User Administrator",
  "Groups Administrator",
  "Security Administrator",
  "Security Reader",
  "Global Reader",
  "Directory Readers",
  "Guest Inviter",
  "Message Center Reader",
  "Reports Reader",
  "Usage Summary Reports Reader",
] as const;

export type DirectoryRole = (typeof DIRECTORY_ROLES)[number];

export const isDirectoryRole = (value: string): value is DirectoryRole =>
  (DIRECTORY_ROLES as readonly string[]).includes(value);

/** Roles that may manage anyone's methods, administrators included. */
const UNRESTRICTED: readonly string[] = ["Global Administrator", "Privileged Authentication Administrator"];

/** For each restricted administrator role: the target roles it may act on (a user with no role is always allowed). */
const RESTRICTED_TARGETS: Readonly<Record<string, readonly string[]>> = {
  "Authentication Administrator": [
    "Authentication Administrator",
    "Directory Readers",
    "Guest Inviter",
    "Message Center Reader",
    "Password Administrator",
    "Reports Reader",
    "Usage Summary Reports Reader",
  ],
  "Helpdesk Administrator": [
    "Directory Readers",
    "Guest Inviter",
    "Helpdesk Administrator",
    "Message Center Reader",
    "Password Administrator",
    "Reports Reader",
    "Usage Summary Reports Reader",
  ],
};

const READERS: readonly string[] = ["Global Reader", "Security Administrator"];

export const canManageAuthenticationMethods = (
  actorRoles: readonly string[],
  targetRoles: readonly string[],
): boolean => {
  if (actorRoles.some((r) => UNRESTRICTED.includes(r))) return true;
  return actorRoles.some((role) => {
    const allowed = RESTRICTED_TARGETS[role];
    return allowed !== undefined && targetRoles.every((t) => allowed.includes(t));
  });
};

export const canReadAuthenticationMethods = (
  actorRoles: readonly string[],
  targetRoles: readonly string[],
): boolean =>
  actorRoles.some((r) => READERS.includes(r)) || canManageAuthenticationMethods(actorRoles, targetRoles);

/**
 * Organisation-wide policies (PIN complexity, lockout, QR method, authentication sets, recovery,
 * emergency access): Entra gives writing them to the Authentication Policy Administrator, not to the
 * administrators who reset other people's credentials.
 */
const POLICY_WRITERS: readonly string[] = ["Global Administrator", "Authentication Policy Administrator"];
const POLICY_READERS: readonly string[] = [
  ...POLICY_WRITERS,
  ...UNRESTRICTED,
  ...Object.keys(RESTRICTED_TARGETS),
  ...READERS,
  "Security Reader",
];

export const canManagePolicies = (actorRoles: readonly string[]): boolean =>
  actorRoles.some((r) => POLICY_WRITERS.includes(r));

export const canReadPolicies = (actorRoles: readonly string[]): boolean =>
  actorRoles.some((r) => POLICY_READERS.includes(r));

/** Who may open the admin portal at all (each page and action then checks its own rule). */
export const isAdministrator = (roles: readonly string[]): boolean =>
  roles.some(
    (r) =>
      UNRESTRICTED.includes(r) ||
      r in RESTRICTED_TARGETS ||
      READERS.includes(r) ||
      POLICY_READERS.includes(r),
  );
