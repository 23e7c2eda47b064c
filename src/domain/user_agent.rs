//! A session's name for people: the browser and system a user agent names, as the
//! Admin API's `Session.displayName` shows it.

/// "Chrome 120.0.0.0, Mac OSX 10.15.7" from a user agent: the browser (or app) and its
/// version, then the system and its version, each part left out when unknown. A user
/// agent nothing is known of is shown as it is (cut to 100 characters); none is
/// "Unknown device".
pub fn display_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|u| !u.is_empty()) else {
        return "Unknown device".to_owned();
    };
    let known = |s: &str| !s.is_empty() && s != "UNKNOWN";
    let Some(r) = woothee::parser::Parser::new().parse(ua) else {
        return ua.chars().take(100).collect();
    };
    let join = |a: &str, b: &str| match (known(a), known(b)) {
        (true, true) => format!("{a} {b}"),
        (true, false) => a.to_owned(),
        _ => String::new(),
    };
    let browser = join(r.name, r.version);
    let system = join(r.os, r.os_version.as_ref());
    match (browser.is_empty(), system.is_empty()) {
        (false, false) => format!("{browser}, {system}"),
        (false, true) => browser,
        (true, false) => system,
        (true, true) => ua.chars().take(100).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_systems_are_named() {
        let chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let name = display_name(Some(chrome));
        assert!(name.starts_with("Chrome 120.0.0.0, "), "{name}");
        assert!(name.contains("10.15.7"), "{name}");
        assert_eq!(display_name(None), "Unknown device");
        assert_eq!(display_name(Some("  ")), "Unknown device");
        assert_eq!(display_name(Some("test-browser/1.0")), "test-browser/1.0");
    }
}
