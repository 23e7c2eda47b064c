//! The body signature of every request to a handler: Authgear's
//! `x-authgear-body-signature`, the lower-case hex of HMAC-SHA256 of the body.

use aws_lc_rs::hmac;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-authgear-body-signature";

/// The signature of `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    data_encoding::HEXLOWER.encode(hmac::sign(&key, body).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
