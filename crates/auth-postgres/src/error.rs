//! PostgreSQL's judgement of its own failures: which SQLSTATEs mean the data is wrong, and which
//! named constraint refused a write. The mapping itself is `auth_sql`'s.

use auth_core::ports::StoreError;

/// Maps a failure to the port error: unreadable data and refused writes are
/// [`StoreError::Corrupt`]; everything else (a refused or lost connection, a pool timeout, a
/// server shutting down, a deadlock, a missing table) is [`StoreError::Unavailable`] and keeps its
/// source for the log.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    auth_sql::store_error(e, |db| db.code().is_some_and(|code| is_data_error(&code)))
}

/// SQLSTATEs that mean the data, not the moment, is wrong: class 22 (data exception), class 23
/// (integrity constraint violation) and the two "corrupted" codes of class XX.
/// <https://www.postgresql.org/docs/current/errcodes-appendix.html>
fn is_data_error(code: &str) -> bool {
    code.starts_with("22") || code.starts_with("23") || code == "XX001" || code == "XX002"
}

/// Whether `e` is the unique constraint on `users.email` refusing a second account for an address.
pub(crate) fn is_email_taken(e: &sqlx::Error) -> bool {
    // PostgreSQL names the violated constraint, which tells the address apart from a (vanishingly
    // unlikely) clash of ids.
    violates(e, "users_email_key", |db| db.is_unique_violation())
}

/// Whether `e` is `constraint` refusing a write, as judged by `kind`.
pub(crate) fn violates(
    e: &sqlx::Error,
    constraint: &str,
    kind: impl FnOnce(&dyn sqlx::error::DatabaseError) -> bool,
) -> bool {
    auth_sql::refused_by(e, |db| db.constraint() == Some(constraint) && kind(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_corrupt_and_the_rest_unavailable() {
        for code in [
            "22003", "22P02", "23505", "23503", "23514", "XX001", "XX002",
        ] {
            assert!(is_data_error(code), "{code}");
        }
        // Connection loss, shutdown, too many connections, deadlock, serialization, missing table.
        for code in [
            "08006", "57P01", "53300", "40P01", "40001", "42P01", "XX000",
        ] {
            assert!(!is_data_error(code), "{code}");
        }
        assert!(matches!(
            store_error(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Corrupt(_)
        ));
    }
}
