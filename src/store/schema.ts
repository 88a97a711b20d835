import type { Generated } from "kysely";

/** Times are epoch milliseconds in BIGINT columns; booleans are 0/1 integers (same on SQLite and PostgreSQL). */
export interface UsersTable {
  id: string;
  user_principal_name: string;
  /** Lower-cased UPN: makes uniqueness and lookups case-insensitive on both databases. */
  upn_key: string;
  display_name: string;
  mail: string | null;
  mobile_phone: string | null;
  account_enabled: number;
  /** JSON array of directory role names. */
  roles: string;
  created_at: number;
  updated_at: number;
  last_sign_in_at: number | null;
  /** Accent- and case-folded display name and mail (store/search-keys.ts), for search. */
  name_key: string;
  mail_key: string | null;
  /** Copied from the PIN credential by triggers: 0 no PIN, 1 set, 2 must be changed (temporary or marked). */
  pin_flag: Generated<number>;
  pin_changed_at: number | null;
}

/** The words of each user's name and user name, for word-prefix search ("locked" finds "Lee Locked"). */
export interface UserSearchTokensTable {
  user_id: string;
  token: string;
}

export interface PinCredentialsTable {
  user_id: string;
  hash: string;
  is_temporary: number;
  temporary_expires_at: number | null;
  must_change_reason: string | null;
  must_change_at: number | null;
  must_change_by: string | null;
  changed_at: number;
  created_at: number;
  /** PIN policy version the PIN was last checked against (null before it was recorded). */
  policy_version?: number | null;
  /** Keyed tag of the PIN's profile (length, classes, patterns), for re-checking it against a new policy. */
  profile_tag?: string | null;
}

export interface LockoutCountersTable {
  /** "pin:<userId>" for a user's PIN; other kinds of secret get their own prefix. */
  subject: string;
  failed_count: number;
  lock_count: number;
  locked_at: number | null;
  /** null while locked_at is set means locked until an administrator unblocks. */
  locked_until: number | null;
  last_failed_at: number | null;
  /** Guesses reserved and still being evaluated (see lockout-counters.ts). */
  pending?: number;
  pending_at?: number | null;
}

export interface PinHistoryTable {
  id: string;
  user_id: string;
  hash: string;
  created_at: number;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  actor: string;
  target_user_id: string | null;
  target_upn: string | null;
  action: string;
  outcome: string;
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: string | null;
}

export interface ApiClientsTable {
  id: string;
  name: string;
  secret_hash: string;
  permissions: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
}

export interface PoliciesTable {
  name: string;
  version: number;
  body: string;
  created_at: number;
  created_by: string;
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
  retired_at: number | null;
}

export interface PinChangeTokensTable {
  token_hash: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface QrPinMethodsTable {
  user_id: string;
  created_at: number;
  updated_at: number;
}

export type QrCodeKind = "standard" | "temporary";

export interface QrCodesTable {
  id: string;
  user_id: string;
  kind: QrCodeKind;
  /** SHA-256 (hex) of the code's 256-bit random secret. */
  secret_hash: string;
  start_at: number;
  expire_at: number;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

export type AuthMethodType = "totp" | "webauthn" | "rfid" | "email" | "sms" | "push";

export interface AuthMethodsTable {
  id: string;
  user_id: string;
  type: AuthMethodType;
  name: string;
  secret_sealed: string | null;
  lookup_hash: string | null;
  /** JSON: type-specific public data (WebAuthn public key and counter, email address, phone number). */
  data: string;
  verified: number;
  /** TOTP: the last accepted time step, so a code is never accepted twice. */
  last_step: number | null;
  created_at: number;
  last_used_at: number | null;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  stage: "partial" | "full";
  /** JSON array of the method types presented so far. */
  completed: string;
  challenge: string | null;
  csrf_hash: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
  revoked_at: number | null;
}

export interface PushRequestsTable {
  id: string;
  user_id: string;
  session_hash: string;
  number: number;
  status: "pending" | "approved" | "denied" | "expired";
  created_at: number;
  expires_at: number;
  decided_at: number | null;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  channel: "email" | "sms";
  method_id: string | null;
  outbox_id: string | null;
  attempts: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export type OutboxStatus = "queued" | "sending" | "accepted" | "failed" | "expired";

export interface OutboxTable {
  id: string;
  user_id: string | null;
  channel: "email" | "sms";
  destination: string;
  destination_masked: string;
  purpose: string;
  subject: string;
  body_sealed: string | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number | null;
  locked_until: number | null;
  last_error: string | null;
  provider_message_id: string | null;
  created_at: number;
  updated_at: number;
  settled_at: number | null;
  /** After this the content is useless (an expired code): the message is marked expired, not sent. */
  expires_at?: number | null;
  /** 1: stands in for a message to an unknown user name (see outbox.enqueueStandIn); never sent. */
  stand_in: number;
}

/** The last answer a channel's provider gave a real message (see outbox.ts, stand-ins). */
export interface ChannelAnswersTable {
  channel: "email" | "sms";
  /** 1: accepted; 0: a failure worth retrying, with its reason. */
  accepted: number;
  reason: string | null;
  /** How long the provider took to answer, in milliseconds. */
  ms: number;
  at: number;
}

export interface RateEventsTable {
  id: string;
  bucket: string;
  at: number;
}

export interface RecoveryDecoysTable {
  id: string;
  subject: string;
  code_hash: string;
  channel: "email" | "sms";
  attempts: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface SecurityAnswersTable {
  user_id: string;
  question_id: string;
  answer_hash: string;
  created_at: number;
}

export interface OneTimeLinksTable {
  token_hash: string;
  purpose: string;
  user_id: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Database {
  users: UsersTable;
  pin_credentials: PinCredentialsTable;
  lockout_counters: LockoutCountersTable;
  pin_history: PinHistoryTable;
  audit_events: AuditEventsTable;
  api_clients: ApiClientsTable;
  policies: PoliciesTable;
  signing_keys: SigningKeysTable;
  pin_change_tokens: PinChangeTokensTable;
  qr_pin_methods: QrPinMethodsTable;
  qr_codes: QrCodesTable;
  auth_methods: AuthMethodsTable;
  sessions: SessionsTable;
  push_requests: PushRequestsTable;
  recovery_codes: RecoveryCodesTable;
  outbox: OutboxTable;
  channel_answers: ChannelAnswersTable;
  security_answers: SecurityAnswersTable;
  one_time_links: OneTimeLinksTable;
  user_search_tokens: UserSearchTokensTable;
  rate_events: RateEventsTable;
  recovery_decoys: RecoveryDecoysTable;
}

export type { Generated };
