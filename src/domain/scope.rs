//! The scopes of the Admin API: one enum, the only list of them. Tokens carry them as
//! strings (`user:read`), GraphQL fields declare them as strings (async-graphql's
//! `requires_scopes` takes a literal), and both are parsed into [`AdminScope`].

use std::fmt;
use std::str::FromStr;

/// A scope of the Admin API: what a token may read or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdminScope {
    /// `user:read`.
    UserRead,
    /// `user:write`.
    UserWrite,
    /// `role:read`.
    RoleRead,
    /// `role:write`.
    RoleWrite,
    /// `group:read`.
    GroupRead,
    /// `group:write`.
    GroupWrite,
    /// `audit-log:read`.
    AuditLogRead,
    /// `application:read`.
    ApplicationRead,
    /// `application:write`.
    ApplicationWrite,
    /// `resource:read`.
    ResourceRead,
    /// `resource:write`.
    ResourceWrite,
    /// `hook:read`.
    HookRead,
    /// `hook:write`.
    HookWrite,
    /// `user:export-password-hashes`: user exports that carry password hashes.
    UserExportPasswordHashes,
}

impl AdminScope {
    /// Every scope, in the order the built-in Admin API resource lists them.
    pub const ALL: [Self; 14] = [
        Self::UserRead,
        Self::UserWrite,
        Self::RoleRead,
        Self::RoleWrite,
        Self::GroupRead,
        Self::GroupWrite,
        Self::AuditLogRead,
        Self::ApplicationRead,
        Self::ApplicationWrite,
        Self::ResourceRead,
        Self::ResourceWrite,
        Self::HookRead,
        Self::HookWrite,
        Self::UserExportPasswordHashes,
    ];

    /// The name of every scope, in the order of [`ALL`](Self::ALL).
    pub const NAMES: [&'static str; 14] = {
        let mut out = [""; 14];
        let mut i = 0;
        while i < out.len() {
            out[i] = Self::ALL[i].as_str();
            i += 1;
        }
        out
    };

    /// Every scope's name with its description, in the order of [`ALL`](Self::ALL).
    pub const DESCRIBED: [(&'static str, &'static str); 14] = {
        let mut out = [("", ""); 14];
        let mut i = 0;
        while i < out.len() {
            out[i] = (Self::ALL[i].as_str(), Self::ALL[i].description());
            i += 1;
        }
        out
    };

    /// The scope as tokens and `requires_scopes` spell it, e.g. `user:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserRead => "user:read",
            Self::UserWrite => "user:write",
            Self::RoleRead => "role:read",
            Self::RoleWrite => "role:write",
            Self::GroupRead => "group:read",
            Self::GroupWrite => "group:write",
            Self::AuditLogRead => "audit-log:read",
            Self::ApplicationRead => "application:read",
            Self::ApplicationWrite => "application:write",
            Self::ResourceRead => "resource:read",
            Self::ResourceWrite => "resource:write",
            Self::HookRead => "hook:read",
            Self::HookWrite => "hook:write",
            Self::UserExportPasswordHashes => "user:export-password-hashes",
        }
    }

    /// What the scope allows, as the built-in Admin API resource describes it.
    pub const fn description(self) -> &'static str {
        match self {
            Self::UserRead => "Read users, their identities, authenticators and sessions",
            Self::UserWrite => "Create, change and delete users and their identities",
            Self::RoleRead => "Read roles and who has them",
            Self::RoleWrite => "Create, change and delete roles and assign them",
            Self::GroupRead => "Read groups and their members",
            Self::GroupWrite => "Create, change and delete groups and their members",
            Self::AuditLogRead => "Read the audit log",
            Self::ApplicationRead => "Read applications (OAuth clients)",
            Self::ApplicationWrite => "Create, change and delete applications and their secrets",
            Self::ResourceRead => "Read API resources and their scopes",
            Self::ResourceWrite => "Create, change and delete API resources, scopes and their grants",
            Self::HookRead => "Read webhook deliveries and hook scripts",
            Self::HookWrite => "Redeliver webhook events and manage hook scripts",
            Self::UserExportPasswordHashes => "Export users with their password hashes (with user:read)",
        }
    }

    /// The scope named `name` exactly (case matters), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The names of `scopes`, in their order (for service functions that take names).
    pub fn names(scopes: &[Self]) -> Vec<String> {
        scopes.iter().map(|s| s.as_str().to_owned()).collect()
    }
}

/// A string that names no Admin API scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAdminScope(pub String);

impl fmt::Display for UnknownAdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an Admin API scope", self.0)
    }
}

impl std::error::Error for UnknownAdminScope {}

impl FromStr for AdminScope {
    type Err = UnknownAdminScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownAdminScope(s.to_owned()))
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AdminScope;

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for scope in AdminScope::ALL {
            assert_eq!(scope.as_str().parse::<AdminScope>(), Ok(scope));
            assert_eq!(scope.to_string(), scope.as_str());
            assert!(!scope.description().is_empty());
        }
        let names: std::collections::BTreeSet<&str> = AdminScope::NAMES.into_iter().collect();
        assert_eq!(names.len(), AdminScope::ALL.len(), "two scopes share a name");
    }

    #[test]
    fn unknown_and_differently_spelled_names_are_refused() {
        for name in ["", "user", "user:READ", "User:read", " user:read", "user:read ", "audit_log:read"] {
            assert!(name.parse::<AdminScope>().is_err(), "{name:?} parsed");
        }
    }
}
