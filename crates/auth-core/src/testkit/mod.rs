//! Contract suites: one module per port, one function per rule of that port, run by every adapter
//! against its real technology; plus the fakes (clock, randomness) that make use-case tests
//! deterministic.
//!
//! An adapter runs the rules with [`contract_tests!`](crate::contract_tests), which generates one
//! test per rule, named `<port>::<rule>`, each on a fresh store. Each rule makes its own unique
//! addresses and keys, so rules may also share one store and run in parallel (`<port>::all` runs
//! every rule of a port in turn), except the housekeeping rules, whose purge reaches every
//! account. A failing rule panics with a message that names what it broke.
//! Every "parallel callers" case spawns its callers as tokio tasks, so on a multi-thread runtime
//! they really run at the same time.

pub mod account_disabling;
pub mod attempt_gate;
pub mod attempt_store;
pub mod audit_log;
pub mod authorization_code_store;
pub mod ceremony_store;
pub mod consent_store;
pub mod email_revert_store;
pub mod housekeeping;
pub mod outbox;
pub mod passkey_repository;
pub mod rate_limiter;
pub mod session_opening;
pub mod session_repository;
pub mod user_directory;
pub mod user_repository;
pub mod webhook_events;

use crate::attempt::{Attempt, AttemptState, Purpose, Subject};
use crate::code::{ClientSecret, CodeHasher, OtpCode};
use crate::email::EmailAddress;
use crate::ids::{AttemptId, SessionId, UserId};
use crate::language::Language;
use crate::ports::{Clock, OsRng, Rng, SystemClock, UserRepository};
use crate::session::{AuthMethod, RefreshToken, Session};
use crate::time::Timestamp;
use crate::user::{DisplayName, User};
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How many callers the concurrency cases run at once.
pub const PARALLEL: usize = 64;

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `t`.
    pub fn at(t: Timestamp) -> Self {
        Self(AtomicI64::new(t.as_millis()))
    }

    /// Moves it forward.
    pub fn advance(&self, d: Duration) {
        self.0
            .fetch_add(crate::time::duration_ms(d), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A deterministic random source for use-case tests: a counter run through SHA-256.
#[derive(Debug, Default)]
pub struct CountingRng(std::sync::atomic::AtomicU64);

impl Rng for CountingRng {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let block = Sha256::digest(n.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}", UserId::random(&OsRng).as_uuid().simple())
}

/// A fresh address no other test uses.
pub fn unique_email(tag: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{}@example.test", unique(tag))).expect("generated address parses")
}

/// A user with a fresh address, not yet stored.
pub fn sample_user(tag: &str) -> User {
    User {
        id: UserId::random(&OsRng),
        email: unique_email(tag),
        display_name: DisplayName::parse("Contract Tester").expect("valid name"),
        public: false,
        created_at: now(),
        attempt_epoch: 0,
        language: Language::En,
        disabled_at: None,
    }
}

/// A session for `user`, signed in at `at`, not yet stored.
pub fn sample_session(user: UserId, at: Timestamp) -> Session {
    Session {
        id: SessionId::random(&OsRng),
        user_id: user,
        method: AuthMethod::EmailCode,
        created_at: at,
        last_seen_at: at,
        expires_at: at.plus(Duration::from_secs(3600)),
        user_agent: Some("contract-test/1".to_owned()),
        ip: Some("192.0.2.1".to_owned()),
        revoked_at: None,
        client: None,
    }
}

/// An active attempt for `email` whose code is `ABCD1234` under the secret returned beside it.
pub fn sample_attempt(
    email: &EmailAddress,
    purpose: Purpose,
    subject: Subject,
    at: Timestamp,
) -> (Attempt, ClientSecret) {
    let id = AttemptId::random(&OsRng);
    let secret = ClientSecret::generate(&OsRng);
    let hasher = CodeHasher::new(&[9u8; 32]).expect("pepper is long enough");
    let code = OtpCode::parse("ABCD1234", 8).expect("valid code");
    let attempt = Attempt {
        id,
        purpose,
        email: email.clone(),
        subject,
        code_hash: hasher.hash(&id, &secret, &code),
        created_at: at,
        expires_at: at.plus(Duration::from_secs(600)),
        guesses: 0,
        state: AttemptState::Active,
        account_epoch: 0,
    };
    (attempt, secret)
}

/// A passkey of `user` with a fresh random credential id, not yet stored.
pub fn sample_passkey(user: UserId) -> crate::passkey::Passkey {
    let mut credential_id = vec![0u8; 32];
    OsRng.fill(&mut credential_id);
    crate::passkey::Passkey {
        id: crate::ids::PasskeyId::random(&OsRng),
        user_id: user,
        credential_id,
        name: crate::passkey::PasskeyName::parse("Laptop").expect("valid name"),
        created_at: now(),
        last_used_at: None,
        backup_eligible: true,
        backed_up: false,
        transports: vec!["internal".to_owned(), "hybrid".to_owned()],
        sign_count: 0,
        credential: b"{\"opaque\":\"adapter record\"}".to_vec(),
    }
}

/// The sign-in event of `session`, at `at`.
pub fn sign_in_event(session: &Session, at: Timestamp) -> crate::ports::AuditEvent {
    crate::ports::AuditEvent {
        user_id: session.user_id,
        at,
        kind: crate::audit::AuditKind::SignedIn,
        ip: session.ip.clone(),
        detail: Some(session.method.as_str().to_owned()),
    }
}

/// The sign-up event of `user`, dated long before any event a rule records itself (so it never
/// shows among a rule's recent events, and any purge takes it).
pub fn signed_up_event(user: &User) -> crate::ports::AuditEvent {
    crate::ports::AuditEvent {
        user_id: user.id,
        at: Timestamp::from_millis(0),
        kind: crate::audit::AuditKind::SignedUp,
        ip: None,
        detail: None,
    }
}

/// A user stored with its first session.
async fn stored_user(users: &dyn UserRepository, tag: &str) -> (User, Session) {
    let user = sample_user(tag);
    let session = sample_session(user.id, now());
    users
        .create(
            &user,
            &session,
            &RefreshToken::generate(&OsRng).hash(),
            &signed_up_event(&user),
        )
        .await
        .expect("creating a fresh user works");
    (user, session)
}

/// Runs [`PARALLEL`] callers, each on a task of its own (so on a multi-thread runtime they run at
/// the same time, not one after another), and returns their results in order. A caller that
/// panicked fails the contract with its panic.
async fn in_parallel<T, F>(caller: impl FnMut(usize) -> F) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..PARALLEL).map(caller).map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(v) => out.push(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

/// One `#[tokio::test]` per contract rule, for an adapter's `tests/contract.rs`.
///
/// Give it how each test makes a fresh store (an expression evaluated inside the test, so it may
/// `.await`), optionally with a guard that lives as long as the test (a temporary directory, a
/// test database), and the ports the store implements:
///
/// ```text
/// auth_core::contract_tests! {
///     let (_dir, store) = fresh().await;
///     ports: [user_repository, attempt_store, session_repository];
/// }
/// auth_core::contract_tests! {
///     let store = MemoryStore::new();
///     ports: [rate_limiter, ceremony_store];
/// }
/// ```
///
/// For each port it makes a module named after it, with one test per rule named after the rule
/// (`attempt_store::guesses_are_counted_and_bounded`), on a multi-thread runtime. The expression
/// is resolved in those modules, which import everything of the invoking module.
#[macro_export]
macro_rules! contract_tests {
    (let ($guard:pat, $store:ident) = $fresh:expr; ports: [$($port:ident),+ $(,)?] $(;)?) => {
        $( $crate::contract_tests!(@rules $port @tests ($guard, $store) ($fresh)); )+
    };
    (let $store:ident = $fresh:expr; ports: [$($port:ident),+ $(,)?] $(;)?) => {
        $( $crate::contract_tests!(@rules $port @tests (_, $store) (((), $fresh))); )+
    };
    (@tests ($guard:pat, $store:ident) ($fresh:expr) $port:ident [$($rule:ident),+ $(,)?]) => {
        mod $port {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $rule() {
                    let ($guard, $store) = $fresh;
                    $crate::testkit::$port::$rule($crate::testkit::$port::store($store)).await;
                }
            )+
        }
    };
    (@all $store:ident $port:ident [$($rule:ident),+ $(,)?]) => {
        $( $crate::testkit::$port::$rule($store.clone()).await; )+
    };
    // The rules of each port, in the order `<port>::all` runs them: one list, so the generated
    // tests and `all` never drift apart. A rule function missing from its list is not run; the
    // tidy test `every_contract_rule_is_listed` catches that.
    (@rules user_repository @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* user_repository [
            create_stores_the_account_with_its_first_session,
            an_address_belongs_to_one_account,
            parallel_creates_of_one_address_have_one_winner,
            update_profile_stores_both_fields,
            language_is_stored_and_updated,
            change_email_moves_the_account_to_a_free_address,
            change_email_to_a_taken_address_changes_nothing,
            end_attempts_starts_a_new_epoch_and_changes_nothing_else,
            list_public_pages_public_accounts_in_id_order,
            delete_takes_the_sessions_with_it,
        ]);
    };
    (@rules account_disabling @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* account_disabling [
            disable_ends_sessions_and_attempts_with_its_event,
            disable_of_a_disabled_or_unknown_account_changes_nothing,
            a_disabled_account_opens_no_session,
            enable_lets_the_account_sign_in_again_without_reviving_sessions,
            sign_ins_racing_a_disable_leave_no_active_session,
        ]);
    };
    (@rules user_directory @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* user_directory [
            list_users_pages_matching_accounts_in_id_order,
            a_query_is_text_not_a_pattern,
            counts_count_live_sessions_and_passkeys,
            search_events_filters_by_account_kind_and_time,
        ]);
    };
    (@rules attempt_store @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* attempt_store [
            every_attempt_round_trips,
            guesses_are_counted_and_bounded,
            nothing_is_taken_at_or_after_expiry,
            an_attempt_is_consumed_once,
            starts_never_touch_each_other,
            a_resend_supersedes_exactly_the_attempt_it_names,
            replacing_an_attempt_no_longer_active_changes_nothing,
            parallel_guesses_evaluate_exactly_the_budget,
            parallel_consumptions_have_one_winner,
        ]);
    };
    (@rules attempt_gate @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* attempt_gate [
            open_stores_the_attempt_only_when_every_limit_allows,
            open_supersedes_the_attempt_a_resend_names,
            parallel_opens_store_exactly_the_limit,
            look_reads_the_attempt_only_when_its_limit_allows,
            settle_counts_a_wrong_guess_and_consumes_a_proven_one,
            settle_takes_no_guess_of_a_dead_attempt,
            settle_is_refused_while_the_failures_wait,
            parallel_settles_take_exactly_the_guess_budget,
            parallel_proven_settles_have_one_winner,
        ]);
    };
    (@rules session_opening @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* session_opening [
            open_stores_the_session_its_token_and_its_event,
            an_open_that_fails_writes_nothing,
            open_with_passkey_records_the_use_and_opens_the_session,
            open_with_passkey_never_moves_the_counter_back,
            open_with_a_deleted_passkey_opens_nothing,
            an_open_with_passkey_that_fails_writes_nothing,
            an_account_is_created_with_its_sign_up_event,
            active_with_user_reads_a_live_session_and_its_account,
            active_with_user_sees_no_ended_session,
        ]);
    };
    (@rules session_repository @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* session_repository [
            get_returns_what_open_stored,
            rotation_slides_the_expiry_and_keeps_the_sign_in_time,
            expiry_never_passes_the_absolute_cap,
            reuse_of_a_spent_token_revokes_the_family,
            an_expired_session_does_not_rotate,
            parallel_rotations_of_one_token_have_one_winner,
            within_the_grace_a_second_presentation_gets_the_same_successor,
            after_the_grace_a_spent_token_is_reuse,
            within_the_grace_another_successor_is_reuse,
            a_revoked_session_does_not_come_back_within_the_grace,
            parallel_presentations_within_the_grace_all_succeed,
            parallel_reuse_revokes_the_family_once,
            list_active_shows_the_accounts_live_sessions_newest_first,
            revoke_ends_one_session_of_its_own_account,
            revoke_all_ends_every_session_but_the_kept_one,
        ]);
    };
    (@rules rate_limiter @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* rate_limiter [
            a_burst_is_allowed_then_one_per_interval,
            a_quota_above_one_per_millisecond_keeps_its_rate,
            parallel_hits_allow_exactly_the_limit,
            failures_count_within_a_window_that_starts_at_the_first,
            clear_failures_forgets_them,
            parallel_failures_all_count,
            acquire_all_charges_up_to_the_first_refusal,
        ]);
    };
    (@rules audit_log @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* audit_log [
            recent_is_newest_first_and_limited,
            deleting_the_account_deletes_its_history,
        ]);
    };
    (@rules passkey_repository @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* passkey_repository [
            list_returns_an_accounts_passkeys_oldest_first,
            a_credential_id_is_unique_across_accounts,
            parallel_adds_of_one_credential_have_one_winner,
            with_account_reads_the_passkey_and_its_account,
            record_use_stores_counter_record_and_backup_state,
            the_counter_only_moves_forward,
            a_synced_passkey_reporting_zero_is_stored,
            parallel_uses_leave_the_highest_counter,
            rename_and_delete_touch_only_the_owners_passkeys,
            passkeys_go_with_their_account,
        ]);
    };
    (@rules ceremony_store @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* ceremony_store [
            a_ceremony_is_taken_once_with_its_bytes_intact,
            a_ceremony_lasts_exactly_its_lifetime,
            parallel_takes_have_one_winner,
        ]);
    };
    (@rules housekeeping @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* housekeeping [
            purge_deletes_ended_sessions_and_their_tokens,
            purge_keeps_live_sessions_and_their_current_token,
            purge_deletes_only_audit_events_older_than_the_retention,
            purge_forgets_only_tokens_spent_before_the_retention,
            a_session_revoked_by_reuse_goes_on_the_next_purge,
        ]);
    };
    (@rules outbox @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* outbox [
            the_changes_write_their_events_and_they_come_out_in_order,
            a_change_that_does_not_happen_writes_no_event,
            a_claim_holds_its_event_until_the_lease_runs_out,
            a_failure_schedules_a_retry_and_the_accounts_later_events_wait,
            parallel_claimers_never_share_an_event,
            reuse_writes_its_event_with_the_revocation,
            notices_are_a_channel_of_their_own,
            events_past_their_window_are_given_up,
        ]);
    };
    (@rules webhook_events @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* webhook_events [
            only_the_chosen_event_types_are_written,
        ]);
    };
    (@rules email_revert_store @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* email_revert_store [
            a_link_works_once,
            a_link_does_not_work_at_or_after_its_expiry,
            links_of_one_account_are_independent,
            parallel_takes_of_one_link_have_one_winner,
            links_go_with_their_account,
        ]);
    };
    (@rules authorization_code_store @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* authorization_code_store [
            a_code_is_taken_once_with_its_grant_intact,
            a_second_presentation_is_a_replay_with_the_grant,
            a_replay_is_remembered_for_the_exchange,
            a_code_lasts_exactly_its_lifetime,
            parallel_takes_have_one_winner_and_the_rest_see_a_replay,
        ]);
    };
    (@rules consent_store @$then:ident $($args:tt)*) => {
        $crate::contract_tests!(@$then $($args)* consent_store [
            a_consent_round_trips_and_a_new_grant_replaces_it,
            consents_are_kept_per_account_and_client,
            revoke_forgets_one_consent,
            list_shows_an_accounts_consents_by_client,
            consents_go_with_their_account,
        ]);
    };
}

/// An event of `user` of `kind`, now, from a documentation address: what the store methods that
/// write their event with the change are given in the rules.
pub fn event_of(user: &UserId, kind: crate::audit::AuditKind) -> crate::ports::AuditEvent {
    crate::ports::AuditEvent {
        user_id: *user,
        at: now(),
        kind,
        ip: Some("192.0.2.7".to_owned()),
        detail: Some(format!("{kind} in a contract rule")),
    }
}

/// The `account_deleted` event of `user`.
pub fn deleted(user: &UserId) -> crate::ports::AuditEvent {
    event_of(user, crate::audit::AuditKind::AccountDeleted)
}

/// The `passkey_added` event of `passkey`.
pub fn added(passkey: &crate::passkey::Passkey) -> crate::ports::AuditEvent {
    event_of(&passkey.user_id, crate::audit::AuditKind::PasskeyAdded)
}

/// A `passkey_removed` event of `user`.
pub fn removed(user: &UserId) -> crate::ports::AuditEvent {
    event_of(user, crate::audit::AuditKind::PasskeyRemoved)
}

/// An `email_changed` event of `user`.
pub fn moved(user: &UserId) -> crate::ports::AuditEvent {
    event_of(user, crate::audit::AuditKind::EmailChanged)
}
