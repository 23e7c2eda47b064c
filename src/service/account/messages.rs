//! The text of outgoing messages (emails and SMS): minijinja templates built in, each
//! replaced by the file of the same name in `ui.template_dir` when there is one, like the
//! Auth UI's pages. They live here, not with the pages, because the Admin API sends
//! messages too (`sendResetPasswordMessage`, `sendPassword`).

use minijinja::{Environment, Value, context};

use crate::service::{Error, Result};

/// The built-in message templates, by file name.
pub const BUILTIN: [(&str, &str); 6] = [
    ("email_reset.txt", include_str!("templates/email_reset.txt")),
    ("email_code.txt", include_str!("templates/email_code.txt")),
    ("email_login_link.txt", include_str!("templates/email_login_link.txt")),
    ("email_password.txt", include_str!("templates/email_password.txt")),
    ("sms_code.txt", include_str!("templates/sms_code.txt")),
    ("email_subjects.txt", include_str!("templates/email_subjects.txt")),
];

/// The loaded message templates.
pub struct Messages {
    env: Environment<'static>,
    app_name: String,
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages").finish_non_exhaustive()
    }
}

impl Messages {
    /// Loads the templates; fails on an unreadable override or a syntax error.
    pub fn load(config: &crate::config::Config) -> anyhow::Result<Self> {
        let dir = config.ui.template_dir.as_deref();
        let mut env = Environment::new();
        for (name, builtin) in BUILTIN {
            let text = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(p) => std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
                None => builtin.to_owned(),
            };
            env.add_template_owned(name.to_owned(), text).map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        Ok(Self { env, app_name: config.ui.app_name.clone() })
    }

    /// Renders message `name` with `ctx` (plus `app_name`).
    pub fn render(&self, name: &str, ctx: Value) -> Result<String> {
        let ctx = context! { app_name => self.app_name.clone(), ..ctx };
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map(|s| s.trim().to_owned())
            .map_err(|e| Error::internal(format!("rendering message {name}: {e}")))
    }

    /// The subject line of email `kind` (`email_subjects.txt` holds one macro per kind).
    pub fn subject(&self, kind: &str, lang: Option<&str>) -> Result<String> {
        self.render("email_subjects.txt", context! { kind, lang })
    }
}
