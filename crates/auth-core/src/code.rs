//! One-time codes: generation from the random port, tolerant parsing, and the keyed hash that is
//! all a store ever sees.
//!
//! The stored hash is `HMAC-SHA-256(pepper, "otp-v1" | attempt id | client secret | code)`. The
//! client secret travels only inside the client's attempt token, so a leaked attempt table, even
//! together with the pepper, cannot be brute-forced offline, a code typed without the attempt token
//! is useless, and two equal codes never share a hash.

use crate::ids::AttemptId;
use crate::ports::Rng;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

/// The alphabet of codes: the 32 symbols of `A-Z0-9` that cannot be mistaken for one another (no
/// I, L, O or U), so every symbol carries exactly 5 bits.
pub const ALPHABET: &[u8; 32] = b"ABCDEFGHJKMNPQRSTVWXYZ0123456789";

/// The shortest code length the policy accepts: 32^8 is 2^40.
pub const MIN_CODE_LEN: usize = 8;
/// The longest code length the policy accepts.
pub const MAX_CODE_LEN: usize = 16;

/// A one-time code in canonical form (upper case, no separators). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

/// Why input is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not the configured number of symbols.
    #[error("the code must be {expected} characters long")]
    Length {
        /// The configured code length.
        expected: usize,
    },
    /// A symbol that is not part of any code (outside `A-Z0-9`, or a `U`).
    #[error("the code may only contain letters A-Z (but no U) and digits 0-9")]
    Alphabet,
}

impl OtpCode {
    /// A fresh code of `len` symbols, uniformly distributed: 32 divides 256, so the low five bits
    /// of a uniform byte are uniform over the alphabet (no modulo bias, nothing to reject).
    pub fn generate(rng: &dyn Rng, len: usize) -> Self {
        let mut buf = vec![0u8; len];
        rng.fill(&mut buf);
        let out = buf
            .iter()
            .map(|&b| char::from(ALPHABET[usize::from(b & 0x1f)]))
            .collect();
        Self(out)
    }

    /// Parses what a person typed: case-insensitive, spaces and dashes ignored, and the look-alikes
    /// that codes never contain read as what they look like: O as 0, I and L as 1.
    pub fn parse(input: &str, len: usize) -> Result<Self, CodeError> {
        let mut out = String::with_capacity(len);
        for c in input.chars() {
            if c == ' ' || c == '-' || c == '\u{a0}' || c == '\t' {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(CodeError::Alphabet);
            }
            if out.len() == len {
                return Err(CodeError::Length { expected: len });
            }
            out.push(c);
        }
        if out.len() != len {
            return Err(CodeError::Length { expected: len });
        }
        Ok(Self(out))
    }

    /// The canonical code, for the mail that carries it and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The code grouped for reading: groups of at most four, as even as can be and the longer
    /// ones first, so that no length leaves a lone symbol at the end (`ABCD-EFGH`,
    /// `ABC-DEF-GHI`, `ABCD-EFG-HIJ`).
    pub fn display_grouped(&self) -> String {
        let len = self.0.len();
        let groups = len.div_ceil(4).max(1);
        let (short, longer) = (len / groups, len % groups);
        let mut s = String::with_capacity(len + groups);
        let mut chars = self.0.chars();
        for g in 0..groups {
            if g > 0 {
                s.push('-');
            }
            let size = short + usize::from(g < longer);
            s.extend(chars.by_ref().take(size));
        }
        s
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([redacted])")
    }
}

/// The random secret that only the client's attempt token carries.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret([u8; 32]);

impl ClientSecret {
    /// A fresh secret.
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut b = [0u8; 32];
        rng.fill(&mut b);
        Self(b)
    }

    /// Wraps bytes read back from an attempt token.
    pub const fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// The raw bytes, for the attempt token.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A keyed hash of a code, as stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeHash(pub [u8; 32]);

impl CodeHash {
    /// Compares in constant time.
    pub fn matches(&self, other: &CodeHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash([redacted])")
    }
}

/// The server-side key ("pepper") of the code hash.
#[derive(Clone)]
pub struct CodeHasher {
    mac: Hmac<Sha256>,
}

impl CodeHasher {
    /// A hasher keyed with `pepper`, which must hold at least 32 bytes.
    pub fn new(pepper: &[u8]) -> Result<Self, PepperTooShort> {
        if pepper.len() < 32 {
            return Err(PepperTooShort);
        }
        let mac = Hmac::<Sha256>::new_from_slice(pepper).map_err(|_| PepperTooShort)?;
        Ok(Self { mac })
    }

    /// The hash bound to this attempt and to the client's secret.
    pub fn hash(&self, attempt: &AttemptId, secret: &ClientSecret, code: &OtpCode) -> CodeHash {
        let mut mac = self.mac.clone();
        mac.update(b"otp-v1");
        mac.update(attempt.as_uuid().as_bytes());
        mac.update(&secret.0);
        mac.update(code.0.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher([redacted])")
    }
}

/// The pepper is shorter than 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the code pepper must be at least 32 bytes")]
pub struct PepperTooShort;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;
    use crate::ports::Rng as RandomSource;
    use proptest::prelude::*;

    #[test]
    fn generated_codes_have_the_length_and_alphabet() {
        for len in [8, 10, 16] {
            let c = OtpCode::generate(&OsRng, len);
            assert_eq!(c.expose().len(), len);
            assert!(c.expose().bytes().all(|b| ALPHABET.contains(&b)));
        }
    }

    #[test]
    fn every_symbol_is_drawn_about_equally_often() {
        let mut counts = [0u32; 32];
        for _ in 0..2_000 {
            for b in OtpCode::generate(&OsRng, 8).expose().bytes() {
                counts[ALPHABET.iter().position(|&a| a == b).unwrap()] += 1;
            }
        }
        // 16000 draws, 500 expected per symbol; a biased generator lands far outside this band.
        assert!(
            counts.iter().all(|&n| (350..650).contains(&n)),
            "{counts:?}"
        );
    }

    /// A random source that hands out every byte value in turn.
    struct Sweep(std::sync::atomic::AtomicU8);

    impl RandomSource for Sweep {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn every_byte_value_maps_to_a_symbol_and_every_symbol_gets_the_same_share() {
        // 256 bytes, each value once: an unbiased mapping gives each of the 32 symbols exactly 8.
        let rng = Sweep(std::sync::atomic::AtomicU8::new(0));
        let mut counts = [0u32; 32];
        for _ in 0..32 {
            for b in OtpCode::generate(&rng, 8).expose().bytes() {
                counts[ALPHABET.iter().position(|&a| a == b).unwrap()] += 1;
            }
        }
        assert_eq!(counts, [8; 32]);
    }

    #[test]
    fn the_alphabet_has_32_distinct_symbols_without_look_alikes() {
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
        for look_alike in *b"ILOU" {
            assert!(
                !ALPHABET.contains(&look_alike),
                "{}",
                char::from(look_alike)
            );
        }
        assert!(
            ALPHABET
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn parse_reads_o_as_zero_and_i_or_l_as_one() {
        assert_eq!(OtpCode::parse("oOiI-lL23", 8).unwrap().expose(), "00111123");
        assert_eq!(OtpCode::parse("ABCD-EFGU", 8), Err(CodeError::Alphabet));
        assert_eq!(OtpCode::parse("abcd-efgu", 8), Err(CodeError::Alphabet));
    }

    #[test]
    fn parse_tolerates_case_spaces_and_dashes() {
        let c = OtpCode::parse(" abcd-12 34 ", 8).unwrap();
        assert_eq!(c.expose(), "ABCD1234");
        assert_eq!(c.display_grouped(), "ABCD-1234");
        assert_eq!(
            OtpCode::parse("ABCD123", 8),
            Err(CodeError::Length { expected: 8 })
        );
        assert_eq!(
            OtpCode::parse("ABCD12345", 8),
            Err(CodeError::Length { expected: 8 })
        );
        assert_eq!(OtpCode::parse("ABCD123_", 8), Err(CodeError::Alphabet));
        assert_eq!(OtpCode::parse("ABCD123É", 8), Err(CodeError::Alphabet));
        assert_eq!(format!("{c:?}"), "OtpCode([redacted])");
    }

    #[test]
    fn every_allowed_length_groups_evenly_without_a_lone_symbol() {
        let all = "ABCDEFGH2345679K";
        let expected = [
            (8, "ABCD-EFGH"),
            (9, "ABC-DEF-GH2"),
            (10, "ABCD-EFG-H23"),
            (11, "ABCD-EFGH-234"),
            (12, "ABCD-EFGH-2345"),
            (13, "ABCD-EFG-H23-456"),
            (14, "ABCD-EFGH-234-567"),
            (15, "ABCD-EFGH-2345-679"),
            (16, "ABCD-EFGH-2345-679K"),
        ];
        for (len, grouped) in expected {
            let code = OtpCode::parse(&all[..len], len).unwrap();
            assert_eq!(code.display_grouped(), grouped, "{len}");
            assert_eq!(
                OtpCode::parse(grouped, len).unwrap(),
                code,
                "{len} reads back"
            );
        }
    }

    #[test]
    fn hash_is_bound_to_attempt_secret_and_code() {
        let h = CodeHasher::new(&[7u8; 32]).unwrap();
        let a = AttemptId::random(&OsRng);
        let b = AttemptId::random(&OsRng);
        let s = ClientSecret::generate(&OsRng);
        let t = ClientSecret::generate(&OsRng);
        let c = OtpCode::parse("ABCD1234", 8).unwrap();
        let d = OtpCode::parse("ABCD1235", 8).unwrap();
        let base = h.hash(&a, &s, &c);
        assert!(base.matches(&h.hash(&a, &s, &c)));
        assert!(!base.matches(&h.hash(&b, &s, &c)));
        assert!(!base.matches(&h.hash(&a, &t, &c)));
        assert!(!base.matches(&h.hash(&a, &s, &d)));
        let other_pepper = CodeHasher::new(&[8u8; 32]).unwrap();
        assert!(!base.matches(&other_pepper.hash(&a, &s, &c)));
        assert!(CodeHasher::new(&[1u8; 31]).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_canonical_symbols(s in "\\PC{0,40}") {
            if let Ok(c) = OtpCode::parse(&s, 8) {
                prop_assert_eq!(c.expose().len(), 8);
                prop_assert!(c.expose().bytes().all(|b| ALPHABET.contains(&b)));
            }
        }

        #[test]
        fn every_generated_code_parses_back_from_any_spelling(
            seed in any::<[u8; 8]>(),
            lower in any::<bool>(),
            grouped in any::<bool>(),
        ) {
            let code = OtpCode(seed.iter().map(|&b| char::from(ALPHABET[usize::from(b & 0x1f)])).collect());
            let mut typed = if grouped { code.display_grouped() } else { code.expose().to_owned() };
            if lower {
                typed = typed.to_ascii_lowercase();
            }
            prop_assert_eq!(OtpCode::parse(&typed, 8), Ok(code));
        }

        #[test]
        fn look_alikes_read_like_the_symbol_they_resemble(s in "[0-9A-HJKMNP-TV-Z]{8}") {
            let typed: String = s.chars().map(|c| match c { '0' => 'O', '1' => 'l', c => c }).collect();
            prop_assert_eq!(OtpCode::parse(&typed, 8), OtpCode::parse(&s, 8));
        }
    }
}
