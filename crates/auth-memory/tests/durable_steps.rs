//! How often each sign-in step calls the durable stores (accounts, sessions, audit, passkeys):
//! a verified code opens its session, refresh token and sign-in event in one write; a refresh is
//! one call; the per-request check and `/v1/me` read the session and the account in one; a
//! passkey sign-in reads the credential with its account in one and records the use with the
//! session in one. Every SQL adapter answers each of these calls in one statement (its own tests
//! count the round trips), so these counts are the statements a step costs.

mod common;

use async_trait::async_trait;
use auth_core::email::EmailAddress;
use auth_core::ids::{PasskeyId, SessionId, UserId};
use auth_core::language::Language;
use auth_core::passkey::{Ceremony, CredentialUse, Passkey, PasskeyName};
use auth_core::ports::{
    AuditEvent, AuditLog, CredentialTakenOr, EmailTakenOr, Lifetimes, MockWebAuthn,
    PasskeyRepository, SessionRepository, StoreError, UserRepository,
};
use auth_core::session::{Rotation, Session, TokenHash};
use auth_core::time::Timestamp;
use auth_core::user::{DisplayName, PublicProfile, User};
use auth_memory::MemoryStore;
use common::*;
use std::sync::{Arc, Mutex};

/// The memory store, remembering which durable-store methods were called.
#[derive(Clone, Default)]
struct Counting {
    store: MemoryStore,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Counting {
    fn note(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }

    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl SessionRepository for Counting {
    async fn open(&self, s: &Session, r: &TokenHash, e: &AuditEvent) -> Result<bool, StoreError> {
        self.note("sessions.open");
        self.store.open(s, r, e).await
    }
    async fn open_with_passkey(
        &self,
        p: &PasskeyId,
        u: &CredentialUse,
        s: &Session,
        r: &TokenHash,
        e: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.note("sessions.open_with_passkey");
        self.store.open_with_passkey(p, u, s, r, e).await
    }
    async fn get(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        self.note("sessions.get");
        SessionRepository::get(&self.store, id).await
    }
    async fn active_with_user(
        &self,
        id: &SessionId,
        now: Timestamp,
    ) -> Result<Option<(Session, User)>, StoreError> {
        self.note("sessions.active_with_user");
        self.store.active_with_user(id, now).await
    }
    async fn rotate(
        &self,
        old: &TokenHash,
        new: &TokenHash,
        now: Timestamp,
        l: Lifetimes,
        ip: &Option<String>,
    ) -> Result<Rotation, StoreError> {
        self.note("sessions.rotate");
        self.store.rotate(old, new, now, l, ip).await
    }
    async fn list_active(&self, u: &UserId, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.note("sessions.list_active");
        self.store.list_active(u, now).await
    }
    async fn revoke(&self, u: &UserId, id: &SessionId, now: Timestamp) -> Result<bool, StoreError> {
        self.note("sessions.revoke");
        self.store.revoke(u, id, now).await
    }
    async fn revoke_all(
        &self,
        u: &UserId,
        keep: Option<SessionId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.note("sessions.revoke_all");
        self.store.revoke_all(u, keep, now).await
    }
}

#[async_trait]
impl AuditLog for Counting {
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.note("audit.record");
        self.store.record(event).await
    }
    async fn recent(&self, user: &UserId, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.note("audit.recent");
        self.store.recent(user, limit).await
    }
    async fn record_later(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.note("audit.record_later");
        self.store.record_later(event).await
    }
}

#[async_trait]
impl UserRepository for Counting {
    async fn create(
        &self,
        u: &User,
        s: &Session,
        r: &TokenHash,
        e: &AuditEvent,
    ) -> Result<(), EmailTakenOr> {
        self.note("users.create");
        self.store.create(u, s, r, e).await
    }
    async fn by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        self.note("users.by_email");
        self.store.by_email(email).await
    }
    async fn by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.note("users.by_id");
        self.store.by_id(id).await
    }
    async fn update_profile(
        &self,
        id: &UserId,
        name: &DisplayName,
        public: bool,
        language: Language,
    ) -> Result<Option<User>, StoreError> {
        self.note("users.update_profile");
        self.store.update_profile(id, name, public, language).await
    }
    async fn change_email(
        &self,
        id: &UserId,
        email: &EmailAddress,
        e: &AuditEvent,
    ) -> Result<bool, EmailTakenOr> {
        self.note("users.change_email");
        self.store.change_email(id, email, e).await
    }
    async fn end_attempts(&self, id: &UserId) -> Result<bool, StoreError> {
        self.note("users.end_attempts");
        self.store.end_attempts(id).await
    }
    async fn disable(&self, id: &UserId, e: &AuditEvent) -> Result<bool, StoreError> {
        self.note("users.disable");
        self.store.disable(id, e).await
    }
    async fn enable(&self, id: &UserId, e: &AuditEvent) -> Result<bool, StoreError> {
        self.note("users.enable");
        self.store.enable(id, e).await
    }
    async fn delete(&self, id: &UserId, e: &AuditEvent) -> Result<bool, StoreError> {
        self.note("users.delete");
        UserRepository::delete(&self.store, id, e).await
    }
    async fn list_public(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<PublicProfile>, StoreError> {
        self.note("users.list_public");
        self.store.list_public(after, limit).await
    }
}

#[async_trait]
impl PasskeyRepository for Counting {
    async fn add(&self, passkey: &Passkey, e: &AuditEvent) -> Result<(), CredentialTakenOr> {
        self.note("passkeys.add");
        self.store.add(passkey, e).await
    }
    async fn list(&self, user: &UserId) -> Result<Vec<Passkey>, StoreError> {
        self.note("passkeys.list");
        self.store.list(user).await
    }
    async fn by_credential_id(&self, id: &[u8]) -> Result<Option<Passkey>, StoreError> {
        self.note("passkeys.by_credential_id");
        self.store.by_credential_id(id).await
    }
    async fn with_account(&self, id: &[u8]) -> Result<Option<(Passkey, User)>, StoreError> {
        self.note("passkeys.with_account");
        self.store.with_account(id).await
    }
    async fn record_use(
        &self,
        id: &PasskeyId,
        credential: &[u8],
        sign_count: u32,
        backed_up: bool,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.note("passkeys.record_use");
        self.store
            .record_use(id, credential, sign_count, backed_up, at)
            .await
    }
    async fn rename(
        &self,
        u: &UserId,
        id: &PasskeyId,
        n: &PasskeyName,
    ) -> Result<bool, StoreError> {
        self.note("passkeys.rename");
        self.store.rename(u, id, n).await
    }
    async fn delete(&self, u: &UserId, id: &PasskeyId, e: &AuditEvent) -> Result<bool, StoreError> {
        self.note("passkeys.delete");
        PasskeyRepository::delete(&self.store, u, id, e).await
    }
}

/// A world whose durable stores count their calls, and whose relying party accepts whatever
/// passkey response names the credential of `passkey` (when one is given).
fn counted(webauthn: MockWebAuthn) -> (World, Counting) {
    let counting = Counting::default();
    let c = Arc::new(counting.clone());
    let w = world_with(relaxed(), |mut p| {
        p.users = c.clone();
        p.sessions = c.clone();
        p.audit = c.clone();
        p.passkeys = c;
        p.webauthn = Arc::new(webauthn);
        p
    });
    (w, counting)
}

#[tokio::test]
async fn a_code_sign_up_and_sign_in_write_once_and_each_later_step_is_one_call() {
    let (w, calls) = counted(MockWebAuthn::new());
    let started = w
        .service
        .start_signup(
            email("steps@example.com"),
            DisplayName::parse("Tester").unwrap(),
            &client(),
        )
        .await
        .unwrap();
    calls.take();
    w.service
        .verify_code(&started.attempt_token, &last_code(&w.mailer), &client())
        .await
        .unwrap();
    assert_eq!(
        calls.take(),
        ["users.create"],
        "a verified sign-up creates the account, its session, token and event in one write"
    );

    let started = w
        .service
        .start_login(email("steps@example.com"), &client())
        .await
        .unwrap();
    calls.take();
    let signed = w
        .service
        .verify_code(&started.attempt_token, &last_code(&w.mailer), &client())
        .await
        .unwrap();
    let verify = calls.take();
    assert_eq!(
        verify,
        ["users.by_id", "sessions.open", "passkeys.list"],
        "a verified code reads the account (is it still the attempt's?), opens its session, \
         token and sign-in event in one write, and looks for passkeys (for the notice)"
    );

    let (_, user) = w
        .service
        .authenticate_user(&signed.access_token)
        .await
        .unwrap();
    assert_eq!(user.email.as_str(), "steps@example.com");
    assert_eq!(
        calls.take(),
        ["sessions.active_with_user"],
        "the session check reads the account with the session"
    );

    w.service
        .refresh(signed.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(calls.take(), ["sessions.rotate"], "a refresh is one call");
}

#[tokio::test]
async fn a_passkey_sign_in_reads_once_and_writes_once() {
    let credential_id = b"steps credential".to_vec();
    let mut webauthn = MockWebAuthn::new();
    webauthn.expect_start_login().returning(|| {
        Ok(Ceremony {
            options: serde_json::json!({"publicKey": {}}),
            state: b"state".to_vec(),
        })
    });
    let user_slot: Arc<Mutex<Option<UserId>>> = Arc::default();
    let (named, cred) = (user_slot.clone(), credential_id.clone());
    webauthn
        .expect_identify()
        .returning(move |_| Ok((named.lock().unwrap().expect("set"), cred.clone())));
    webauthn.expect_finish_login().returning(|_, _, _| {
        Ok(CredentialUse {
            credential: b"after".to_vec(),
            sign_count: 3,
            backed_up: false,
        })
    });
    let (w, calls) = counted(webauthn);
    let signed = signed_up(&w, "passkey-steps@example.com").await;
    *user_slot.lock().unwrap() = Some(signed.user.id);
    let mut passkey = auth_core::testkit::sample_passkey(signed.user.id);
    passkey.credential_id = credential_id;
    calls
        .store
        .add(&passkey, &auth_core::testkit::added(&passkey))
        .await
        .unwrap();

    let start = w.service.start_passkey_login(&client()).await.unwrap();
    calls.take();
    let opened = w
        .service
        .finish_passkey_login(&start.ceremony_id, &serde_json::json!({}), &client())
        .await
        .unwrap();
    assert_eq!(opened.user.id, signed.user.id);
    assert_eq!(
        calls.take(),
        ["passkeys.with_account", "sessions.open_with_passkey"],
        "one read of credential and account, one write of the use and the session"
    );
    let stored = calls
        .store
        .by_credential_id(&passkey.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sign_count, 3, "the use was recorded");
}

#[tokio::test]
async fn starts_for_an_enabled_a_disabled_and_an_unknown_address_do_the_same_work() {
    let (w, calls) = counted(MockWebAuthn::new());
    signed_up(&w, "on@example.com").await;
    let off = signed_up(&w, "off@example.com").await;
    w.service
        .disable_account(&off.user.id, &auth_core::service::Operator::cli())
        .await
        .unwrap();
    w.mailer.take();
    for start in ["login", "recovery", "signup"] {
        let mut seen = Vec::new();
        for address in ["on@example.com", "off@example.com", "nobody@example.com"] {
            calls.take();
            let started = match start {
                "login" => w.service.start_login(email(address), &client()).await,
                "recovery" => w.service.start_recovery(email(address), &client()).await,
                _ => {
                    w.service
                        .start_signup(
                            email(address),
                            DisplayName::parse("Tester").unwrap(),
                            &client(),
                        )
                        .await
                }
            }
            .unwrap();
            let mails = w.mailer.take();
            assert_eq!(mails.len(), 1, "{start} {address}: one mail");
            seen.push((
                calls.take(),
                started.code_ttl,
                started.token_ttl,
                started.attempt_token.len(),
            ));
        }
        assert_eq!(
            seen[0], seen[1],
            "{start}: a disabled account like an enabled one"
        );
        assert_eq!(
            seen[1], seen[2],
            "{start}: a disabled account like an unknown address"
        );
    }
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_its_passkey() {
    let credential_id = b"disabled credential".to_vec();
    let mut webauthn = MockWebAuthn::new();
    webauthn.expect_start_login().returning(|| {
        Ok(Ceremony {
            options: serde_json::json!({"publicKey": {}}),
            state: b"state".to_vec(),
        })
    });
    let user_slot: Arc<Mutex<Option<UserId>>> = Arc::default();
    let (named, cred) = (user_slot.clone(), credential_id.clone());
    webauthn
        .expect_identify()
        .returning(move |_| Ok((named.lock().unwrap().expect("set"), cred.clone())));
    webauthn.expect_finish_login().returning(|_, _, _| {
        Ok(CredentialUse {
            credential: b"after".to_vec(),
            sign_count: 3,
            backed_up: false,
        })
    });
    let (w, calls) = counted(webauthn);
    let signed = signed_up(&w, "passkey-off@example.com").await;
    *user_slot.lock().unwrap() = Some(signed.user.id);
    let mut passkey = auth_core::testkit::sample_passkey(signed.user.id);
    passkey.credential_id = credential_id;
    calls
        .store
        .add(&passkey, &auth_core::testkit::added(&passkey))
        .await
        .unwrap();
    w.service
        .disable_account(&signed.user.id, &auth_core::service::Operator::cli())
        .await
        .unwrap();

    let start = w.service.start_passkey_login(&client()).await.unwrap();
    let refused = w
        .service
        .finish_passkey_login(&start.ceremony_id, &serde_json::json!({}), &client())
        .await;
    assert!(
        matches!(refused, Err(auth_core::service::PasskeyError::Invalid)),
        "a valid passkey of a disabled account signs nothing in"
    );
    assert!(
        calls
            .store
            .list_active(&signed.user.id, auth_core::ports::Clock::now(&*w.clock))
            .await
            .unwrap()
            .is_empty()
    );
    let stored = calls
        .store
        .by_credential_id(&passkey.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sign_count, 0, "the use was not recorded");
}
