//! The generator: a seeded SplitMix64, a pool of values of every sort, and the ways a
//! good value or a text is made bad and encoded.

use crate::hostile_input::enc;

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, plenty for picking inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values of every sort, raw (not yet encoded).
pub(super) struct Pool {
    pub(super) strings: Vec<String>,
    pub(super) ids: Vec<String>,
}

impl Pool {
    pub(super) fn string(&self, rng: &mut Rng) -> String {
        match rng.below(16) {
            0..=3 => rng.pick(&self.strings).clone(),
            4 => rng.pick(&self.ids).clone(),
            5 => {
                let n = rng.below(40);
                (0..n).map(|_| (b' ' + rng.below(95) as u8) as char).collect()
            }
            6 => {
                let n = rng.below(20);
                (0..n).filter_map(|_| char::from_u32(rng.below(0x11_0000) as u32)).collect()
            }
            7 | 8 => rng.pick(HOSTILE).to_string(),
            9 => {
                let unit = rng.pick(&["a", "é", "\u{0}", "%", "😀", "\r\n", "&=", "\\\""]).to_string();
                unit.repeat(*rng.pick(&[300usize, 4_097, 70_000]))
            }
            10 => rng
                .pick(&["0", "-1", "101", "1e309", "NaN", "99999999999999999999", "true", "null", "[]", "{}"])
                .to_string(),
            11..=14 => {
                let good = rng.pick(&self.strings).clone();
                alter(rng, &good)
            }
            _ => String::new(),
        }
    }
}

/// A good value made bad: a hostile character put in, cut short, doubled, or grown huge.
pub(super) fn alter(rng: &mut Rng, good: &str) -> String {
    let mut s: Vec<char> = good.chars().collect();
    let i = rng.below(s.len() + 1);
    match rng.below(6) {
        0 | 1 => s.insert(
            i,
            *rng.pick(&[
                '\0', '\0', '\r', '\n', '\'', '"', '\\', '%', '\u{ffff}', '\u{fffd}', ' ', '\u{202e}', '\u{1}',
            ]),
        ),
        2 if i < s.len() => s[i] = *rng.pick(&['\0', 'x', '"', '%', '\u{ffff}', ' ']),
        3 => s.truncate(i),
        4 => {
            let copy = s.clone();
            s.extend(copy);
        }
        _ => s.extend(std::iter::repeat_n('a', *rng.pick(&[100usize, 5_000, 100_000]))),
    }
    s.into_iter().collect()
}

const HOSTILE: &[&str] = &[
    "\u{0}",
    "a\u{0}b",
    "\r\nSet-Cookie: x=1",
    "'\"\\",
    "\u{fffd}",
    "\u{202e}",
    "\u{1}\u{1f}\u{7f}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "%FF",
    "%",
    " ",
    "${jndi}",
    "{{7*7}}",
    "Robert'); DROP TABLE users;--",
];

/// A random value from the pool, encoded.
pub(super) fn encoded(rng: &mut Rng, pool: &Pool) -> String {
    let s = pool.string(rng);
    encode(rng, &s)
}

/// Percent-encodes `s`, or now and then leaves it raw or encodes it oddly.
pub(super) fn encode(rng: &mut Rng, s: &str) -> String {
    match rng.below(10) {
        0 => s.to_owned(),
        1 => s.bytes().map(|b| format!("%{b:02X}")).collect(),
        2 => {
            // Raw bytes that are not UTF-8, percent-encoded.
            let n = 1 + rng.below(6);
            (0..n).map(|_| format!("%{:02X}", 0x80 + rng.below(0x80))).collect()
        }
        _ => enc(s),
    }
}

/// Breaks text the way a careless client or an attacker would.
pub(super) fn mangle_text(rng: &mut Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return "{".to_owned();
    }
    let i = rng.below(chars.len());
    let mut out: Vec<char> = chars.clone();
    match rng.below(5) {
        0 => out.truncate(i),
        1 => out.insert(
            i,
            *rng.pick(&['{', '}', '(', ')', '[', ']', ':', '$', '@', '!', '.', '"', '\\', '#', '\0', '\u{feff}']),
        ),
        2 => {
            let j = i + rng.below(chars.len() - i);
            out.splice(i..i, chars[i..j].iter().copied());
        }
        3 => out.retain(|c| !matches!(c, '}' | ')') || rng.chance(70)),
        _ => {
            out.remove(i);
        }
    }
    out.into_iter().collect()
}
