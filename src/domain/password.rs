//! Password policy checks (the hashing itself lives in `crypto::password`).

use super::Invalid;
use crate::domain::reason;
use serde::{Deserialize, Serialize};

/// Checks `password` against the policy; the message lists every rule it breaks.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<(), Invalid> {
    let mut broken = Vec::new();
    let len = password.chars().count();
    if len < policy.min_length {
        broken.push(format!("at least {} characters", policy.min_length));
    }
    if len > policy.max_length {
        broken.push(format!("at most {} characters", policy.max_length));
    }
    if policy.uppercase_required && !password.chars().any(char::is_uppercase) {
        broken.push("an upper-case letter".to_owned());
    }
    if policy.lowercase_required && !password.chars().any(char::is_lowercase) {
        broken.push("a lower-case letter".to_owned());
    }
    if policy.alphabet_required && !password.chars().any(char::is_alphabetic) {
        broken.push("a letter".to_owned());
    }
    if policy.digit_required && !password.chars().any(|c| c.is_ascii_digit()) {
        broken.push("a digit".to_owned());
    }
    if policy.symbol_required && !password.chars().any(|c| !c.is_alphanumeric()) {
        broken.push("a symbol".to_owned());
    }
    let lower = password.to_lowercase();
    if policy.excluded_keywords.iter().any(|k| !k.is_empty() && lower.contains(&k.to_lowercase())) {
        broken.push("none of the excluded keywords".to_owned());
    }
    let mut sentences = Vec::new();
    if !broken.is_empty() {
        sentences.push(format!("the password must contain {}", broken.join(", ")));
    }
    if policy.minimum_guessable_level > 0 && len <= policy.max_length {
        let level = guessable_level(password, &policy.excluded_keywords);
        if level < policy.minimum_guessable_level {
            sentences.push(format!(
                "the password is too easy to guess (strength {level} of 4, at least {} needed): make it longer, \
                 and avoid common words, names, keyboard patterns and sequences such as 123",
                policy.minimum_guessable_level
            ));
        }
    }
    if sentences.is_empty() {
        Ok(())
    } else {
        Err(Invalid::new(reason::PASSWORD_POLICY_VIOLATED, sentences.join("; ")))
    }
}

/// The most history entries a password is checked against: each costs one Argon2
/// verification (about 20 ms of a core), so `history_size` is at most this and
/// `history_days` looks at no more than this many of the newest passwords either.
pub const MAX_PASSWORD_HISTORY: usize = 12;

/// Very common passwords and words they are built from (after lower-casing and undoing
/// common letter-for-digit swaps), ranked roughly by frequency.
const COMMON: &[&str] = &[
    "password",
    "123456",
    "qwerty",
    "abc123",
    "letmein",
    "welcome",
    "admin",
    "iloveyou",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "master",
    "login",
    "princess",
    "sunshine",
    "shadow",
    "superman",
    "michael",
    "trustno",
    "secret",
    "passw",
    "pass",
    "hello",
    "freedom",
    "whatever",
    "qazwsx",
    "asdf",
    "zxcv",
    "starwars",
    "batman",
    "summer",
    "winter",
    "spring",
    "autumn",
    "computer",
    "internet",
    "changeme",
    "default",
    "user",
    "test",
    "guest",
    "root",
    "love",
    "god",
    "jesus",
    "soccer",
    "hockey",
    "killer",
    "pokemon",
    "charlie",
    "jordan",
    "hunter",
    "ranger",
    "buster",
    "thomas",
    "robert",
    "daniel",
    "andrew",
    "ginger",
    "pepper",
    "cookie",
    "cheese",
    "chocolate",
    "flower",
    "orange",
    "banana",
    "purple",
    "yellow",
    "silver",
    "golden",
    "diamond",
    "angel",
    "lovely",
    "family",
    "friend",
    "money",
    "access",
    "matrix",
    "secure",
    "service",
    "company",
];

/// Keyboard rows, walked forwards or backwards.
const KEYBOARD_ROWS: &[&str] = &["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz"];

fn unleet(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '5' | '$' => 's',
        '7' => 't',
        '8' => 'b',
        _ => c,
    }
}

/// How hard `password` is to guess, on zxcvbn's scale: 0 (too guessable, under 10³
/// guesses), 1 (under 10⁶), 2 (under 10⁸), 3 (under 10¹⁰), 4 (more). A small estimator in
/// zxcvbn's spirit, not zxcvbn itself: common passwords and words (a built-in list, plus
/// `keywords` such as the service's name), keyboard rows, alphabetical and numeric
/// sequences and repeated characters each count as a few guesses; every other character
/// multiplies the guesses by the size of its character class (10 digits, 26 letters of a
/// case, 33 symbols, 100 for anything else).
pub fn guessable_level(password: &str, keywords: &[String]) -> u8 {
    let chars: Vec<char> = password.chars().collect();
    let plain: Vec<char> = password.to_lowercase().chars().collect();
    let unleeted: Vec<char> = plain.iter().map(|&c| unleet(c)).collect();
    let words: Vec<Vec<char>> = COMMON
        .iter()
        .map(|w| (*w).to_owned())
        .chain(keywords.iter().map(|k| k.to_lowercase()))
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.chars().collect())
        .collect();
    let mut log10 = 0.0_f64;
    let mut i = 0;
    while i < chars.len() {
        // The longest pattern starting here, and its guesses.
        let mut best: Option<(usize, f64)> = None;
        let mut consider = |len: usize, guesses: f64| {
            if len >= 3 && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, guesses));
            }
        };
        for (rank, w) in words.iter().enumerate() {
            for text in [&plain, &unleeted] {
                if text[i..].starts_with(w) {
                    let cased = if chars[i..i + w.len()].iter().any(|c| c.is_uppercase()) { 4.0 } else { 1.0 };
                    consider(w.len(), (rank as f64 + 2.0) * 2.0 * cased);
                }
            }
        }
        let run = chars[i..].iter().take_while(|&&c| c == chars[i]).count();
        consider(run, 40.0 * run as f64);
        for row in KEYBOARD_ROWS {
            let row: Vec<char> = row.chars().collect();
            for dir in [1_i64, -1] {
                let mut len = 0;
                let mut pos = row.iter().position(|&c| c == plain[i]);
                while let Some(p) = pos {
                    if i + len >= plain.len() || plain[i + len] != row[p] {
                        break;
                    }
                    len += 1;
                    pos = usize::try_from(p as i64 + dir).ok().filter(|&q| q < row.len());
                }
                consider(len, 40.0 * len as f64);
            }
        }
        match best {
            Some((len, guesses)) => {
                log10 += guesses.log10();
                i += len;
            }
            None => {
                let c = chars[i];
                let class: f64 = if c.is_ascii_digit() {
                    10.0
                } else if c.is_ascii_lowercase() || c.is_ascii_uppercase() {
                    26.0
                } else if c.is_ascii() {
                    33.0
                } else {
                    100.0
                };
                log10 += class.log10();
                i += 1;
            }
        }
    }
    match log10 {
        x if x < 3.0 => 0,
        x if x < 6.0 => 1,
        x if x < 8.0 => 2,
        x if x < 10.0 => 3,
        _ => 4,
    }
}

/// The policy as sentences a person reads before choosing a password.
pub fn describe_policy(policy: &PasswordPolicy) -> Vec<String> {
    let mut rules = vec![format!("At least {} characters.", policy.min_length)];
    let mut needs = Vec::new();
    if policy.uppercase_required {
        needs.push("an upper-case letter");
    }
    if policy.lowercase_required {
        needs.push("a lower-case letter");
    }
    if policy.alphabet_required {
        needs.push("a letter");
    }
    if policy.digit_required {
        needs.push("a digit");
    }
    if policy.symbol_required {
        needs.push("a symbol");
    }
    if !needs.is_empty() {
        rules.push(format!("Contains {}.", needs.join(", ")));
    }
    if !policy.excluded_keywords.is_empty() {
        rules.push("Does not contain the name of this service or other common words.".into());
    }
    if policy.minimum_guessable_level >= 3 {
        rules.push("Hard to guess: long, without common words, names, keyboard patterns or sequences.".into());
    } else if policy.minimum_guessable_level > 0 {
        rules.push("Not one of the most common passwords or patterns.".into());
    }
    if policy.history_size > 0 || policy.history_days > 0 {
        rules.push("Not one of your recent passwords.".into());
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let mut p = PasswordPolicy::default();
        assert!(check_policy(&p, "short").is_err());
        assert!(check_policy(&p, "long enough").is_ok());
        p.digit_required = true;
        p.uppercase_required = true;
        let err = check_policy(&p, "long enough").unwrap_err();
        assert!(err.message.contains("a digit"));
        assert!(err.message.contains("upper-case"));
    }

    #[test]
    fn guessable() {
        for weak in ["password123", "Password123!", "qwerty123", "aaaaaaaaaaaa", "12345678", "P@ssw0rd", "summer2024"] {
            assert!(guessable_level(weak, &[]) < 3, "{weak} scored {}", guessable_level(weak, &[]));
        }
        for strong in ["vK9#mQ2$xL7!", "correct-Horse-battery-7staple", "tq8Lz!pW4rN2"] {
            assert_eq!(guessable_level(strong, &[]), 4, "{strong}");
        }
        assert!(guessable_level("authgraph2024", &["authgraph".into()]) < 3);
        for (p, level) in [("password123", 0), ("Password123!", 1), ("qwerty123", 0), ("vK9#mQ2$xL7!tz", 4)] {
            assert_eq!(guessable_level(p, &[]), level, "{p}");
        }
        let p = PasswordPolicy { minimum_guessable_level: 3, ..PasswordPolicy::default() };
        assert!(check_policy(&p, "password123").unwrap_err().message.contains("too easy to guess"));
    }
}

/// Rules a new password must follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters (Argon2 input is bounded).
    pub max_length: usize,
    /// At least one upper-case letter.
    pub uppercase_required: bool,
    /// At least one lower-case letter.
    pub lowercase_required: bool,
    /// At least one letter.
    pub alphabet_required: bool,
    /// At least one digit.
    pub digit_required: bool,
    /// At least one character that is neither a letter nor a digit.
    pub symbol_required: bool,
    /// Words a password must not contain (case-insensitive).
    pub excluded_keywords: Vec<String>,
    /// The lowest strength a new password may have, 0 (any) to 4, on zxcvbn's scale
    /// (see [`guessable_level`]).
    pub minimum_guessable_level: u8,
    /// A new password may not equal any of the user's last this many passwords (the
    /// current one included); at most [`MAX_PASSWORD_HISTORY`]. 0: no such rule.
    pub history_size: usize,
    /// A new password may not equal any password the user set within this many days
    /// (among the newest [`MAX_PASSWORD_HISTORY`]). 0: no such rule.
    pub history_days: u32,
    /// A user whose current password breaks this policy must change it when signing in
    /// (Authgear's `force_change`).
    pub force_change: bool,
    /// When a password gets too old.
    pub expiry: PasswordExpiry,
}

/// When a password expires by age (Authgear's `expiry`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordExpiry {
    /// Force a change at sign-in after some time.
    pub force_change: ForceChange,
}

/// `expiry.force_change`: a password older than the duration must be changed at sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForceChange {
    /// Whether passwords expire by age.
    pub enabled: bool,
    /// Seconds since the password was last set after which it must be changed
    /// (Authgear's `duration_since_last_update`; default 90 days).
    pub duration_since_last_update_seconds: i64,
}

impl Default for ForceChange {
    fn default() -> Self {
        Self { enabled: false, duration_since_last_update_seconds: 90 * 86_400 }
    }
}

impl PasswordPolicy {
    /// How many of the newest password hashes to keep per user: none when no history
    /// rule is on, else enough for both rules (at most [`MAX_PASSWORD_HISTORY`]).
    pub fn history_kept(&self) -> usize {
        if self.history_days > 0 { MAX_PASSWORD_HISTORY } else { self.history_size.min(MAX_PASSWORD_HISTORY) }
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
            uppercase_required: false,
            lowercase_required: false,
            alphabet_required: false,
            digit_required: false,
            symbol_required: false,
            excluded_keywords: Vec::new(),
            minimum_guessable_level: 0,
            history_size: 0,
            history_days: 0,
            force_change: true,
            expiry: PasswordExpiry::default(),
        }
    }
}
