//! Standard attributes (OIDC claim names) and declared custom attributes.

use crate::domain::reason;
use crate::domain::text::quoted;
use serde_json::{Map, Value};

use super::Invalid;
use super::login_id::{normalize_email, normalize_phone};
use serde::{Deserialize, Serialize};

/// Standard attributes an admin can write, with OIDC names.
const STRING_ATTRS: &[&str] =
    &["family_name", "given_name", "middle_name", "name", "nickname", "gender", "zoneinfo", "preferred_username"];
const URL_ATTRS: &[&str] = &["picture", "profile", "website"];
const ADDRESS_FIELDS: &[&str] = &["formatted", "street_address", "locality", "region", "postal_code", "country"];
/// Attributes derived by the server; present in output, refused in input.
pub const DERIVED_ATTRS: &[&str] = &["email_verified", "phone_number_verified", "updated_at"];

/// Whether `name` is a standard attribute name (reserved for custom attributes).
pub fn is_standard_attribute(name: &str) -> bool {
    STRING_ATTRS.contains(&name)
        || URL_ATTRS.contains(&name)
        || DERIVED_ATTRS.contains(&name)
        || matches!(name, "email" | "phone_number" | "birthdate" | "locale" | "address" | "sub")
}

/// Validates a whole standard-attributes object; returns it with email and phone normalised.
pub fn validate_standard(input: &Value) -> Result<Map<String, Value>, Invalid> {
    super::text::check_json_text("standardAttributes", input)?;
    let Value::Object(obj) = input else {
        return Err(Invalid::new(reason::INVALID_STANDARD_ATTRIBUTES, "standardAttributes must be a JSON object"));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let bad =
            |what: &str| Invalid::new(reason::INVALID_STANDARD_ATTRIBUTES, format!("standardAttributes.{k} {what}"));
        if v.is_null() {
            continue;
        }
        let value = match k.as_str() {
            "email" => Value::String(
                normalize_email(v.as_str().ok_or_else(|| bad("must be a string"))?)
                    .map_err(|e| bad(&format!(": {}", e.message)))?,
            ),
            "phone_number" => Value::String(
                normalize_phone(v.as_str().ok_or_else(|| bad("must be a string"))?)
                    .map_err(|e| bad(&format!(": {}", e.message)))?,
            ),
            k if STRING_ATTRS.contains(&k) => {
                let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
                if s.is_empty() || s.len() > 1024 {
                    return Err(bad("must have 1 to 1024 characters"));
                }
                v.clone()
            }
            k if URL_ATTRS.contains(&k) => {
                let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
                if !is_absolute_url(s) {
                    return Err(bad("must be an absolute http(s) URL"));
                }
                v.clone()
            }
            "birthdate" => {
                let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
                if !is_birthdate(s) {
                    return Err(bad("must be YYYY-MM-DD, YYYY or 0000-MM-DD"));
                }
                v.clone()
            }
            "locale" => {
                let s = v.as_str().ok_or_else(|| bad("must be a string"))?;
                let ok = !s.is_empty()
                    && s.len() <= 35
                    && s.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
                if !ok {
                    return Err(bad("must be a BCP 47 language tag such as en-US"));
                }
                v.clone()
            }
            "address" => {
                let Value::Object(addr) = v else {
                    return Err(bad("must be an object"));
                };
                for (f, fv) in addr {
                    if !ADDRESS_FIELDS.contains(&f.as_str()) {
                        return Err(bad(&format!("has unknown field {}", quoted(f))));
                    }
                    if !fv.is_string() {
                        return Err(bad(&format!(".{f} must be a string")));
                    }
                }
                v.clone()
            }
            k if DERIVED_ATTRS.contains(&k) => {
                return Err(bad("is maintained by the server and cannot be set"));
            }
            _ => return Err(bad("is not a standard attribute")),
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// Validates a whole custom-attributes object against the declarations.
pub fn validate_custom(decls: &[CustomAttribute], input: &Value) -> Result<Map<String, Value>, Invalid> {
    super::text::check_json_text("customAttributes", input)?;
    let Value::Object(obj) = input else {
        return Err(Invalid::new(reason::INVALID_CUSTOM_ATTRIBUTES, "customAttributes must be a JSON object"));
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let bad =
            |what: String| Invalid::new(reason::INVALID_CUSTOM_ATTRIBUTES, format!("customAttributes.{k} {what}"));
        let Some(decl) = decls.iter().find(|d| d.name() == k) else {
            return Err(bad("is not declared in custom_attributes".to_owned()));
        };
        if v.is_null() {
            continue;
        }
        let in_range = |n: f64| decl.minimum.is_none_or(|min| n >= min) && decl.maximum.is_none_or(|max| n <= max);
        let range_msg = || {
            format!(
                "must be between {} and {}",
                decl.minimum.map_or("-∞".to_owned(), |m| m.to_string()),
                decl.maximum.map_or("∞".to_owned(), |m| m.to_string())
            )
        };
        let as_str = || v.as_str().ok_or_else(|| bad("must be a string".to_owned()));
        let value = match decl.kind {
            CustomAttributeType::String => {
                let s = as_str()?;
                if s.is_empty() {
                    return Err(bad("must not be empty".to_owned()));
                }
                v.clone()
            }
            CustomAttributeType::Number => {
                let n = v.as_f64().ok_or_else(|| bad("must be a number".to_owned()))?;
                if !in_range(n) {
                    return Err(bad(range_msg()));
                }
                v.clone()
            }
            CustomAttributeType::Integer => {
                let n = v.as_i64().ok_or_else(|| bad("must be an integer".to_owned()))?;
                #[allow(clippy::cast_precision_loss)]
                if !in_range(n as f64) {
                    return Err(bad(range_msg()));
                }
                v.clone()
            }
            CustomAttributeType::Enum => {
                let s = as_str()?;
                if !decl.values.iter().any(|e| e == s) {
                    return Err(bad(format!("must be one of {}", decl.values.join(", "))));
                }
                v.clone()
            }
            CustomAttributeType::Email => {
                Value::String(normalize_email(as_str()?).map_err(|e| bad(format!(": {}", e.message)))?)
            }
            CustomAttributeType::PhoneNumber => {
                Value::String(normalize_phone(as_str()?).map_err(|e| bad(format!(": {}", e.message)))?)
            }
            CustomAttributeType::Url => {
                if !is_absolute_url(as_str()?) {
                    return Err(bad("must be an absolute URL".to_owned()));
                }
                v.clone()
            }
            CustomAttributeType::CountryCode => {
                let s = as_str()?;
                if !COUNTRY_CODES.split(' ').any(|c| c == s) {
                    return Err(bad("must be an ISO 3166-1 alpha-2 country code such as HK".to_owned()));
                }
                v.clone()
            }
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// The display name of a user: `name`, else given + middle + family names.
pub fn formatted_name(attrs: &Value) -> Option<String> {
    let get = |k: &str| attrs.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(name) = get("name") {
        return Some(name.to_owned());
    }
    let parts: Vec<&str> = ["given_name", "middle_name", "family_name"].iter().filter_map(|k| get(k)).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn is_absolute_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn is_birthdate(s: &str) -> bool {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if s.len() == 4 {
        return s.chars().all(|c| c.is_ascii_digit());
    }
    if let Some(md) = s.strip_prefix("0000-") {
        return time::Date::parse(&format!("2000-{md}"), fmt).is_ok();
    }
    time::Date::parse(s, fmt).is_ok()
}

/// ISO 3166-1 alpha-2 codes.
const COUNTRY_CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standard() {
        assert!(validate_standard(&json!({"given_name": "A", "birthdate": "1990-02-28"})).is_ok());
        assert!(validate_standard(&json!({"birthdate": "1990-02-30"})).is_err());
        assert!(validate_standard(&json!({"website": "not a url"})).is_err());
        assert!(validate_standard(&json!({"foo": "x"})).is_err());
        assert!(validate_standard(&json!({"email_verified": true})).is_err());
        assert!(validate_standard(&json!({"address": {"country": "HK"}})).is_ok());
    }

    #[test]
    fn custom() {
        let decls = vec![CustomAttribute {
            pointer: "/age".into(),
            kind: CustomAttributeType::Integer,
            minimum: Some(0.0),
            maximum: Some(150.0),
            values: vec![],
        }];
        assert!(validate_custom(&decls, &json!({"age": 3})).is_ok());
        assert!(validate_custom(&decls, &json!({"age": 300})).is_err());
        assert!(validate_custom(&decls, &json!({"age": 1.5})).is_err());
        assert!(validate_custom(&decls, &json!({"other": 1})).is_err());
    }
}

/// Type of a custom attribute.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CustomAttributeType {
    /// Non-empty string.
    String,
    /// Any number, with optional `minimum`/`maximum`.
    Number,
    /// Integer, with optional `minimum`/`maximum`.
    Integer,
    /// One of `enum`.
    Enum,
    /// Email address.
    Email,
    /// E.164 phone number.
    PhoneNumber,
    /// Absolute URL.
    Url,
    /// ISO 3166-1 alpha-2 code.
    CountryCode,
}

/// A declared custom attribute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomAttribute {
    /// JSON pointer of the attribute, e.g. `/hobby` (one level).
    pub pointer: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: CustomAttributeType,
    /// Lower bound for number and integer.
    #[serde(default)]
    pub minimum: Option<f64>,
    /// Upper bound for number and integer.
    #[serde(default)]
    pub maximum: Option<f64>,
    /// Allowed values for enum.
    #[serde(default, rename = "enum")]
    pub values: Vec<String>,
}

impl CustomAttribute {
    /// Attribute name: the pointer without its leading `/`.
    pub fn name(&self) -> &str {
        self.pointer.trim_start_matches('/')
    }
}
