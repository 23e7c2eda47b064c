//! RFC 6238 time-based one-time passwords (HMAC-SHA1, 6 digits, 30-second steps, one
//! neighbouring step accepted each way), `otpauth://` URIs and their QR codes as SVG.

use totp_rs::{Algorithm, Builder, Totp};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a time step.
pub const STEP: u64 = 30;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// A new random secret.
pub fn new_secret() -> [u8; SECRET_LEN] {
    super::random_bytes::<SECRET_LEN>()
}

/// The secret as base32 without padding, as authenticator apps expect it.
pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret.to_vec())
        .build()
        .ok()
}

/// The time step of a code entered at `unix_secs` that matches `code` (the current step
/// or one either side), if any. Spaces in the code are ignored.
pub fn check(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret)?.check(&code, unix_secs)
}

/// The code of the step holding `unix_secs`.
pub fn code_at(secret: &[u8], unix_secs: u64) -> Option<String> {
    Some(totp(secret)?.generate(unix_secs).to_string())
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Key URI that authenticator apps read:
/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        encode(account),
        base32(secret)
    )
}

/// `text` as a QR code, an inline `<svg>` element (no XML declaration).
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
    let start = svg.find("<svg")? + "<svg".len();
    Some(format!("<svg role=\"img\" aria-label=\"QR code\"{}", &svg[start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit codes, last 6 digits).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, code) in
            [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")]
        {
            assert_eq!(code_at(secret, t).as_deref(), Some(code));
            assert_eq!(check(secret, code, t), Some(t / STEP));
            assert_eq!(check(secret, code, t + STEP), Some(t / STEP), "one step late");
            assert_eq!(check(secret, code, t - STEP), Some(t / STEP), "one step early");
            assert_eq!(check(secret, code, t + 2 * STEP), None, "two steps late");
        }
        assert_eq!(check(secret, "28708", 59), None);
        assert_eq!(check(secret, "+87082", 59), None);
        assert_eq!(check(secret, "287 082", 59), Some(1));
    }

    #[test]
    fn uri_and_qr() {
        let uri = otpauth_uri("My App", "ann@example.com", &[0u8; 20]);
        assert_eq!(
            uri,
            "otpauth://totp/My%20App:ann%40example.com?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&issuer=My%20App&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap_or_default();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }
}
