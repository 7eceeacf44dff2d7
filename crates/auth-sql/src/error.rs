//! How sqlx failures become the port errors, and the decoding helpers that refuse values the
//! domain would not accept. Which database codes mean "the data is wrong" is the dialect's to say.

use auth_core::ports::StoreError;
use sqlx::error::DatabaseError;
use sqlx::migrate::MigrateError;
use sqlx::{Database, Executor, IntoArguments, Pool};

/// Maps a failure to the port error: unreadable data and refused writes are
/// [`StoreError::Corrupt`]; everything else (a lost connection, a pool timeout, a busy or
/// shutting-down server, a missing table) is [`StoreError::Unavailable`] and keeps its source
/// for the log. `is_data_error` is the dialect's judgement of a database's own error: whether
/// it means the data or the file, not the moment, is wrong.
pub fn store_error(
    e: sqlx::Error,
    is_data_error: impl FnOnce(&dyn DatabaseError) -> bool,
) -> StoreError {
    let corrupt = match &e {
        sqlx::Error::Database(db) => is_data_error(db.as_ref()),
        sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_) => true,
        _ => false,
    };
    if corrupt {
        StoreError::Corrupt(e.to_string())
    } else {
        StoreError::Unavailable(Box::new(e))
    }
}

/// Maps a failed migration run: a failing statement as `store_error` judges it, unreadable
/// migration files as [`StoreError::Unavailable`], and a database that holds migrations this
/// build does not know, or whose text has changed since they were applied, as
/// [`StoreError::Corrupt`].
pub fn migrate_error(
    e: MigrateError,
    store_error: impl FnOnce(sqlx::Error) -> StoreError,
) -> StoreError {
    match e {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => store_error(e),
        MigrateError::Source(e) => StoreError::Unavailable(e),
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Whether `e` is the database refusing a write in the way `judge` recognises (a unique or
/// foreign-key violation of one named constraint, say: how a dialect names it is its own).
pub fn refused_by(e: &sqlx::Error, judge: impl FnOnce(&dyn DatabaseError) -> bool) -> bool {
    match e {
        sqlx::Error::Database(db) => judge(db.as_ref()),
        _ => false,
    }
}

/// Reads from the schema, so an unmigrated database does not count as ready.
///
/// # Errors
/// The failure of the query, for the caller to map.
pub async fn schema_ready<DB: Database>(pool: &Pool<DB>) -> Result<(), sqlx::Error>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    sqlx::query("SELECT 1 FROM users LIMIT 1")
        .fetch_optional(pool)
        .await
        .map(drop)
}

/// A row holds a value the domain refuses; `what` names the column, never the value.
pub fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

/// Reads a stored 32-byte hash.
///
/// # Errors
/// [`StoreError::Corrupt`] if it has another length.
pub fn hash32(what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt(what))
}

/// Reads a stored count, whatever integer type the dialect keeps it in.
///
/// # Errors
/// [`StoreError::Corrupt`] if it does not fit a `u32`.
pub fn count(what: &str, n: impl TryInto<u32>) -> Result<u32, StoreError> {
    n.try_into().map_err(|_| corrupt(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_failures_are_corrupt_and_the_rest_unavailable() {
        let never = |_: &dyn DatabaseError| panic!("not a database error");
        assert!(matches!(
            store_error(sqlx::Error::PoolTimedOut, never),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound, never),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::ColumnNotFound("x".into()), never),
            StoreError::Corrupt(_)
        ));
        assert!(!refused_by(&sqlx::Error::PoolTimedOut, |_| true));
    }

    #[test]
    fn a_migration_the_build_does_not_know_is_corrupt() {
        assert!(matches!(
            migrate_error(MigrateError::VersionMissing(3), |_| unreachable!()),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            migrate_error(MigrateError::Execute(sqlx::Error::PoolClosed), |e| {
                StoreError::Unavailable(Box::new(e))
            }),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn values_outside_the_domain_are_corrupt() {
        assert_eq!(count("n", -1i64).ok(), None);
        assert_eq!(count("n", 7i32).ok(), Some(7));
        assert_eq!(count("n", 1i64 << 32).ok(), None);
        assert!(hash32("h", &[0; 31]).is_err());
        assert_eq!(hash32("h", &[1; 32]).ok(), Some([1; 32]));
    }
}
