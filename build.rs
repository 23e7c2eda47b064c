//! Records the git commit the binary is built from, for `authgraph --version`
//! (`BUILD_GIT_COMMIT`: the short hash, or "unknown" outside a git checkout or
//! without git). Not `AUTHGRAPH_`-prefixed: cargo also sets it when it runs the binary
//! (`cargo run`, tests), and the config reads every `AUTHGRAPH_*` variable as a key.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BUILD_GIT_COMMIT={commit}");
    // Build again when HEAD moves: HEAD itself (a checkout), the branch's ref (a commit)
    // and packed-refs. In a worktree HEAD is in its own git dir and refs in the common one.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={}", Path::new(&dir).join("HEAD").display());
    }
    if let (Some(common), Some(head_ref)) =
        (git(&["rev-parse", "--git-common-dir"]), git(&["symbolic-ref", "-q", "HEAD"]))
    {
        let common = Path::new(&common);
        for path in [common.join(&head_ref), common.join("packed-refs")] {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
