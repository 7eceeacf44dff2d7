//! Identifiers: UUIDs made from the random port, so tests can make them deterministic.

use crate::ports::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (version 4) id.
            pub fn random(rng: &dyn Rng) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill(&mut bytes);
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            /// Wraps a UUID read back from a store.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID, for storage.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses the hyphenated text form; anything else is rejected.
            pub fn parse(s: &str) -> Option<Self> {
                if s.len() != 36 {
                    return None;
                }
                Uuid::try_parse(s).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An account.
    UserId
);
uuid_id!(
    /// A signed-in session (one refresh-token family).
    SessionId
);
uuid_id!(
    /// One email-code attempt.
    AttemptId
);
uuid_id!(
    /// A registered passkey.
    PasskeyId
);
uuid_id!(
    /// One WebAuthn ceremony (registration or sign-in) in progress.
    CeremonyId
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::OsRng;

    #[test]
    fn ids_round_trip_through_text_and_reject_other_forms() {
        let id = UserId::random(&OsRng);
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
        assert_eq!(UserId::parse(&id.as_uuid().simple().to_string()), None);
        assert_eq!(UserId::parse("not-a-uuid"), None);
        assert_eq!(id.as_uuid().get_version_num(), 4);
    }
}
