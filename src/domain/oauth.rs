//! OAuth values: application types, redirect URIs, resource URIs and scope tokens.

use super::Invalid;
use crate::domain::reason;
use crate::domain::text::quoted;

/// Application (OAuth client) types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppType {
    /// Single-page app: public client, PKCE.
    Spa,
    /// Mobile or desktop app: public client, PKCE.
    Native,
    /// Server-rendered web app of this project: confidential.
    TraditionalWebapp,
    /// Confidential client.
    Confidential,
    /// Machine to machine: client credentials only.
    M2m,
    /// Another party's app: confidential, asks the user for consent.
    ThirdPartyApp,
}

impl AppType {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spa => "spa",
            Self::Native => "native",
            Self::TraditionalWebapp => "traditional_webapp",
            Self::Confidential => "confidential",
            Self::M2m => "m2m",
            Self::ThirdPartyApp => "third_party_app",
        }
    }

    /// From the database spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "spa" => Self::Spa,
            "native" => Self::Native,
            "traditional_webapp" => Self::TraditionalWebapp,
            "confidential" => Self::Confidential,
            "m2m" => Self::M2m,
            "third_party_app" => Self::ThirdPartyApp,
            _ => return None,
        })
    }

    /// Whether the client authenticates with a secret.
    pub fn has_secret(self) -> bool {
        matches!(self, Self::Confidential | Self::M2m | Self::ThirdPartyApp | Self::TraditionalWebapp)
    }

    /// Whether the application may sign users in anonymously (the anonymous-request
    /// grant) when `anonymous.enabled` is set: the types that get Authgear's full-access
    /// scope (SPA, native and traditional web applications), whatever their
    /// `grant_types` list says, as in Authgear. Confidential, M2M and third-party clients
    /// never may.
    pub fn allows_anonymous_users(self) -> bool {
        self.has_full_access()
    }

    /// Whether applications of this type get Authgear's full-access scope: first-party
    /// SPA, native and traditional web applications. Only they may use the device-key
    /// grants (anonymous and biometric), as in Authgear.
    pub fn has_full_access(self) -> bool {
        matches!(self, Self::Spa | Self::Native | Self::TraditionalWebapp)
    }

    /// Grant types allowed by default.
    pub fn default_grants(self) -> Vec<String> {
        let g: &[&str] = match self {
            Self::M2m => &["client_credentials"],
            _ => &["authorization_code", "refresh_token"],
        };
        g.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Grant types this type may use at all.
    pub fn allowed_grants(self) -> &'static [&'static str] {
        match self {
            Self::M2m => &["client_credentials"],
            Self::Spa | Self::Native => &["authorization_code", "refresh_token"],
            _ => &["authorization_code", "refresh_token", "client_credentials"],
        }
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => *d == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Validates a redirect URI: absolute, no fragment, `http` only for loopback hosts;
/// private-use schemes (`com.example.app:/cb`) are allowed for native apps.
pub fn validate_redirect_uri(field: &str, uri: &str) -> Result<(), Invalid> {
    let bad = |why: &str| Invalid::new(reason::INVALID_REDIRECT_URI, format!("{field} {} {why}", quoted(uri)));
    let parsed = url::Url::parse(uri).map_err(|_| bad("is not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" => match parsed.host() {
            Some(h) if is_loopback(&h) => Ok(()),
            _ => Err(bad("may use http only for localhost or a loopback address")),
        },
        "https" => Err(bad("has no host")),
        "javascript" | "data" | "file" | "vbscript" => Err(bad("uses a forbidden scheme")),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(bad("must be https, http on loopback, or a reverse-DNS private-use scheme")),
    }
}

/// Whether `requested` is one of the `registered` redirect URIs of an app of type `kind`.
/// The match is exact, except that a native app's `http` URI on a loopback IP literal
/// (`http://127.0.0.1/cb`, `http://[::1]:8080/cb`) matches the same URI with any port, as
/// RFC 8252 §7.3 asks: the app listens on a port the system gives it at run time.
/// `localhost` is no IP literal and always matches exactly (RFC 8252 §8.3 advises against
/// it), and the requested URI must be in canonical form, so no two spellings of one path
/// can slip through.
pub fn redirect_uri_matches(kind: AppType, registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    if kind != AppType::Native {
        return false;
    }
    let Ok(mut req) = url::Url::parse(requested) else { return false };
    let loopback_ip = |u: &url::Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if req.scheme() != "http" || !loopback_ip(&req) || req.as_str() != requested {
        return false;
    }
    registered.iter().any(|r| {
        let Ok(reg) = url::Url::parse(r) else { return false };
        if reg.scheme() != "http" || !loopback_ip(&reg) || reg.as_str() != r {
            return false;
        }
        req.set_port(reg.port()).is_ok() && req.as_str() == r
    })
}

/// Validates a web origin for CORS: `scheme://host[:port]`, nothing else.
pub fn validate_origin(origin: &str) -> Result<(), Invalid> {
    let bad = || {
        Invalid::new(
            reason::INVALID_ORIGIN,
            format!("{} is not an origin such as https://app.example.com", quoted(origin)),
        )
    };
    let parsed = url::Url::parse(origin).map_err(|_| bad())?;
    let ok = matches!(parsed.scheme(), "http" | "https")
        && parsed.host().is_some()
        && parsed.path() == "/"
        && !origin.ends_with('/')
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && parsed.username().is_empty();
    if ok { Ok(()) } else { Err(bad()) }
}

/// Validates a resource URI (RFC 8707): absolute, no fragment.
pub fn validate_resource_uri(uri: &str) -> Result<(), Invalid> {
    let bad = |why: &str| Invalid::new(reason::INVALID_RESOURCE_URI, format!("resource URI {} {why}", quoted(uri)));
    let parsed = url::Url::parse(uri).map_err(|_| bad("is not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    if uri.len() > 2048 {
        return Err(bad("is longer than 2048 bytes"));
    }
    Ok(())
}

/// Validates a scope token (RFC 6749 §3.3): printable ASCII except space, `"` and `\`.
pub fn validate_scope(scope: &str) -> Result<(), Invalid> {
    let ok = !scope.is_empty()
        && scope.len() <= 200
        && scope.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            reason::INVALID_SCOPE,
            format!("scope {} must be 1 to 200 printable ASCII characters without spaces, `\"` or `\\`", quoted(scope)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        assert!(validate_redirect_uri("r", "https://app.example.com/cb").is_ok());
        assert!(validate_redirect_uri("r", "http://127.0.0.1:8080/cb").is_ok());
        assert!(validate_redirect_uri("r", "http://localhost/cb").is_ok());
        assert!(validate_redirect_uri("r", "com.example.app:/oauth").is_ok());
        assert!(validate_redirect_uri("r", "http://app.example.com/cb").is_err());
        assert!(validate_redirect_uri("r", "https://app.example.com/cb#x").is_err());
        assert!(validate_redirect_uri("r", "/relative").is_err());
        assert!(validate_redirect_uri("r", "javascript:alert(1)").is_err());
    }

    #[test]
    fn native_loopback_redirect_uris_match_any_port() {
        let reg =
            vec!["http://127.0.0.1/cb".to_owned(), "http://[::1]:8080/cb".to_owned(), "http://localhost/cb".to_owned()];
        let native = |u: &str| redirect_uri_matches(AppType::Native, &reg, u);
        assert!(native("http://127.0.0.1/cb"));
        assert!(native("http://127.0.0.1:51234/cb"));
        assert!(native("http://[::1]/cb"));
        assert!(native("http://[::1]:1/cb"));
        assert!(!native("http://127.0.0.1:51234/cb2"));
        assert!(!native("http://127.0.0.1:51234/cb?x=1"));
        assert!(!native("http://127.0.0.1:51234/a/../cb"));
        assert!(!native("http://127.0.0.2:51234/cb"));
        assert!(!native("http://localhost:51234/cb"));
        assert!(!native("https://127.0.0.1:51234/cb"));
        assert!(native("http://localhost/cb"));
        assert!(!redirect_uri_matches(AppType::Spa, &reg, "http://127.0.0.1:51234/cb"));
        assert!(redirect_uri_matches(AppType::Spa, &reg, "http://127.0.0.1/cb"));
    }

    #[test]
    fn scopes_and_origins() {
        assert!(validate_scope("read:orders").is_ok());
        assert!(validate_scope("has space").is_err());
        assert!(validate_scope("q\"uote").is_err());
        assert!(validate_origin("https://app.example.com").is_ok());
        assert!(validate_origin("http://localhost:3000").is_ok());
        assert!(validate_origin("https://app.example.com/path").is_err());
        assert!(validate_resource_uri("https://api.example.com").is_ok());
        assert!(validate_resource_uri("not a uri").is_err());
    }
}
