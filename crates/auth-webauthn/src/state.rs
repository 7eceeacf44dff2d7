//! Ceremony state as bytes for the shared ceremony store, so any node can finish what another began.
//!
//! Each kind of state carries its own prefix. The state comes back from our own store, but which
//! ceremony it belongs to is the client's choice: a registration state offered to a sign-in (or
//! anything else that is not ours) is a wrong request, [`WebAuthnError::Rejected`], while a state
//! with the right prefix that no longer parses is our own fault, [`WebAuthnError::Internal`].

use auth_core::passkey::WebAuthnError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which ceremony a kept state belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Registration,
    Login,
}

impl Kind {
    /// The version travels in the prefix, so a future format can be told apart from this one.
    const fn prefix(self) -> &'static [u8] {
        match self {
            Kind::Registration => b"webauthn-registration/1\n",
            Kind::Login => b"webauthn-login/1\n",
        }
    }
}

/// The state of a ceremony of `kind`, as bytes to keep.
pub(crate) fn seal<T: Serialize>(kind: Kind, state: &T) -> Result<Vec<u8>, WebAuthnError> {
    let mut bytes = kind.prefix().to_vec();
    serde_json::to_writer(&mut bytes, state).map_err(|e| {
        WebAuthnError::Internal(format!("cannot serialise the ceremony state: {e}"))
    })?;
    Ok(bytes)
}

/// The state of a ceremony of `kind` from kept bytes.
pub(crate) fn open<T: DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T, WebAuthnError> {
    let json = bytes
        .strip_prefix(kind.prefix())
        .ok_or(WebAuthnError::Rejected)?;
    serde_json::from_slice(json)
        .map_err(|e| WebAuthnError::Internal(format!("cannot read the kept ceremony state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_do_not_stand_in_for_each_other() {
        let sealed = seal(Kind::Login, &vec![1u8, 2, 3]).unwrap();
        assert_eq!(
            open::<Vec<u8>>(Kind::Login, &sealed).unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(
            open::<Vec<u8>>(Kind::Registration, &sealed),
            Err(WebAuthnError::Rejected)
        );
        assert_eq!(
            open::<Vec<u8>>(Kind::Login, b""),
            Err(WebAuthnError::Rejected)
        );
        assert_eq!(
            open::<Vec<u8>>(Kind::Login, b"[1,2,3]"),
            Err(WebAuthnError::Rejected)
        );
        let mut corrupt = Kind::Login.prefix().to_vec();
        corrupt.extend_from_slice(b"{not json");
        assert!(matches!(
            open::<Vec<u8>>(Kind::Login, &corrupt),
            Err(WebAuthnError::Internal(_))
        ));
    }
}
