//! When a token is valid: its `nbf`..`exp` window, judged by the clock port with a small leeway.

use auth_core::Timestamp;
use auth_core::token::TokenError;
use std::time::Duration;

/// Tolerated clock skew, applied to both `nbf` and `exp`.
///
/// Tokens are issued on one node and verified on another (or in another service), whose clocks
/// may disagree by a second or two; without leeway a fresh token could look not-yet-valid there.
/// Five seconds covers ordinary NTP skew and extends a 15-minute token's life by under 1 %.
pub const LEEWAY: Duration = Duration::from_secs(5);

/// A JWT NumericDate (whole seconds) as a timestamp; `None` if it cannot be one.
pub(crate) fn from_secs(secs: i64) -> Option<Timestamp> {
    secs.checked_mul(1000).map(Timestamp::from_millis)
}

/// Whether `now` lies in `[nbf - LEEWAY, exp + LEEWAY)`. `exp` itself is the first instant at which
/// the token is no longer accepted (RFC 7519 §4.1.4).
pub(crate) fn check_window(now: Timestamp, nbf: Option<i64>, exp: i64) -> Result<(), TokenError> {
    let exp = from_secs(exp).ok_or(TokenError::Invalid)?;
    if now >= exp.plus(LEEWAY) {
        return Err(TokenError::Invalid);
    }
    if let Some(nbf) = nbf {
        let nbf = from_secs(nbf).ok_or(TokenError::Invalid)?;
        if now < nbf.minus(LEEWAY) {
            return Err(TokenError::Invalid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn the_window_is_half_open_and_widened_by_the_leeway() {
        // nbf = 100 s, exp = 200 s, leeway 5 s: valid from 95 s up to, not including, 205 s.
        assert_eq!(
            check_window(at(94_999), Some(100), 200),
            Err(TokenError::Invalid)
        );
        assert_eq!(check_window(at(95_000), Some(100), 200), Ok(()));
        assert_eq!(check_window(at(204_999), Some(100), 200), Ok(()));
        assert_eq!(
            check_window(at(205_000), Some(100), 200),
            Err(TokenError::Invalid)
        );
        assert_eq!(check_window(at(0), None, 200), Ok(()));
    }

    #[test]
    fn numeric_dates_that_overflow_are_invalid_not_a_panic() {
        assert_eq!(from_secs(i64::MAX), None);
        assert_eq!(
            check_window(at(0), None, i64::MAX),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            check_window(at(0), Some(i64::MIN), 200),
            Err(TokenError::Invalid)
        );
    }
}
