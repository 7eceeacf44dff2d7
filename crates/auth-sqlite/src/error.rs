//! How sqlx and SQLite failures become the port errors, and the decoding helpers that refuse rows
//! the domain would not accept.

use auth_core::ports::StoreError;
use sqlx::error::DatabaseError;

// Primary SQLite result codes (the low byte of an extended code) that mean the data or the file,
// not the moment, is wrong: https://www.sqlite.org/rescode.html
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_TOOBIG: i32 = 18;
const SQLITE_CONSTRAINT: i32 = 19;
const SQLITE_MISMATCH: i32 = 20;
const SQLITE_NOTADB: i32 = 26;

/// Maps a failure to the port error: unreadable data and refused writes are
/// [`StoreError::Corrupt`]; everything else (busy, locked, I/O, a full disk, a pool timeout, a
/// missing table) is [`StoreError::Unavailable`] and keeps its source for the log.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    let corrupt = match &e {
        sqlx::Error::Database(db) => primary_code(db.as_ref()).is_some_and(|code| {
            matches!(
                code,
                SQLITE_CORRUPT
                    | SQLITE_TOOBIG
                    | SQLITE_CONSTRAINT
                    | SQLITE_MISMATCH
                    | SQLITE_NOTADB
            )
        }),
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

/// Whether `e` is the unique index on `users.email` refusing a second account for an address.
pub(crate) fn is_email_taken(e: &sqlx::Error) -> bool {
    // SQLite names the violated columns in the message ("UNIQUE constraint failed: users.email"),
    // which tells the address apart from a (vanishingly unlikely) clash of ids.
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && db.message().contains("users.email")
        }
        _ => false,
    }
}

fn primary_code(db: &dyn DatabaseError) -> Option<i32> {
    db.code()?
        .parse::<i32>()
        .ok()
        .map(|extended| extended & 0xff)
}

/// A row holds a value the domain refuses; `what` names the column, never the value.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable {what}"))
}

/// Reads a stored id with the domain's own parser.
pub(crate) fn parse<T>(
    what: &str,
    s: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(s).ok_or_else(|| corrupt(what))
}

/// Reads a stored 32-byte hash.
pub(crate) fn hash32(what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt(what))
}

/// Reads a stored count.
pub(crate) fn count(what: &str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(what))
}
