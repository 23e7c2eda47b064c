//! Bot protection: verifying a Turnstile or reCAPTCHA token with the provider before a
//! form does any expensive work (hashing a password, looking up an account, sending
//! mail). A refusal is audited as `bot_protection.verification.failed` with the
//! provider's error codes; the token and the secret are never logged or stored.
//!
//! A provider that cannot be reached, times out or answers nonsense fails closed: the
//! form is refused and the person is asked to try again. Failing open would let a bot
//! in whenever the provider (or the network to it) is down.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::config::{BotFlow, BotProvider};
use crate::service::store::time::now;
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Account, Actor, Audit};

/// How long the whole call to the provider may take.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest token accepted; longer ones are refused without asking the provider
/// (Turnstile's tokens are at most 2048 characters, reCAPTCHA's a little longer).
const MAX_TOKEN_LEN: usize = 8192;

/// The HTTP client for calls to outside services: a 5-second timeout, no redirects.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(VERIFY_TIMEOUT)
        .connect_timeout(VERIFY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("authgraph/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Why a form's bot-protection check refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotRefusal {
    /// The form carried no token: the challenge was not solved (or scripts are off).
    Missing,
    /// The provider judged the token bad, expired, reused, for another action, or (v3)
    /// scored it below `min_score`.
    Failed,
    /// The provider could not be reached, timed out or answered with an error.
    Unavailable,
}

impl BotRefusal {
    /// What the page tells the person.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Missing => "Complete the check that you are not a robot, then send the form again.",
            Self::Failed => "The check that you are not a robot failed. Complete it again, then send the form again.",
            Self::Unavailable => "We could not verify that you are not a robot right now. Wait a moment and try again.",
        }
    }
}

/// The provider's answer (Turnstile and reCAPTCHA share these fields).
#[derive(Debug, Deserialize)]
struct SiteVerify {
    #[serde(default)]
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
    /// reCAPTCHA v3 only.
    score: Option<f64>,
    action: Option<String>,
}

/// What the check concluded, for the audit row.
struct Verdict {
    refusal: BotRefusal,
    reason: &'static str,
    error_codes: Vec<String>,
    score: Option<f64>,
}

impl Account<'_> {
    /// Whether `flow`'s form must carry a bot-protection token, and in which field.
    pub fn bot_protection_field(&self, flow: BotFlow) -> Option<&'static str> {
        self.config.bot_protection.required_for(flow).map(BotProvider::token_field)
    }

    /// Verifies the token a form carried for `flow` (`None` or empty: none was sent)
    /// with the provider, sending the secret, the token and the caller's IP address.
    /// Does nothing when `flow` does not ask for the challenge. Call it before any
    /// expensive work; a refusal is audited as `bot_protection.verification.failed`.
    /// The flow `send_code` is for the code-sending forms.
    #[tracing::instrument(skip(self, token, actor), fields(flow = flow.as_str()))]
    pub async fn verify_bot_protection(
        &self,
        flow: BotFlow,
        token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), BotRefusal> {
        let Some(provider) = self.config.bot_protection.required_for(flow) else { return Ok(()) };
        self.verify_bot_token(flow, provider, token, actor).await
    }

    /// Verifies `token` for `flow` with `provider` whatever the configuration asks of the
    /// flow's form (a sign-in hook asked for the challenge); as
    /// [`Self::verify_bot_protection`] otherwise.
    pub(in crate::service) async fn verify_bot_token(
        &self,
        flow: BotFlow,
        provider: BotProvider,
        token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), BotRefusal> {
        let cfg = &self.config.bot_protection;
        let verdict = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => Verdict { refusal: BotRefusal::Missing, reason: "missing_token", error_codes: vec![], score: None },
            Some(t) if t.len() > MAX_TOKEN_LEN => Verdict {
                refusal: BotRefusal::Failed,
                reason: "rejected",
                error_codes: vec!["invalid-input-response".into()],
                score: None,
            },
            Some(t) => match self.site_verify(t, actor.ip.as_deref()).await {
                Ok(answer) => match judge(provider, flow, cfg.min_score, answer) {
                    None => return Ok(()),
                    Some(v) => v,
                },
                Err(cause) => {
                    tracing::warn!(%cause, "the bot protection provider could not be asked");
                    Verdict {
                        refusal: BotRefusal::Unavailable,
                        reason: "unavailable",
                        error_codes: vec![],
                        score: None,
                    }
                }
            },
        };
        if verdict.error_codes.iter().any(|c| c.contains("secret")) {
            tracing::error!(codes = ?verdict.error_codes, "the bot protection provider refused the secret key");
        }
        let payload = json!({
            "flow": flow.as_str(),
            "provider": provider.as_str(),
            "reason": verdict.reason,
            "error_codes": verdict.error_codes,
            "score": verdict.score,
        });
        let row = Audit { actor: actor.clone(), activity: "bot_protection.verification.failed".into() };
        if let Err(e) = self.audit_batch.record(audit::row(&row, None, payload, now())).await {
            tracing::error!(cause = %e.describe(), "the bot protection failure could not be audited");
        }
        Err(verdict.refusal)
    }

    /// POSTs the token to the verification endpoint; an error for anything but a 2xx
    /// JSON answer.
    async fn site_verify(&self, token: &str, ip: Option<&str>) -> Result<SiteVerify, String> {
        let cfg = &self.config.bot_protection;
        let (Some(url), Some(secret)) = (cfg.verify_url(), cfg.secret_key.as_ref()) else {
            return Err("bot protection is not configured".into());
        };
        // Built in a block: the serializer is not `Send`, so it must not live across an await.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("secret", secret.expose()).append_pair("response", token);
            if let Some(ip) = ip {
                form.append_pair("remoteip", ip);
            }
            form.finish()
        };
        let res = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {status}"));
        }
        let body = res.bytes().await.map_err(|e| format!("reading the answer failed: {}", e.without_url()))?;
        serde_json::from_slice(&body).map_err(|e| format!("the answer is not siteverify JSON: {e}"))
    }
}

/// The provider's answer judged: `None` passes.
fn judge(provider: BotProvider, flow: BotFlow, min_score: f64, answer: SiteVerify) -> Option<Verdict> {
    let fail =
        |reason, score| Verdict { refusal: BotRefusal::Failed, reason, error_codes: answer.error_codes.clone(), score };
    if !answer.success {
        // A refused secret is the operator's mistake, not the person's: ask them to retry.
        let unavailable = answer.error_codes.iter().any(|c| c.contains("secret") || c == "internal-error");
        let mut v = fail("rejected", answer.score);
        if unavailable {
            v.refusal = BotRefusal::Unavailable;
        }
        return Some(v);
    }
    if provider == BotProvider::Recaptchav3 {
        let score = answer.score.unwrap_or(0.0);
        if score < min_score {
            return Some(fail("low_score", Some(score)));
        }
        if answer.action.as_deref() != Some(flow.as_str()) {
            return Some(fail("action_mismatch", Some(score)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(success: bool, score: Option<f64>, action: Option<&str>, codes: &[&str]) -> SiteVerify {
        SiteVerify {
            success,
            error_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            score,
            action: action.map(str::to_owned),
        }
    }

    #[test]
    fn judges_the_answer() {
        let t = BotProvider::Cloudflare;
        let v3 = BotProvider::Recaptchav3;
        assert!(judge(t, BotFlow::Login, 0.5, answer(true, None, None, &[])).is_none());
        let v = judge(t, BotFlow::Login, 0.5, answer(false, None, None, &["timeout-or-duplicate"])).map(|v| v.refusal);
        assert_eq!(v, Some(BotRefusal::Failed));
        let v = judge(t, BotFlow::Login, 0.5, answer(false, None, None, &["invalid-input-secret"])).map(|v| v.refusal);
        assert_eq!(v, Some(BotRefusal::Unavailable));
        assert!(judge(v3, BotFlow::Login, 0.5, answer(true, Some(0.9), Some("login"), &[])).is_none());
        let low = judge(v3, BotFlow::Login, 0.5, answer(true, Some(0.1), Some("login"), &[])).map(|v| v.reason);
        assert_eq!(low, Some("low_score"));
        let other = judge(v3, BotFlow::Login, 0.5, answer(true, Some(0.9), Some("signup"), &[])).map(|v| v.reason);
        assert_eq!(other, Some("action_mismatch"));
    }
}
