//! Cryptography: password hashing (and foreign hashes of imported users), the master key, signing keys and JWTs, random secrets,
//! the challenges of `/oauth2/challenge` and the JWTs that devices sign.

pub mod challenge;
pub mod device_jwt;
pub mod foreign_hash;
mod hash_threads;
pub mod jwt;
pub mod master_key;
pub mod password;
pub mod totp;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Lower-case hexadecimal.
pub fn hex(data: impl AsRef<[u8]>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let data = data.as_ref();
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Base64url without padding.
pub fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Appends the base64url encoding (no padding) of `data` to `out`.
pub fn b64_into(data: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(data, out)
}

/// Decodes base64url without padding.
pub fn b64_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data).ok()
}

/// SHA-256 digest.
pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `N` bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The system RNG only fails if the OS has no entropy source at all; then nothing
    // secure can be done, and aborting start-up is the right answer.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut out).expect("system random number generator failed");
    out
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of `data` under `key` (webhook signatures).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::hmac::sign(&key, data).as_ref());
    out
}

/// A uniformly random decimal code of `digits` digits (rejection sampling, no modulo bias).
pub fn random_digits(digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        for b in random_bytes::<16>() {
            // 250 is the largest multiple of 10 that fits in a byte.
            if b < 250 && out.len() < digits {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(super::hex([0x00, 0x0f, 0xa0, 0xff, 0x5c]), "000fa0ff5c");
        assert_eq!(super::hex([]), "");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&all), expected);
    }
}
