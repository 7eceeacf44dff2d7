//! SQLite's judgement of its own failures: which result codes mean the data or the file is wrong,
//! and which unique index refused a write. The mapping itself is `auth_sql`'s.

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
    auth_sql::store_error(e, |db| {
        primary_code(db).is_some_and(|code| {
            matches!(
                code,
                SQLITE_CORRUPT
                    | SQLITE_TOOBIG
                    | SQLITE_CONSTRAINT
                    | SQLITE_MISMATCH
                    | SQLITE_NOTADB
            )
        })
    })
}

/// Whether `e` is the unique index on `column` (`table.column`) refusing a write.
pub(crate) fn is_unique_violation_of(e: &sqlx::Error, column: &str) -> bool {
    // SQLite names the violated columns in the message ("UNIQUE constraint failed: users.email"),
    // which tells, say, the address apart from a (vanishingly unlikely) clash of ids.
    auth_sql::refused_by(e, |db| {
        db.is_unique_violation() && db.message().contains(column)
    })
}

fn primary_code(db: &dyn DatabaseError) -> Option<i32> {
    db.code()?
        .parse::<i32>()
        .ok()
        .map(|extended| extended & 0xff)
}
