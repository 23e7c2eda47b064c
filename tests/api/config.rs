//! Configuration errors fail at start-up with a message that names the key.

use std::process::Command;

fn authgraph(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgraph"));
    cmd.current_dir(dir).args(args).env_remove("AUTHGRAPH_DATABASE_URL");
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
    ];
    for (toml, env, key) in cases {
        let path = dir.path().join("authgraph.toml");
        std::fs::write(&path, toml).unwrap();
        let out = authgraph(dir.path(), &["schema"], &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml} {env:?}: {stderr}");
        assert!(stderr.contains(key), "message for {toml} {env:?} names `{key}`: {stderr}");
    }
    let out = authgraph(dir.path(), &["--config", "missing.toml", "schema"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
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
