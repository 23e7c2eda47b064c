//! RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one thread through aws-lc-rs, the
//! library that signs the tokens, to set beside `openssl speed rsa2048` on the same core.
//!
//!   cargo build --release --example rsa_speed && taskset -c 0 target/release/examples/rsa_speed
#![allow(clippy::unwrap_used)]
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use std::time::{Duration, Instant};
fn main() {
    let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let _ = kp.public_key();
    let rng = SystemRandom::new();
    let mut sig = vec![0u8; kp.public_modulus_len()];
    let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < Duration::from_secs(3) {
            kp.sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig).unwrap();
            n += 1;
        }
        println!("aws-lc-rs rsa2048 sign/s: {:.1}", n as f64 / t.elapsed().as_secs_f64());
    }
}
