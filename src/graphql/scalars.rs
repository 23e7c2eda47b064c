//! JSON scalars with Authgear's names.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A JSON value as a GraphQL value, converted in one walk (async-graphql's `from_json`
/// takes the value by move and goes through serde's deserializer).
pub fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.clone()),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(json_value).collect()),
        serde_json::Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (async_graphql::Name::new(k), json_value(v))).collect())
        }
    }
}

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
                json_value(&self.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_converts_as_async_graphql_converts_it() {
        let json = serde_json::json!({
            "email": "a@example.com", "email_verified": false, "n": 12, "x": -1.5, "none": null,
            "address": {"street_address": "1 Road", "lines": ["a", {"b": [true, 3]}]}, "empty": {}, "list": []
        });
        assert_eq!(json_value(&json), Value::from_json(json.clone()).unwrap());
        assert_eq!(json_value(&serde_json::json!("text")), Value::String("text".into()));
    }
}
