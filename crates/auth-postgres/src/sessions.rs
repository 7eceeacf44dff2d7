//! [`SessionRepository`] on `sessions` and `refresh_tokens`: rotation with reuse detection.

use crate::PgStore;
use async_trait::async_trait;
use auth_core::audit::AuditKind;
use auth_core::ids::{PasskeyId, SessionId, UserId};
use auth_core::outbox::WebhookEvents;
use auth_core::passkey::CredentialUse;
use auth_core::ports::{AuditEvent, Lifetimes, SessionRepository, StoreError};
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::{Timestamp, duration_ms};
use auth_core::user::User;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::types::Uuid;

type SessionRow = auth_sql::rows::SessionRow<Uuid>;
type SessionUserRow = auth_sql::rows::SessionUserRow<Uuid>;

macro_rules! session_columns {
    () => {
        "id, user_id, method, created_at, last_seen_at, expires_at, user_agent, ip, revoked_at, \
         client_id, client_scopes"
    };
}

/// The data-modifying CTEs that open a sign-in ([`SessionRepository::open`]): the session, its
/// first refresh token, its audit event and its outbox row (the same rows as
/// [`crate::outbox::write_event`] writes, here as part of the one statement), from parameters
/// `$1` to `$19` (see [`bind_open`]).
/// `$ok` gates them: a query with a row when the sign-in may open, none when it may not (then
/// nothing is written). Written by one statement, they cost one round trip and one commit and are
/// all or nothing; the foreign keys are checked at the end of the statement, when all the rows
/// exist.
macro_rules! open_ctes {
    ($ok:expr) => {
        concat!(
            "ok AS (",
            $ok,
            "), s AS (INSERT INTO sessions (",
            session_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM ok RETURNING id), \
             t AS (INSERT INTO refresh_tokens (hash, session_id) SELECT $12, id FROM s), \
             a AS (INSERT INTO audit_events (user_id, at, kind, ip, detail) \
                   SELECT $13, $14, $15, $16, $17 FROM s), \
             o AS (INSERT INTO outbox (kind, user_id, occurred_at, payload, due_at) \
                   SELECT $18, $13, $14, $19, $14 FROM s WHERE $18::text IS NOT NULL)"
        )
    };
}

/// The gate of a sign-in's [`open_ctes!`]: the account of the session (`$2`) exists and is not
/// disabled. `FOR SHARE` holds its row until the statement commits, so a parallel disable (which
/// updates that row first) waits for this sign-in and then ends its session, or this sign-in
/// waits for the disable, sees the account disabled on the row's newest version, and opens
/// nothing.
macro_rules! may_sign_in {
    () => {
        "SELECT 1 FROM users WHERE id = $2 AND disabled_at IS NULL FOR SHARE"
    };
}

/// The statement of [`open_ctes!`] that answers how many sessions it opened (0 or 1).
macro_rules! open_sql {
    ($ok:expr) => {
        concat!("WITH ", open_ctes!($ok), " SELECT count(*) FROM s")
    };
}

/// Binds the nineteen parameters of [`open_ctes!`] in order.
pub(crate) fn bind_open<'q>(
    query: sqlx::query::QueryScalar<'q, Postgres, i64, PgArguments>,
    session: &'q Session,
    refresh: &'q TokenHash,
    event: &'q AuditEvent,
    events: WebhookEvents,
) -> sqlx::query::QueryScalar<'q, Postgres, i64, PgArguments> {
    let outbox = events.event(event);
    query
        .bind(session.id.as_uuid())
        .bind(session.user_id.as_uuid())
        .bind(session.method.as_str())
        .bind(session.created_at.as_millis())
        .bind(session.last_seen_at.as_millis())
        .bind(session.expires_at.as_millis())
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .bind(session.revoked_at.map(Timestamp::as_millis))
        .bind(session.client.as_ref().map(|c| c.id.as_str()))
        .bind(session.client.as_ref().map(|c| c.scopes.to_text()))
        .bind(refresh.0.as_slice())
        .bind(event.user_id.as_uuid())
        .bind(event.at.as_millis())
        .bind(event.kind.as_str())
        .bind(event.ip.as_deref())
        .bind(event.detail.as_deref())
        .bind(outbox.as_ref().map(|o| o.kind))
        .bind(outbox.map(|o| o.payload))
}

/// How often [`SessionRepository::rotate`] runs [`ROTATE`] before it gives up.
const ROTATE_TRIES: usize = 4;

/// One rotation ([`SessionRepository::rotate`]) as one statement: `$1` the presented token's hash,
/// `$2` its successor's, `$3` now, `$4` now plus the idle lifetime, `$5` the absolute lifetime,
/// `$6` the grace, all in milliseconds. It answers one row, an `outcome` and the session, or none
/// for an unknown token.
///
/// `lock` takes the family's session row first, the order in which deleting an account cascades
/// (session, then tokens), so the two never deadlock, and so that of parallel callers one decides
/// at a time; it reads the session as the last of them left it. `spend` spends the token only if
/// it is still current (re-checked on the newest row version after any wait) and the session is
/// active; then `fresh` stores the successor and `moved` slides the expiry: `rotated`. A token
/// spent before this statement began (`old`, as of the statement's snapshot) is either presented
/// again within the grace while its successor is current (`again`: nothing is written) or reuse,
/// which `reuse` answers by revoking the family (`reused`; `invalid` if it was already revoked)
/// and, in the same statement, writing the account's `refresh_token_reused` event (`$7` the
/// client's address, `$8` the audit kind, `$9` the outbox kind, null when the store writes no
/// such event) to its activity and the outbox:
/// the rows [`crate::outbox::write_event`] writes, with the payload `outbox_event` gives (the
/// outbox contract checks both agree).
///
/// All parts of one statement share its snapshot, so a parallel rotation that committed while
/// `lock` waited is seen by `spend` (which re-checks the newest row) but not by `old` or `current`:
/// the token looks current yet could not be spent. That is `raced`, with nothing written, and the
/// caller runs the statement again on a fresh snapshot, which then sees the token spent.
const ROTATE: &str = concat!(
    "WITH lock AS (SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = $1) \
       FOR UPDATE), \
     old AS (SELECT session_id, spent_at FROM refresh_tokens WHERE hash = $1), \
     spend AS (UPDATE refresh_tokens t SET spent_at = $3 FROM lock l \
       WHERE t.hash = $1 AND t.session_id = l.id AND t.spent_at IS NULL \
         AND l.revoked_at IS NULL AND l.expires_at > $3 \
       RETURNING t.session_id), \
     fresh AS (INSERT INTO refresh_tokens (hash, session_id) SELECT $2, session_id FROM spend), \
     moved AS (UPDATE sessions s SET last_seen_at = $3, \
         expires_at = LEAST($4::numeric, s.created_at::numeric + $5)::bigint \
       FROM spend WHERE s.id = spend.session_id \
       RETURNING s.id, s.user_id, s.method, s.created_at, s.last_seen_at, s.expires_at, \
         s.user_agent, s.ip, s.revoked_at, s.client_id, s.client_scopes), \
     current AS (SELECT 1 FROM refresh_tokens t JOIN lock l ON t.session_id = l.id \
       WHERE t.hash = $2 AND t.spent_at IS NULL), \
     reuse AS (UPDATE sessions s SET revoked_at = $3 FROM lock l, old o \
       WHERE s.id = l.id AND o.session_id = l.id AND o.spent_at IS NOT NULL \
         AND l.revoked_at IS NULL \
         AND NOT ($3 - o.spent_at < $6 AND l.expires_at > $3 AND EXISTS (SELECT 1 FROM current)) \
       RETURNING s.id, s.user_id), \
     reuse_audit AS (INSERT INTO audit_events (user_id, at, kind, ip, detail) \
       SELECT r.user_id, $3, $8, $7, r.id::text FROM reuse r), \
     reuse_outbox AS (INSERT INTO outbox (kind, user_id, occurred_at, payload, due_at) \
       SELECT $9, r.user_id, $3, jsonb_strip_nulls(jsonb_build_object( \
           'account_id', r.user_id::text, 'ip', $7::text, 'session_id', r.id::text))::text, $3 \
       FROM reuse r WHERE $9::text IS NOT NULL) \
     SELECT 'rotated' AS outcome, m.* FROM moved m \
     UNION ALL \
     SELECT CASE \
         WHEN EXISTS (SELECT 1 FROM reuse) THEN 'reused' \
         WHEN o.spent_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > $3 THEN 'raced' \
         WHEN o.spent_at IS NOT NULL AND l.revoked_at IS NULL AND l.expires_at > $3 \
           AND $3 - o.spent_at < $6 AND EXISTS (SELECT 1 FROM current) THEN 'again' \
         ELSE 'invalid' END, \
       l.* \
     FROM lock l JOIN old o ON o.session_id = l.id WHERE NOT EXISTS (SELECT 1 FROM moved)"
);

/// What [`ROTATE`] answers.
#[derive(sqlx::FromRow)]
struct RotateRow {
    outcome: String,
    #[sqlx(flatten)]
    session: SessionRow,
}

#[async_trait]
impl SessionRepository for PgStore {
    async fn open(
        &self,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        // An unknown or disabled account passes no gate: nothing is written.
        let opened = bind_open(
            sqlx::query_scalar(open_sql!(may_sign_in!())),
            session,
            refresh,
            event,
            self.webhook_events,
        )
        .fetch_one(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(opened == 1)
    }

    async fn open_with_passkey(
        &self,
        passkey: &PasskeyId,
        used: &CredentialUse,
        session: &Session,
        refresh: &TokenHash,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        // The use is recorded as `record_use` records it (the counter only moves forward); the
        // session opens only if that found the passkey of an account that may sign in.
        let opened = bind_open(
            sqlx::query_scalar(open_sql!(concat!(
                "UPDATE passkeys SET \
                     credential = CASE WHEN $21 > sign_count OR ($21 = 0 AND sign_count = 0) \
                         THEN $20 ELSE credential END, \
                     backup_state = CASE WHEN $21 > sign_count OR ($21 = 0 AND sign_count = 0) \
                         THEN $22 ELSE backup_state END, \
                     sign_count = GREATEST(sign_count, $21), \
                     last_used_at = GREATEST(last_used_at, $4) \
                 FROM (",
                may_sign_in!(),
                ") AS live \
                 WHERE id = $23 RETURNING 1"
            ))),
            session,
            refresh,
            event,
            self.webhook_events,
        )
        .bind(used.credential.as_slice())
        .bind(i64::from(used.sign_count))
        .bind(used.backed_up)
        .bind(passkey.as_uuid())
        .fetch_one(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(opened == 1)
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn active_with_user(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let row: Option<SessionUserRow> = sqlx::query_as(concat!(
            "SELECT s.id, s.user_id, s.method, s.created_at, s.last_seen_at, s.expires_at, \
             s.user_agent, s.ip, s.revoked_at, s.client_id, s.client_scopes, ",
            auth_sql::joined_user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND u.disabled_at IS NULL"
        ))
        .bind(id.as_uuid())
        .bind(now.as_millis())
        .fetch_optional(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        row.map(SessionUserRow::into_pair).transpose()
    }

    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        lifetimes: Lifetimes,
        ip: &Option<String>,
    ) -> Result<Rotation, StoreError> {
        let reuse_kind = self
            .webhook_events
            .event(&AuditEvent::refresh_token_reused(
                UserId::from_uuid(Uuid::nil()),
                &SessionId::from_uuid(Uuid::nil()),
                now,
                ip,
            ))
            .map(|o| o.kind);
        // Almost always decided at the first try; a retry only follows a parallel rotation of the
        // same token that committed while this statement waited (see `ROTATE`). Every try sees
        // that token spent, so the second one decides.
        for _ in 0..ROTATE_TRIES {
            let row: Option<RotateRow> = sqlx::query_as(ROTATE)
                .bind(old.0.as_slice())
                .bind(new.0.as_slice())
                .bind(now.as_millis())
                .bind(now.plus(lifetimes.idle).as_millis())
                .bind(duration_ms(lifetimes.max))
                .bind(duration_ms(lifetimes.grace))
                .bind(ip.as_deref())
                .bind(AuditKind::RefreshTokenReused.as_str())
                .bind(reuse_kind)
                .fetch_optional(self.pool()?)
                .await
                .map_err(|e| self.failed(e))?;
            let Some(row) = row else {
                return Ok(Rotation::Invalid);
            };
            let session = row.session.into_session()?;
            return Ok(match row.outcome.as_str() {
                "rotated" | "again" => Rotation::Rotated(session),
                "reused" => Rotation::Reused {
                    session_id: session.id,
                    user_id: session.user_id,
                },
                "raced" => continue,
                _ => Rotation::Invalid,
            });
        }
        Err(StoreError::Unavailable(
            "a refresh token kept being rotated in parallel".into(),
        ))
    }

    async fn list_active(&self, user: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.as_uuid())
        .bind(now.as_millis())
        .fetch_all(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND ($3::uuid IS NULL OR id <> $3) \
             AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now.as_millis())
        .bind(user.as_uuid())
        .bind(keep.map(|id| *id.as_uuid()))
        .execute(self.pool()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(done.rows_affected())
    }
}
