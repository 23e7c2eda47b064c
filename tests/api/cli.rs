//! The command line: serve, schema, migrate and admin-token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authgraph"));
    cmd.env_remove("AUTHGRAPH_DATABASE_URL");
    cmd
}

#[test]
fn schema_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().current_dir(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), authgraph::graphql::sdl());
}

#[tokio::test]
async fn admin_token_prints_only_a_token_that_the_server_accepts() {
    let app = spawn_app().await;
    let key_file = app.dir.path().join("master.key");
    let run = |args: &[&str]| {
        bin()
            .current_dir(app.dir.path())
            .env("AUTHGRAPH_DATABASE_URL", &app.database_url)
            .env("AUTHGRAPH_MASTER_KEY_FILE", &key_file)
            .env("AUTHGRAPH_PUBLIC_URL", &app.url)
            .arg("admin-token")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--scope", "user:read", "--ttl", "5m"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "only the token: {stdout}");
    let token = stdout.trim();
    assert_eq!(token.split('.').count(), 3);
    let res = app.gql_as(token, "{ users { totalCount } }", json!({})).await;
    assert!(res.get("errors").is_none(), "{res}");
    let res = app.gql_as(token, "mutation { createRole(input: {key: \"x\"}) { role { id } } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let out = run(&[]);
    let all = String::from_utf8(out.stdout).unwrap();
    let res = app.gql_as(all.trim(), "mutation { createRole(input: {key: \"x\"}) { role { key } } }", json!({})).await;
    assert_eq!(res["data"]["createRole"]["role"]["key"], "x", "{res}");
    let actor = app.ok("{ auditLogs(first: 1) { edges { node { data } } } }", json!({})).await;
    assert_eq!(actor["auditLogs"]["edges"][0]["node"]["data"]["context"]["actor"], "admin-cli");

    assert!(!run(&["--ttl", "10x"]).status.success());
    assert!(!run(&["--scope", "everything"]).status.success());
}

/// The server's log lines on stderr.
type LogLines = std::io::Lines<BufReader<std::process::ChildStderr>>;

/// Starts `authgraph serve` in `dir` on a free port with JSON logs and `env`; returns the
/// process, its URL, the log lines it wrote before the URL, and the rest to come.
fn serve_in(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, String, Vec<String>, LogLines) {
    let mut child = bin()
        .current_dir(dir)
        .args(["--listen", "127.0.0.1:0", "serve"])
        .env("AUTHGRAPH_LOG__FORMAT", "json")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut before = Vec::new();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("authgraph is listening on ") {
            url = Some(rest.trim().to_owned());
            break;
        }
        before.push(line);
    }
    let url = url.unwrap_or_else(|| panic!("the server prints its URL: {before:#?}"));
    (child, url, before, lines)
}

/// Sends SIGTERM to a server from [`serve_in`]; checks that it exits 0 after logging that
/// it shuts down, and returns the JSON log lines it wrote after its URL.
fn stop_gracefully(mut child: std::process::Child, lines: LogLines) -> Vec<Value> {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let logs: Vec<Value> = rest.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(logs.iter().any(|l| l["fields"]["message"] == "shutting down"), "{rest:#?}");
    logs
}

#[test]
fn serve_starts_on_an_empty_directory_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, _, lines) = serve_in(dir.path(), &[]);
    let health = raw_http::get(&format!("{url}/healthz"));
    assert_eq!(health, "ok");
    assert!(dir.path().join("authgraph.db").exists(), "SQLite database created");
    let key = dir.path().join("authgraph.master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    stop_gracefully(child, lines);
}

/// `http_threads`: that many threads, each with its own event loop, accept and serve the
/// connections of one listening socket; together they answer many connections at once, and
/// all of them stop on SIGTERM.
#[test]
fn serve_on_several_http_threads_answers_every_connection_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url, before, lines) = serve_in(dir.path(), &[("AUTHGRAPH_HTTP_THREADS", "3")]);
    let ready: Vec<Value> = before.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ready = ready.iter().find(|l| l["fields"]["message"] == "authgraph is ready").expect("the ready line");
    assert_eq!(ready["fields"]["http_threads"], 3, "{ready}");
    let issuer = url.clone();
    let answers: Vec<(String, String)> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..24)
            .map(|_| {
                let url = &url;
                scope.spawn(move || {
                    (
                        raw_http::get(&format!("{url}/healthz")),
                        raw_http::get(&format!("{url}/.well-known/openid-configuration")),
                    )
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for (health, discovery) in &answers {
        assert_eq!(health, "ok");
        let discovery: Value = serde_json::from_str(discovery).unwrap();
        assert_eq!(discovery["issuer"], issuer.as_str());
    }
    // The threads start before the first connection is served.
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| n.starts_with("http-"))
        .collect();
    names.sort();
    assert_eq!(names, ["http-0", "http-1", "http-2"]);
    let logs = stop_gracefully(child, lines);
    assert!(!logs.iter().any(|l| l["level"] == "ERROR" || l["level"] == "WARN"), "{logs:#?}");
}

mod raw_http {
    /// A tiny blocking GET over a raw TCP socket (the test is synchronous).
    pub fn get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn a_missing_master_key_file_beside_encrypted_keys_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::helpers::fresh_database(&dir).await;
    let key_file = dir.path().join("keys").join("master.key");
    let run = |args: &[&str]| {
        bin()
            .current_dir(dir.path())
            .env("AUTHGRAPH_DATABASE_URL", &database_url)
            .env("AUTHGRAPH_MASTER_KEY_FILE", &key_file)
            .args(args)
            .output()
            .unwrap()
    };
    // First start: an empty database gets a new master key and an encrypted signing key.
    let out = run(&["keys", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(key_file.exists());
    let listed = String::from_utf8(out.stdout).unwrap();
    let key = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();

    for args in [&["keys", "list"][..], &["admin-token"][..]] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("master key file") && stderr.contains("missing"), "{stderr}");
        assert!(stderr.contains(&key_file.display().to_string()), "names the path: {stderr}");
        assert!(stderr.contains("master_key_file"), "names the setting: {stderr}");
        assert!(!stderr.contains("wrong master key"), "{stderr}");
        assert!(!key_file.exists(), "no new key was written");
    }
    // With the file restored, the same keys load as before.
    std::fs::write(&key_file, key).unwrap();
    let out = run(&["keys", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), listed);
}

/// The banner's `admin-token` command, run as printed, gives a token that the running
/// server accepts, also when the server listens on an address that is not the default.
#[tokio::test]
async fn the_banners_admin_token_command_works_against_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::helpers::fresh_database(&dir).await;
    let config = dir.path().join("server.toml");
    std::fs::write(&config, format!("master_key_file = \"{}\"\n", dir.path().join("m.key").display())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = KillOnDrop(
        bin()
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .args(["--config", config.to_str().unwrap(), "--database-url", &database_url, "--listen", &listen, "serve"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let command = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("Admin token:").map(|(_, rest)| rest.to_owned()))
        .expect("the banner prints an admin-token command");
    let command = command.split("   (").next().unwrap().trim().to_owned();
    assert!(command.contains(&format!("--listen {listen}")), "{command}");
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[0], "authgraph", "{command}");
    // Run it from elsewhere: the command carries everything it needs.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = bin().current_dir(elsewhere.path()).env_remove("RUST_LOG").args(&args[1..]).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let res = reqwest::Client::new()
        .post(format!("http://{listen}/_api/admin/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": "{ users { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["users"]["totalCount"], 0, "{body}");
}

/// A server process that is killed when the test ends, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--version` names the version and the commit the binary was built from.
#[test]
fn version_prints_the_version_and_the_commit() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(&format!("authgraph {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    let commit = text.trim().rsplit(' ').next().unwrap().trim_end_matches(')');
    assert!(commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())), "{text}");
}

/// A SQLite URL is read as sqlx reads it: a percent-encoded path (`my%20data` for a folder
/// with a space) names the decoded file, for the start-up lock as for the database.
#[test]
fn a_percent_encoded_sqlite_path_is_the_decoded_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("my data")).unwrap();
    let url = format!("sqlite://{}/my%20data/a.db", dir.path().display());
    let run = |arg: &str| {
        bin()
            .current_dir(dir.path())
            .env("AUTHGRAPH_DATABASE_URL", &url)
            .env("AUTHGRAPH_MASTER_KEY_FILE", dir.path().join("master.key"))
            .arg(arg)
            .output()
            .unwrap()
    };
    let out = run("migrate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("my data/a.db").exists());
    let out = run("admin-token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
