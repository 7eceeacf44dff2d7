//! The signature-counter rule that flags a possibly cloned passkey.
//!
//! A device-bound authenticator that counts raises its counter on every signature, so a counter
//! that does not rise means two copies of the key are signing (WebAuthn §6.1.1). A synced passkey
//! lives on several devices by design and usually reports 0, so its counter says nothing.
//!
//! Whether a passkey is synced is decided by its backup eligibility *as registered*, never by the
//! flags of the assertion being judged: whoever holds a cloned key signs those flags too, and could
//! otherwise claim "backed up" to slip past the check. Backup eligibility cannot change over a
//! credential's life, and the WebAuthn library refuses an assertion whose eligibility differs from
//! the registered one.

/// Whether an assertion with counter `seen`, for a passkey whose last known counter is `stored`,
/// suggests a clone.
pub(crate) const fn looks_cloned(stored: u32, seen: u32, registered_backup_eligible: bool) -> bool {
    if registered_backup_eligible {
        return false;
    }
    // Both zero: an authenticator that does not count. Otherwise it must strictly rise.
    (stored != 0 || seen != 0) && seen <= stored
}

#[cfg(test)]
mod tests {
    use super::looks_cloned;

    #[test]
    fn device_bound_counters_must_rise() {
        let device_bound = false;
        for (stored, seen, cloned) in [
            (0, 0, false), // does not count at all
            (0, 1, false),
            (1, 2, false),
            (5, 900, false), // gaps are fine: another RP may share a global counter
            (2, 2, true),    // did not rise
            (5, 3, true),    // went back
            (5, 0, true),    // stopped counting
            (u32::MAX, u32::MAX, true),
        ] {
            assert_eq!(
                looks_cloned(stored, seen, device_bound),
                cloned,
                "stored {stored}, seen {seen}"
            );
        }
    }

    #[test]
    fn synced_passkeys_are_never_judged_by_their_counter() {
        for (stored, seen) in [(0, 0), (5, 3), (5, 0), (2, 2), (1, 2)] {
            assert!(
                !looks_cloned(stored, seen, true),
                "stored {stored}, seen {seen}"
            );
        }
    }
}
