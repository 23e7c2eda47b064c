//! One small handle per area: `services.users().create(…)`, `services.oauth().refresh(…)`.
//! A handle borrows [`Services`]; the area's methods are defined on it in the area's
//! files, so a method's receiver says which area it belongs to.

use crate::service::Services;

macro_rules! handles {
    ($($(#[$doc:meta])* $accessor:ident => $name:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy)]
            pub struct $name<'a>(&'a Services);

            impl std::ops::Deref for $name<'_> {
                type Target = Services;
                fn deref(&self) -> &Services {
                    self.0
                }
            }
        )*

        impl Services {
            $(
                $(#[$doc])*
                pub fn $accessor(&self) -> $name<'_> {
                    $name(self)
                }
            )*
        }
    };
}

handles! {
    /// Users: create, update, delete, disable, passwords, verification, search.
    users => Users;
    /// Identities (login IDs) of users.
    identities => Identities;
    /// Authenticators (passwords, email and SMS codes, TOTP) of users, and their MFA grace
    /// period.
    authenticators => Authenticators;
    /// Roles and groups, and their links to users and to each other.
    roles_groups => RolesGroups;
    /// Applications (OAuth clients), their secrets and the cache of them.
    applications => Applications;
    /// API resources, their scopes and the clients linked to them.
    resources => Resources;
    /// The audit log as the Admin API reads it.
    audit_logs => AuditLogs;
    /// The SMS fraud protection's decision records and overview, as the Admin API reads them.
    fraud_protection => FraudProtection;
    /// Signing keys: loading, rotation, and the Admin API's own tokens.
    signing_keys => SigningKeys;
    /// Sessions as the Admin API sees them.
    sessions => Sessions;
    /// Authorizations (consents) granted by users to applications.
    authorizations => Authorizations;
    /// Webhook deliveries: the delivery worker's claims and outcomes, the log, redelivery.
    webhooks => Webhooks;
    /// Hook scripts managed through the Admin API.
    hook_scripts => HookScripts;
    /// Bulk user imports: jobs, their records and outcomes.
    imports => Imports;
    /// User exports: requests, signed download links, the streamed records.
    user_exports => UserExports;
    /// Batch look-ups by ID for the GraphQL data loaders.
    lookups => Lookups;
    /// The OAuth and OpenID Connect flows: authorize, grants, claims, introspection,
    /// revocation.
    oauth => OAuth;
    /// End-user accounts: login, signup, browser sessions, settings, password reset,
    /// rate limits, mail.
    account => Account;
    /// Background work: clean-up, due deletions, following other processes' changes.
    maintenance => Maintenance;
}
