//! The contract of a blocking handler's response (Authgear's `hook_response`): parsed
//! strictly, checked against what the event allows, and the rule that JWT and ID-token
//! mutations may only add claims.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// AMR values a hook may require with `constraints.amr`.
pub const CONSTRAINT_AMR: &[&str] = &[
    "pwd",
    "otp",
    "sms",
    "mfa",
    "x_primary_password",
    "x_primary_oob_otp_email",
    "x_primary_oob_otp_sms",
    "x_primary_passkey",
    "x_secondary_password",
    "x_secondary_oob_otp_email",
    "x_secondary_oob_otp_sms",
    "x_secondary_totp",
    "x_recovery_code",
];

/// A handler's response, as parsed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookResponse {
    /// Whether the operation may go on.
    pub is_allowed: bool,
    /// A refusal's title, shown to the user.
    pub title: Option<String>,
    /// A refusal's reason, shown to the user.
    pub reason: Option<String>,
    /// Changes to apply when allowed.
    pub mutations: Option<Mutations>,
    /// Extra authentication the flow must require.
    pub constraints: Option<Constraints>,
    /// Bot protection override for this flow.
    pub bot_protection: Option<BotProtection>,
    /// Rate-limit weights for this flow.
    pub rate_limits: Option<Map<String, Value>>,
}

/// `mutations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutations {
    /// Changes to the user.
    pub user: Option<UserMutations>,
    /// The access token's payload.
    pub jwt: Option<PayloadMutation>,
    /// The ID token's payload.
    pub id_token: Option<PayloadMutation>,
}

/// `mutations.user`: each present sub-object replaces the user's whole one.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserMutations {
    /// Replaces the standard attributes.
    pub standard_attributes: Option<Map<String, Value>>,
    /// Replaces the custom attributes.
    pub custom_attributes: Option<Map<String, Value>>,
    /// Replaces the direct roles (by key).
    pub roles: Option<Vec<String>>,
    /// Replaces the groups (by key).
    pub groups: Option<Vec<String>>,
}

/// `mutations.jwt` / `mutations.id_token`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadMutation {
    /// The whole new payload.
    pub payload: Map<String, Value>,
}

/// `constraints`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// AMR values that must all be satisfied (see [`CONSTRAINT_AMR`]).
    pub amr: Option<Vec<String>>,
}

/// `bot_protection`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BotProtection {
    /// `always` or `never`.
    pub mode: BotProtectionMode,
}

/// `bot_protection.mode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BotProtectionMode {
    /// Require the challenge.
    Always,
    /// Skip it.
    Never,
}

/// What a blocking event lets its handlers return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allows {
    /// `mutations.user` (the `user.*` events).
    User,
    /// `mutations.jwt`.
    Jwt,
    /// `mutations.id_token`.
    IdToken,
    /// `constraints`, `bot_protection`, `rate_limits`.
    AuthenticationFlow,
    /// `constraints`, `rate_limits`.
    AuthenticationPreAuthenticated,
}

impl Allows {
    /// What `event` allows, or `None` if it is not a blocking event.
    pub fn of(event: &str) -> Option<Self> {
        Some(match event {
            "user.pre_create"
            | "user.profile.pre_update"
            | "user.pre_schedule_deletion"
            | "user.pre_schedule_anonymization" => Self::User,
            "oidc.jwt.pre_create" => Self::Jwt,
            "oidc.id_token.pre_create" => Self::IdToken,
            "authentication.pre_initialize" | "authentication.post_identified" => Self::AuthenticationFlow,
            "authentication.pre_authenticated" => Self::AuthenticationPreAuthenticated,
            _ => return None,
        })
    }
}

/// Parses and checks a response to `event`. The error says what is wrong, for the log
/// and the error's detail.
pub fn parse_response(event: &str, body: &[u8]) -> Result<HookResponse, String> {
    let allows = Allows::of(event).ok_or_else(|| format!("{event} is not a blocking event"))?;
    let r: HookResponse = serde_json::from_slice(body).map_err(|e| format!("not a valid hook response: {e}"))?;
    if !r.is_allowed {
        let extra =
            r.mutations.is_some() || r.constraints.is_some() || r.bot_protection.is_some() || r.rate_limits.is_some();
        if extra {
            return Err("a refusal may carry only `title` and `reason`".into());
        }
        return Ok(r);
    }
    if r.title.is_some() || r.reason.is_some() {
        return Err("`title` and `reason` belong to a refusal (`is_allowed: false`)".into());
    }
    if let Some(m) = &r.mutations {
        let ok = match allows {
            Allows::User => m.jwt.is_none() && m.id_token.is_none(),
            Allows::Jwt => m.user.is_none() && m.id_token.is_none(),
            Allows::IdToken => m.user.is_none() && m.jwt.is_none(),
            Allows::AuthenticationFlow | Allows::AuthenticationPreAuthenticated => false,
        };
        if !ok {
            return Err(format!("{event} does not allow these mutations"));
        }
    }
    let flow = matches!(allows, Allows::AuthenticationFlow | Allows::AuthenticationPreAuthenticated);
    if !flow && (r.constraints.is_some() || r.rate_limits.is_some() || r.bot_protection.is_some()) {
        return Err(format!("{event} does not allow constraints, bot_protection or rate_limits"));
    }
    if allows == Allows::AuthenticationPreAuthenticated && r.bot_protection.is_some() {
        return Err(format!("{event} does not allow bot_protection"));
    }
    if let Some(amr) = r.constraints.as_ref().and_then(|c| c.amr.as_ref())
        && let Some(bad) = amr.iter().find(|a| !CONSTRAINT_AMR.contains(&a.as_str()))
    {
        return Err(format!("constraints.amr: `{bad}` is not an AMR value a hook may require"));
    }
    if let Some(limits) = &r.rate_limits {
        for (k, v) in limits {
            if k != "authentication.general" && k != "authentication.account_enumeration" {
                return Err(format!("rate_limits: `{k}` is not a rate limit a hook may weigh"));
            }
            let weight = v.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("weight")).and_then(Value::as_f64);
            if !weight.is_some_and(|w| w >= 0.0 && w.is_finite()) {
                return Err(format!("rate_limits.{k}: must be {{\"weight\": number ≥ 0}}"));
            }
        }
    }
    Ok(r)
}

/// Claims a JWT mutation removed or changed (it may only add).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtMutationViolation {
    /// Claims that are gone.
    pub removed: Vec<String>,
    /// Claims whose value differs.
    pub changed: Vec<String>,
}

/// Applies a payload mutation: the result is `mutated` when it keeps every claim of
/// `original` unchanged; otherwise the claims it removed or changed.
pub fn apply_payload_mutation(
    original: &Map<String, Value>,
    mutated: Map<String, Value>,
) -> Result<Map<String, Value>, JwtMutationViolation> {
    let mut v = JwtMutationViolation::default();
    for (k, val) in original {
        match mutated.get(k) {
            None => v.removed.push(k.clone()),
            Some(m) if m != val => v.changed.push(k.clone()),
            Some(_) => {}
        }
    }
    if v.removed.is_empty() && v.changed.is_empty() { Ok(mutated) } else { Err(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(event: &str, v: Value) -> Result<HookResponse, String> {
        parse_response(event, &serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn responses_are_checked_against_their_event() {
        assert!(parse("user.pre_create", json!({"is_allowed": true})).is_ok());
        assert!(parse("user.pre_create", json!({"is_allowed": false, "title": "No", "reason": "Closed"})).is_ok());
        assert!(parse("user.pre_create", json!({})).is_err(), "is_allowed is required");
        assert!(parse("user.pre_create", json!({"is_allowed": "yes"})).is_err());
        assert!(parse("user.pre_create", json!({"is_allowed": true, "extra": 1})).is_err());
        assert!(parse("user.pre_create", json!({"is_allowed": false, "mutations": {}})).is_err());
        assert!(parse("user.pre_create", json!({"is_allowed": true, "mutations": {"jwt": {"payload": {}}}})).is_err());
        assert!(
            parse("oidc.jwt.pre_create", json!({"is_allowed": true, "mutations": {"jwt": {"payload": {"a": 1}}}}))
                .is_ok()
        );
        assert!(parse("oidc.jwt.pre_create", json!({"is_allowed": true, "constraints": {"amr": ["mfa"]}})).is_err());
        assert!(parse("authentication.pre_initialize", json!({"is_allowed": true, "constraints": {"amr": ["mfa", "x_secondary_totp"]}, "bot_protection": {"mode": "always"}, "rate_limits": {"authentication.general": {"weight": 2}}})).is_ok());
        assert!(
            parse("authentication.pre_initialize", json!({"is_allowed": true, "constraints": {"amr": ["face"]}}))
                .is_err()
        );
        assert!(
            parse("authentication.pre_authenticated", json!({"is_allowed": true, "bot_protection": {"mode": "never"}}))
                .is_err()
        );
        assert!(
            parse("authentication.post_identified", json!({"is_allowed": true, "rate_limits": {"x": {"weight": 1}}}))
                .is_err()
        );
        assert!(parse_response("user.pre_create", b"not json").is_err());
    }

    #[test]
    fn payload_mutations_may_only_add_claims() {
        let original = json!({"sub": "u1", "aud": ["a"]}).as_object().unwrap().clone();
        let added = json!({"sub": "u1", "aud": ["a"], "tier": "gold"}).as_object().unwrap().clone();
        assert_eq!(apply_payload_mutation(&original, added.clone()), Ok(added));
        let bad = json!({"sub": "u2", "tier": "gold"}).as_object().unwrap().clone();
        let v = apply_payload_mutation(&original, bad).unwrap_err();
        assert_eq!(v.removed, vec!["aud"]);
        assert_eq!(v.changed, vec!["sub"]);
    }
}
