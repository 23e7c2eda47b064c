//! Every machine-readable reason an error carries (`extensions.reason` in the Admin API,
//! `reason` in the service error): one list, so that a client can match on them and a
//! new error does not invent a near-duplicate. The GraphQL `extensions.code` values are
//! in `graphql/error.rs`, the one adapter that sets them.

/// `ApplicationHasNoSecrets`.
pub const APPLICATION_HAS_NO_SECRETS: &str = "ApplicationHasNoSecrets";
/// `ApplicationNotFound`.
pub const APPLICATION_NOT_FOUND: &str = "ApplicationNotFound";
/// `DeviceTokenNotFound`.
pub const DEVICE_TOKEN_NOT_FOUND: &str = "DeviceTokenNotFound";
/// `AuthenticatorNotFound`.
pub const AUTHENTICATOR_NOT_FOUND: &str = "AuthenticatorNotFound";
/// `AuthorizationNotFound`.
pub const AUTHORIZATION_NOT_FOUND: &str = "AuthorizationNotFound";
/// `BlockedByFraudProtection`: the SMS fraud protection blocked a message.
pub const BLOCKED_BY_FRAUD_PROTECTION: &str = "BlockedByFraudProtection";
/// `BuiltinResource`.
pub const BUILTIN_RESOURCE: &str = "BuiltinResource";
/// `Duplicate`.
pub const DUPLICATE: &str = "Duplicate";
/// `PasskeyRejected`: a passkey ceremony failed (expired, used, or not verified).
pub const PASSKEY_REJECTED: &str = "PasskeyRejected";
/// `DuplicatedAuthenticator`.
pub const DUPLICATED_AUTHENTICATOR: &str = "DuplicatedAuthenticator";
/// `DuplicatedClientID`.
pub const DUPLICATED_CLIENT_ID: &str = "DuplicatedClientID";
/// `DuplicatedHookScript`: a hook script of that name exists.
pub const DUPLICATED_HOOK_SCRIPT: &str = "DuplicatedHookScript";
/// `DuplicatedIdentity`.
pub const DUPLICATED_IDENTITY: &str = "DuplicatedIdentity";
/// `DuplicatedResource`.
pub const DUPLICATED_RESOURCE: &str = "DuplicatedResource";
/// `DuplicatedScope`.
pub const DUPLICATED_SCOPE: &str = "DuplicatedScope";
/// `GetUsersInvalidArgument`.
pub const GET_USERS_INVALID_ARGUMENT: &str = "GetUsersInvalidArgument";
/// `GroupDuplicateKey`.
pub const GROUP_DUPLICATE_KEY: &str = "GroupDuplicateKey";
/// `GroupNotFound`.
pub const GROUP_NOT_FOUND: &str = "GroupNotFound";
/// `IdentityNotFound`.
pub const IDENTITY_NOT_FOUND: &str = "IdentityNotFound";
/// `IdentityTypeMismatch`.
pub const IDENTITY_TYPE_MISMATCH: &str = "IdentityTypeMismatch";
/// `InvalidAccountValidPeriod`.
pub const INVALID_ACCOUNT_VALID_PERIOD: &str = "InvalidAccountValidPeriod";
/// `InvalidAlgorithm`.
pub const INVALID_ALGORITHM: &str = "InvalidAlgorithm";
/// `InvalidApplication`.
pub const INVALID_APPLICATION: &str = "InvalidApplication";
/// `InvalidAuthenticatorDefinition`.
pub const INVALID_AUTHENTICATOR_DEFINITION: &str = "InvalidAuthenticatorDefinition";
/// `InvalidClaimName`.
pub const INVALID_CLAIM_NAME: &str = "InvalidClaimName";
/// `InvalidClientID`.
pub const INVALID_CLIENT_ID: &str = "InvalidClientID";
/// `InvalidCredentials`.
pub const INVALID_CREDENTIALS: &str = "InvalidCredentials";
/// `InvalidCursor`.
pub const INVALID_CURSOR: &str = "InvalidCursor";
/// `InvalidCustomAttributes`.
pub const INVALID_CUSTOM_ATTRIBUTES: &str = "InvalidCustomAttributes";
/// `InvalidDisabledStatus`.
pub const INVALID_DISABLED_STATUS: &str = "InvalidDisabledStatus";
/// `InvalidEmail`.
pub const INVALID_EMAIL: &str = "InvalidEmail";
/// `InvalidGrantType`.
pub const INVALID_GRANT_TYPE: &str = "InvalidGrantType";
/// `InvalidID`.
pub const INVALID_ID: &str = "InvalidID";
/// `InvalidKey`.
pub const INVALID_KEY: &str = "InvalidKey";
/// `InvalidLifetime`.
pub const INVALID_LIFETIME: &str = "InvalidLifetime";
/// `InvalidLoginID`.
pub const INVALID_LOGIN_ID: &str = "InvalidLoginID";
/// `InvalidLoginIDKey`.
pub const INVALID_LOGIN_ID_KEY: &str = "InvalidLoginIDKey";
/// `InvalidMFAGracePeriod`.
pub const INVALID_MFA_GRACE_PERIOD: &str = "InvalidMFAGracePeriod";
/// `InvalidOrigin`.
pub const INVALID_ORIGIN: &str = "InvalidOrigin";
/// `InvalidPagination`.
pub const INVALID_PAGINATION: &str = "InvalidPagination";
/// `InvalidPhoneNumber`.
pub const INVALID_PHONE_NUMBER: &str = "InvalidPhoneNumber";
/// `InvalidRange`: a time range is empty or too long.
pub const INVALID_RANGE: &str = "InvalidRange";
/// `InvalidRedirectURI`.
pub const INVALID_REDIRECT_URI: &str = "InvalidRedirectURI";
/// `InvalidResourceURI`.
pub const INVALID_RESOURCE_URI: &str = "InvalidResourceURI";
/// `InvalidScript`: a hook script does not compile (the message gives line and column), or
/// is too large.
pub const INVALID_SCRIPT: &str = "InvalidScript";
/// `InvalidScriptName`: not letters, digits and dots ending in `.ts` or `.js`.
pub const INVALID_SCRIPT_NAME: &str = "InvalidScriptName";
/// `HookScriptNotFound`.
pub const HOOK_SCRIPT_NOT_FOUND: &str = "HookScriptNotFound";
/// `InvalidScope`.
pub const INVALID_SCOPE: &str = "InvalidScope";
/// `InvalidStandardAttributes`.
pub const INVALID_STANDARD_ATTRIBUTES: &str = "InvalidStandardAttributes";
/// `InvalidText`.
pub const INVALID_TEXT: &str = "InvalidText";
/// `InvalidUsername`.
pub const INVALID_USERNAME: &str = "InvalidUsername";
/// `PasswordAuthenticatorNotFound`.
pub const PASSWORD_AUTHENTICATOR_NOT_FOUND: &str = "PasswordAuthenticatorNotFound";
/// `PasswordPolicyViolated`.
pub const PASSWORD_POLICY_VIOLATED: &str = "PasswordPolicyViolated";
/// `PasswordReused`: the new password repeats one in the password history.
pub const PASSWORD_REUSED: &str = "PasswordReused";
/// `PrivilegeEscalation`.
pub const PRIVILEGE_ESCALATION: &str = "PrivilegeEscalation";
/// `RateLimited`.
pub const RATE_LIMITED: &str = "RateLimited";
/// `ReauthenticationFailed`: the confirmation of a sensitive action was wrong.
pub const REAUTHENTICATION_FAILED: &str = "ReauthenticationFailed";
/// `RemoveLastIdentity`.
pub const REMOVE_LAST_IDENTITY: &str = "RemoveLastIdentity";
/// `ReservedKey`.
pub const RESERVED_KEY: &str = "ReservedKey";
/// `ResetCodeInvalid`.
pub const RESET_CODE_INVALID: &str = "ResetCodeInvalid";
/// `ResourceNotFound`.
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
/// `ResourceNotLinked`.
pub const RESOURCE_NOT_LINKED: &str = "ResourceNotLinked";
/// `RoleDuplicateKey`.
pub const ROLE_DUPLICATE_KEY: &str = "RoleDuplicateKey";
/// `RoleNotFound`.
pub const ROLE_NOT_FOUND: &str = "RoleNotFound";
/// `ScopeNotFound`.
pub const SCOPE_NOT_FOUND: &str = "ScopeNotFound";
/// `SecretNotFound`.
pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
/// `OTPCodeInvalid`: a one-time code is wrong, expired or used.
pub const OTP_CODE_INVALID: &str = "OTPCodeInvalid";
/// `SendPasswordInvalid`: `sendPassword` without a password or an email address to send to.
pub const SEND_PASSWORD_INVALID: &str = "SendPasswordInvalid";
/// `SessionNotFound`.
pub const SESSION_NOT_FOUND: &str = "SessionNotFound";
/// `TOTPEnrolmentInvalid`.
pub const TOTP_ENROLMENT_INVALID: &str = "TOTPEnrolmentInvalid";
/// `TooManyIDs`.
pub const TOO_MANY_I_DS: &str = "TooManyIDs";
/// `TooManyItems`.
pub const TOO_MANY_ITEMS: &str = "TooManyItems";
/// `TooManySecrets`.
pub const TOO_MANY_SECRETS: &str = "TooManySecrets";
/// `UnsupportedAuthenticatorType`.
pub const UNSUPPORTED_AUTHENTICATOR_TYPE: &str = "UnsupportedAuthenticatorType";
/// `WebhookEventNotFound`: no webhook delivery of this event exists.
pub const WEBHOOK_EVENT_NOT_FOUND: &str = "WebhookEventNotFound";
/// `HookDisallowed`: a blocking hook answered `is_allowed: false`.
pub const HOOK_DISALLOWED: &str = "HookDisallowed";
/// `HookDeliveryTimeout`: a blocking hook did not answer in time.
pub const HOOK_DELIVERY_TIMEOUT: &str = "HookDeliveryTimeout";
/// `HookDeliveryFailed`: a blocking hook could not be reached, answered non-2xx, or threw.
pub const HOOK_DELIVERY_FAILED: &str = "HookDeliveryFailed";
/// `HookInvalidResponse`: a blocking hook's answer is not a valid response for its event.
pub const HOOK_INVALID_RESPONSE: &str = "HookInvalidResponse";
/// `InvalidJWTMutations`: a hook removed or changed token claims (it may only add).
pub const INVALID_JWT_MUTATIONS: &str = "InvalidJWTMutations";
/// `UserDisabled`.
pub const USER_DISABLED: &str = "UserDisabled";
/// `UserIsAnonymized`: an anonymized user cannot be changed, only deleted.
pub const USER_IS_ANONYMIZED: &str = "UserIsAnonymized";
/// `InvalidAccountStatusTransition`: the user's account status does not allow the
/// change (e.g. unscheduling a deletion that is not scheduled).
pub const INVALID_ACCOUNT_STATUS_TRANSITION: &str = "InvalidAccountStatusTransition";
/// `UserNotFound`.
pub const USER_NOT_FOUND: &str = "UserNotFound";
/// `UsernameReserved`.
pub const USERNAME_RESERVED: &str = "UsernameReserved";
/// `InsufficientScope`.
pub const INSUFFICIENT_SCOPE: &str = "InsufficientScope";
/// `QueryTooComplex`.
pub const QUERY_TOO_COMPLEX: &str = "QueryTooComplex";
/// `InternalError`.
pub const INTERNAL_ERROR: &str = "InternalError";
/// `InvalidCharacter`.
pub const INVALID_CHARACTER: &str = "InvalidCharacter";
/// `Unauthenticated`.
pub const UNAUTHENTICATED: &str = "Unauthenticated";
/// `InvalidImportRecord`: an import record that cannot be read or applied.
pub const INVALID_IMPORT_RECORD: &str = "InvalidImportRecord";
/// `InvalidPasswordHash`: an imported password hash of an unknown or malformed format.
pub const INVALID_PASSWORD_HASH: &str = "InvalidPasswordHash";
/// `UserImportNotFound`.
pub const USER_IMPORT_NOT_FOUND: &str = "UserImportNotFound";
/// `InvalidUserImport`: import options that cannot be used.
pub const INVALID_USER_IMPORT: &str = "InvalidUserImport";
/// `ValidationFailed`: a REST request body does not match its schema (Authgear's name).
pub const VALIDATION_FAILED: &str = "ValidationFailed";
/// `UserExportNonUniqueFieldNames`: two CSV columns of an export share a header.
pub const USER_EXPORT_NON_UNIQUE_FIELD_NAMES: &str = "UserExportNonUniqueFieldNames";
/// `TaskNotFound`: no such export (or it has expired), as Authgear names it.
pub const TASK_NOT_FOUND: &str = "TaskNotFound";
/// `InvalidDownloadLink`: an export download link that is tampered with, or has expired.
pub const INVALID_DOWNLOAD_LINK: &str = "InvalidDownloadLink";
/// `DeletionByEndUserDisabled`: the project does not let users delete their own accounts
/// (`account_deletion.scheduled_by_end_user_enabled` is off).
pub const DELETION_BY_END_USER_DISABLED: &str = "DeletionByEndUserDisabled";
