//! Outgoing email over SMTP (lettre, rustls). Without an SMTP host the message is written
//! to the log instead, so that a developer can follow a reset link locally.

use crate::config::{SmtpConfig, SmtpTls};
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::Account;
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error, Result};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use std::time::Duration;

/// Sends email, or logs it when no SMTP server is configured.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("smtp", &self.transport.is_some()).finish()
    }
}

impl Mailer {
    /// A mailer for this configuration (connections are opened when mail is sent).
    pub fn new(cfg: &SmtpConfig) -> anyhow::Result<Self> {
        let from: Mailbox = cfg.from.parse().map_err(|e| anyhow::anyhow!("`smtp.from`: {e}"))?;
        let Some(host) = &cfg.host else { return Ok(Self { transport: None, from }) };
        let builder = match cfg.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        };
        let mut builder = builder.port(cfg.port).timeout(Some(Duration::from_secs(10)));
        if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
        }
        Ok(Self { transport: Some(builder.build()), from })
    }
}

impl Account<'_> {
    /// Sends a plain-text email and records `email.sent` (or `email.error`) in the audit log.
    #[tracing::instrument(skip(self, body, actor))]
    pub async fn send_email(&self, to: &str, subject: &str, body: String, kind: &str, actor: &Actor) -> Result<()> {
        let recipient: Mailbox = to
            .parse()
            .map_err(|_| Error::invalid(reason::INVALID_EMAIL, format!("{} is not an email address", quoted(to))))?;
        let result = match &self.mailer.transport {
            None => {
                tracing::info!(to, subject, body = %body, "no SMTP server is configured; this email was not sent");
                Ok(())
            }
            Some(transport) => {
                let message = Message::builder()
                    .from(self.mailer.from.clone())
                    .to(recipient)
                    .subject(subject)
                    .body(body)
                    .map_err(Error::internal)?;
                transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
            }
        };
        let (activity, payload) = match &result {
            Ok(()) => ("email.sent", json!({"recipient": to, "type": kind})),
            Err(e) => ("email.error", json!({"recipient": to, "type": kind, "error": e})),
        };
        let audit = Audit { actor: actor.clone(), activity: activity.into() };
        self.audit_batch.record(audit::row(&audit, None, payload, now())).await?;
        result.map_err(|e| Error::internal(format!("sending email failed: {e}")))
    }
}
