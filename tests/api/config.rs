//! Configuration errors fail at start-up with a message that names the key.

use std::process::Command;

fn authgraph(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgraph"));
    cmd.current_dir(dir).args(args).env_remove("AUTHGRAPH_DATABASE_URL").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run authgraph")
}

#[test]
fn unknown_keys_and_invalid_values_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("listen = \"127.0.0.1:3000\"\nunknown_key = 1\n", vec![], "unknown_key"),
        ("[log]\nformat = \"json\"\ncolour = true\n", vec![], "colour"),
        ("[password_policy]\nmin_length = \"eight\"\n", vec![], "password_policy.min_length"),
        ("listen = \"not an address\"\n", vec![], "listen"),
        ("[log]\nlevel = \"info,[\"\n", vec![], "log.level"),
        ("", vec![("AUTHGRAPH_LOG__FORMAT", "xml")], "LOG.FORMAT"),
        ("", vec![("AUTHGRAPH_PASSWORD_POLICY__MIN_LENGTH", "0")], "password_policy.min_length"),
        ("", vec![("AUTHGRAPH_DATABASE_URL", "mysql://x")], "database_url"),
        ("[[custom_attributes]]\npointer = \"/email\"\ntype = \"string\"\n", vec![], "custom_attributes[0].pointer"),
        ("[[custom_attributes]]\npointer = \"/x\"\ntype = \"colour\"\n", vec![], "custom_attributes"),
        ("[mfa]\nmode = \"always\"\n", vec![], "mfa.mode"),
        ("", vec![("AUTHGRAPH_MFA__MODE", "sometimes")], "MFA.MODE"),
        ("[mfa.grace_period]\nend_at = \"tomorrow\"\n", vec![], "mfa.grace_period.end_at"),
        ("[mfa.grace_period]\nenabled = true\nends = 1\n", vec![], "ends"),
        ("[mfa]\ndevice_token_lifetime_seconds = 0\n", vec![], "mfa.device_token_lifetime_seconds"),
    ];
    for (toml, env, key) in cases {
        let path = dir.path().join("authgraph.toml");
        std::fs::write(&path, toml).unwrap();
        let out = authgraph(dir.path(), &["schema"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml} {env:?}: {stderr}");
        assert!(stderr.contains(key), "message for {toml} {env:?} names `{key}`: {stderr}");
    }
    // A valid global MFA grace period loads.
    let path = dir.path().join("authgraph.toml");
    std::fs::write(&path, "[mfa.grace_period]\nenabled = true\nend_at = \"2030-01-01T00:00:00Z\"\n").unwrap();
    let out = authgraph(dir.path(), &["schema"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = authgraph(dir.path(), &["--config", "missing.toml", "schema"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn out_of_range_numbers_and_silent_log_filters_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        // Negative rate limits (0 turns a limit off; below that is nonsense).
        (
            "[rate_limits]\nlogin_failures_per_ip_per_minute = -1\n",
            vec![],
            "rate_limits.login_failures_per_ip_per_minute",
        ),
        (
            "",
            vec![("AUTHGRAPH_RATE_LIMITS__LOGIN_FAILURES_PER_ACCOUNT_PER_MINUTE", "-5")],
            "rate_limits.login_failures_per_account_per_minute",
        ),
        (
            "[rate_limits]\npassword_check_failures_per_user_per_minute = -1\n",
            vec![],
            "rate_limits.password_check_failures_per_user_per_minute",
        ),
        ("[rate_limits]\nsignups_per_ip_per_minute = -1\n", vec![], "rate_limits.signups_per_ip_per_minute"),
        (
            "",
            vec![("AUTHGRAPH_RATE_LIMITS__ACCOUNT_ENUMERATION_PER_IP_PER_MINUTE", "-1")],
            "rate_limits.account_enumeration_per_ip_per_minute",
        ),
        // Grace periods and lifetimes.
        ("[oauth]\nrefresh_token_reuse_grace_seconds = -1\n", vec![], "oauth.refresh_token_reuse_grace_seconds"),
        ("[oauth]\nrefresh_token_reuse_grace_seconds = 3600\n", vec![], "oauth.refresh_token_reuse_grace_seconds"),
        ("[session]\nlifetime_seconds = 0\n", vec![], "session.lifetime_seconds"),
        ("[session]\nidle_timeout_seconds = -60\n", vec![], "session.idle_timeout_seconds"),
        ("[ui]\ndeletion_grace_days = 0\n", vec![], "ui.deletion_grace_days"),
        ("[ui]\ndeletion_grace_days = -3\n", vec![], "ui.deletion_grace_days"),
        ("", vec![("AUTHGRAPH_UI__DELETION_GRACE_DAYS", "181")], "ui.deletion_grace_days"),
        // Limits that refuse everything when zero.
        ("[admin_api]\nmax_depth = 0\n", vec![], "admin_api.max_depth"),
        ("[admin_api]\nmax_complexity = 0\n", vec![], "admin_api.max_complexity"),
        ("[admin_api]\nsearch_broad_threshold = 0\n", vec![], "admin_api.search_broad_threshold"),
        ("[admin_api]\nsearch_walk_window = 0\n", vec![], "admin_api.search_walk_window"),
        ("database_max_connections = 0\n", vec![], "database_max_connections"),
        ("database_sqlite_cache_kib = 10\n", vec![], "database_sqlite_cache_kib"),
        ("", vec![("AUTHGRAPH_DATABASE_SQLITE_CACHE_KIB", "5000000")], "database_sqlite_cache_kib"),
        ("[smtp]\nport = 0\n", vec![], "smtp.port"),
        (
            "[[custom_attributes]]\npointer = \"/age\"\ntype = \"integer\"\nminimum = nan\n",
            vec![],
            "custom_attributes[0].minimum",
        ),
        ("trusted_proxies = [\"10.0.0.0/8\", \"not a network\"]\n", vec![], "trusted_proxies[1]"),
        // Log filters that tracing accepts but that would log nothing, and garbage.
        ("[log]\nlevel = \"inf\"\n", vec![], "log.level"),
        ("[log]\nlevel = \"warning,authgraph=debug\"\n", vec![], "log.level"),
        ("[log]\nlevel = \"\"\n", vec![], "log.level"),
        ("", vec![("RUST_LOG", "verbose")], "RUST_LOG"),
        ("", vec![("RUST_LOG", "info,authgraph=loud")], "RUST_LOG"),
        ("", vec![("RUST_LOG", "info,[")], "RUST_LOG"),
    ];
    for (toml, env, key) in cases {
        let path = dir.path().join("authgraph.toml");
        std::fs::write(&path, toml).unwrap();
        let out = authgraph(dir.path(), &["schema"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml} {env:?}: {stderr}");
        assert!(stderr.contains(&format!("`{key}`")), "message for {toml} {env:?} names `{key}`: {stderr}");
    }
    // The edges of each range, and ordinary filters, are fine.
    let fine = "[rate_limits]\nsignups_per_ip_per_minute = 0\n[oauth]\nrefresh_token_reuse_grace_seconds = 0\n[ui]\ndeletion_grace_days = 180\n[log]\nlevel = \"warn,authgraph=debug,tower_http=off\"\n";
    std::fs::write(dir.path().join("authgraph.toml"), fine).unwrap();
    let out =
        authgraph(dir.path(), &["schema"], &[("RUST_LOG", "info,sqlx=warn"), ("AUTHGRAPH_MFA__MODE", "required")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("db-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", dir.path().join("from-file.db").display())).unwrap();
    let out = authgraph(dir.path(), &["migrate"], &[("AUTHGRAPH_DATABASE_URL_FILE", url_file.to_str().unwrap())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("from-file.db").exists());
}

#[test]
fn lockout_settings_are_checked_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("[authentication_lockout]\nmax_attempts = -1\n", vec![], "`authentication_lockout.max_attempts`"),
        ("[authentication_lockout]\nbackoff_factor = 0.5\n", vec![], "`authentication_lockout.backoff_factor`"),
        ("", vec![("AUTHGRAPH_AUTHENTICATION_LOCKOUT__BACKOFF_FACTOR", "0")], "backoff_factor"),
        (
            "[authentication_lockout]\nminimum_duration_seconds = 600\nmaximum_duration_seconds = 60\n",
            vec![],
            "`authentication_lockout.maximum_duration_seconds`",
        ),
        ("[authentication_lockout]\nhistory_duration_seconds = 0\n", vec![], "history_duration_seconds"),
        ("[authentication_lockout]\nlockout_type = \"per_ip\"\n", vec![], "lockout_type"),
        ("[authentication_lockout.totp]\nenable = false\n", vec![], "enable"),
    ];
    for (toml, env, key) in cases {
        std::fs::write(dir.path().join("authgraph.toml"), toml).unwrap();
        let out = authgraph(dir.path(), &["schema"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml} {env:?}: {stderr}");
        assert!(stderr.contains(key), "message for {toml} {env:?} names {key}: {stderr}");
    }
    let fine = "[authentication_lockout]\nmax_attempts = 6\nbackoff_factor = 2\nlockout_type = \"per_user_per_ip\"\ntotp.enabled = false\n";
    std::fs::write(dir.path().join("authgraph.toml"), fine).unwrap();
    let out = authgraph(dir.path(), &["schema"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn fraud_protection_settings_are_checked_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[fraud_protection.decision]\naction = \"deny\"\n", "action"),
        ("[fraud_protection]\nwarnings = [{ type = \"SMS__NOPE\" }]\n", "SMS__NOPE"),
        (
            "[fraud_protection.sms.unverified_otp_budget]\ndaily_ratio = -1\n",
            "`fraud_protection.sms.unverified_otp_budget.daily_ratio`",
        ),
        (
            "[fraud_protection.decision.always_allow.phone_number]\nregex = [\"(\"]\n",
            "`fraud_protection.decision.always_allow.phone_number.regex`",
        ),
        ("[fraud_protection.decision.always_allow.ip_address]\ncidrs = [\"10.0.0/8\"]\n", "cidrs"),
        ("[fraud_protection.decision.always_allow.ip_address]\ngeo_location_codes = [\"HK\"]\n", "GeoIP"),
    ];
    for (toml, key) in cases {
        std::fs::write(dir.path().join("authgraph.toml"), toml).unwrap();
        let out = authgraph(dir.path(), &["schema"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(key), "message for {toml} names {key}: {stderr}");
    }
    let fine = "[fraud_protection.decision]\naction = \"deny_if_any_warning\"\nalways_allow.phone_number.regex = ['^\\+852\\d*$']\nalways_allow.ip_address.cidrs = [\"203.0.113.0/24\", \"2001:db8::1\"]\n";
    std::fs::write(dir.path().join("authgraph.toml"), fine).unwrap();
    let out = authgraph(dir.path(), &["schema"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
