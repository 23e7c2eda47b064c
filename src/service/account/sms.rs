//! Outgoing SMS through a provider: Twilio's REST API, a generic signed webhook, or the
//! server log when none is configured. Each message is audited as `sms.sent` or
//! `sms.error` (recipient, kind and, for errors, the provider's answer; never the body,
//! which holds the code).

use std::time::Duration;

use serde_json::json;

use crate::config::{SmsConfig, SmsProvider};
use crate::crypto::{hex, hmac_sha256};
use crate::service::Account;
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error, Result};

/// Header of the generic webhook that carries the body's signature.
pub const SIGNATURE_HEADER: &str = "x-authgraph-signature";

/// Sends SMS with the configured provider.
pub struct SmsSender {
    config: SmsConfig,
    app_name: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for SmsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSender").field("provider", &self.config.provider).finish()
    }
}

impl SmsSender {
    /// A sender for this configuration (validated at load).
    pub fn new(config: &crate::config::Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { config: config.sms.clone(), app_name: config.ui.app_name.clone(), http })
    }

    /// Sends one message; the error is what the provider said (for the audit log).
    async fn send(&self, to: &str, body: &str, kind: &str) -> std::result::Result<(), String> {
        match self.config.provider {
            SmsProvider::Log => {
                tracing::info!(to, kind, body, "no SMS provider is configured; this SMS was not sent");
                Ok(())
            }
            SmsProvider::Webhook => {
                let w = &self.config.webhook;
                let (Some(url), Some(secret)) = (&w.url, &w.secret) else {
                    return Err("sms.webhook is not configured".into());
                };
                let payload = json!({"to": to, "body": body, "type": kind, "app_name": self.app_name});
                let bytes = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
                let signature = hex(hmac_sha256(secret.expose().as_bytes(), &bytes));
                let res = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, signature)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| format!("webhook unreachable: {}", without_url(&e)))?;
                check_status(res).await
            }
            SmsProvider::Twilio => {
                let t = &self.config.twilio;
                let token = t.auth_token.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
                let url =
                    format!("{}/2010-04-01/Accounts/{}/Messages.json", t.base_url.trim_end_matches('/'), t.account_sid);
                let sender = match (&t.messaging_service_sid, &t.from) {
                    (Some(sid), _) => ("MessagingServiceSid", sid.as_str()),
                    (None, Some(from)) => ("From", from.as_str()),
                    (None, None) => return Err("sms.twilio has neither from nor messaging_service_sid".into()),
                };
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("To", to)
                    .append_pair("Body", body)
                    .append_pair(sender.0, sender.1)
                    .finish();
                let res = self
                    .http
                    .post(url)
                    .basic_auth(&t.account_sid, Some(token))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .map_err(|e| format!("Twilio unreachable: {}", without_url(&e)))?;
                check_status(res).await
            }
        }
    }
}

/// A transport error without the URL (which may carry an account SID).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "<url>");
    }
    if e.is_timeout() { "timed out".into() } else { s }
}

/// 2xx is success; otherwise the status and the start of the provider's answer.
async fn check_status(res: reqwest::Response) -> std::result::Result<(), String> {
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let text = res.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    Err(format!("HTTP {}: {text}", status.as_u16()))
}

impl Account<'_> {
    /// Sends an SMS and records `sms.sent` (or `sms.error`) in the audit log.
    #[tracing::instrument(skip(self, body, actor))]
    pub async fn send_sms(&self, to: &str, body: &str, kind: &str, actor: &Actor) -> Result<()> {
        let result = self.sms.send(to, body, kind).await;
        let (activity, payload) = match &result {
            Ok(()) => ("sms.sent", json!({"recipient": to, "type": kind})),
            Err(e) => ("sms.error", json!({"recipient": to, "type": kind, "error": e})),
        };
        let audit = Audit { actor: actor.clone(), activity: activity.into() };
        self.audit_batch.record(audit::row(&audit, None, payload, now())).await?;
        result.map_err(|e| Error::internal(format!("sending SMS failed: {e}")))
    }
}
