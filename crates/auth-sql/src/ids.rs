//! How a dialect stores the domain's ids: SQLite as canonical text, PostgreSQL as `uuid`.

use crate::error::corrupt;
use auth_core::ids::{AttemptId, PasskeyId, SessionId, UserId};
use auth_core::ports::StoreError;
use uuid::Uuid;

/// One of the domain's uuid-backed ids.
pub trait DomainId: Sized {
    /// Reads the canonical text form; `None` for anything else.
    fn parse(s: &str) -> Option<Self>;
    /// Wraps a uuid.
    fn from_uuid(id: Uuid) -> Self;
}

macro_rules! domain_ids {
    ($($id:ty),*) => {$(
        impl DomainId for $id {
            fn parse(s: &str) -> Option<Self> {
                <$id>::parse(s)
            }

            fn from_uuid(id: Uuid) -> Self {
                <$id>::from_uuid(id)
            }
        }
    )*};
}

domain_ids!(UserId, SessionId, PasskeyId, AttemptId);

/// The column type a dialect stores ids in.
pub trait IdColumn {
    /// Reads the id in the column `what` names, refusing one the domain would not accept.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming `what` (never the value).
    fn into_id<T: DomainId>(self, what: &str) -> Result<T, StoreError>;
}

/// SQLite: ids are text, and text may hold anything.
impl IdColumn for String {
    fn into_id<T: DomainId>(self, what: &str) -> Result<T, StoreError> {
        T::parse(&self).ok_or_else(|| corrupt(what))
    }
}

/// PostgreSQL: the column type already guarantees a uuid.
impl IdColumn for Uuid {
    fn into_id<T: DomainId>(self, _what: &str) -> Result<T, StoreError> {
        Ok(T::from_uuid(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_are_parsed_and_refused_by_the_domain_rule() {
        let id = Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef);
        let user: UserId = id.to_string().into_id("users.id").unwrap();
        assert_eq!(user.as_uuid(), &id);
        let session: SessionId = id.into_id("sessions.id").unwrap();
        assert_eq!(session.as_uuid(), &id);
        let bad =
            String::from("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").into_id::<UserId>("users.id");
        assert!(
            matches!(&bad, Err(StoreError::Corrupt(m)) if m == "unreadable users.id"),
            "{bad:?}"
        );
    }
}
