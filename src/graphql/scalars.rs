//! JSON scalars with Authgear's names.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

macro_rules! json_scalar {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub serde_json::Value);

        $(#[$doc])*
        #[Scalar]
        impl ScalarType for $name {
            fn parse(value: Value) -> InputValueResult<Self> {
                value.into_json().map($name).map_err(|e| InputValueError::custom(e.to_string()))
            }

            fn to_value(&self) -> Value {
                Value::from_json(self.0.clone()).unwrap_or(Value::Null)
            }
        }
    };
}

json_scalar!(
    /// A user's standard attributes: a JSON object with OIDC claim names (`email`,
    /// `given_name`, `address`, ...).
    UserStandardAttributes
);
json_scalar!(
    /// A user's custom attributes: a JSON object whose keys are declared in the server config.
    UserCustomAttributes
);
json_scalar!(
    /// Claims of an identity: OIDC names (`email`, `phone_number`, `preferred_username`) and
    /// namespaced keys such as `https://authgear.com/claims/login_id/type`.
    IdentityClaims
);
json_scalar!(
    /// Sign-in with Ethereum accounts of a user: `{"accounts": [...]}`. Deprecated, as in
    /// Authgear: always empty.
    Web3Claims
);
json_scalar!(
    /// Claims of an authenticator: a JSON object with Authgear's namespaced keys, such as
    /// `https://authgear.com/claims/oob_otp/email`. Secrets are never among them.
    AuthenticatorClaims
);
json_scalar!(
    /// The whole audited event as JSON: `type`, `payload` and `context`.
    AuditLogData
);
json_scalar!(
    /// A fraud protection decision record as JSON: `decision`, `action`, `action_detail`,
    /// `triggered_warnings`, `ip_address`, `user_agent`, `timestamp`.
    FraudProtectionDecisionRecordData
);
json_scalar!(
    /// A JSON Web Key (RFC 7517), public parts only.
    JWK
);
json_scalar!(
    /// An event as a webhook receives it: Authgear's envelope `{id, seq, type, payload, context}`.
    EventEnvelope
);
json_scalar!(
    /// Any JSON value: the event given to a hook script, or what the script returned.
    HookValue
);
json_scalar!(
    /// A JSON value of a bulk import: a record (Authgear's import record), or the errors and
    /// warnings of one.
    UserImportValue
);
