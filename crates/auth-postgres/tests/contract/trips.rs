//! Round trips per durable step: the store runs on one connection through a proxy that counts
//! the server's `ReadyForQuery` messages, which end every exchange the client waits for (a
//! statement, a `BEGIN`, a `COMMIT`, a liveness ping). Creating an account with its first session,
//! opening a session, rotating a refresh token, the per-request session read and both passkey
//! sign-in steps must each cost what one single-statement read costs; one statement in autocommit
//! is also one commit.

use super::*;
use auth_core::passkey::CredentialUse;
use auth_core::ports::Lifetimes;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy in front of PostgreSQL that counts the server's `ReadyForQuery` messages.
struct CountingProxy {
    port: u16,
    ready: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ready = Arc::new(AtomicU64::new(0));
        let counter = ready.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let counter = counter.clone();
                tokio::spawn(async move {
                    // Server messages after the (unencrypted) start: a type byte, then a length
                    // that counts itself but not the type.
                    let mut pending: Vec<u8> = Vec::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match server_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        while pending.len() >= 5 {
                            let len = u32::from_be_bytes([
                                pending[1], pending[2], pending[3], pending[4],
                            ]) as usize;
                            if pending.len() < 1 + len {
                                break;
                            }
                            if pending[0] == b'Z' {
                                counter.fetch_add(1, Ordering::SeqCst);
                            }
                            pending.drain(..=len);
                        }
                        // Counted before the client can see it, so a step that has returned has
                        // been counted in full.
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { port, ready }
    }

    /// How many exchanges `step` waited for.
    async fn trips<T>(&self, step: impl Future<Output = T>) -> (u64, T) {
        let before = self.ready.load(Ordering::SeqCst);
        let out = step.await;
        // sqlx hands out a result before the `ReadyForQuery` that follows it has arrived (it
        // reads it when the connection is used next), so the count waits for the server to
        // finish; on an idle connection nothing else arrives.
        tokio::time::sleep(SETTLE).await;
        (self.ready.load(Ordering::SeqCst) - before, out)
    }
}

/// `url` with its host and port replaced by the proxy's, without TLS (so the proxy can read the
/// messages).
fn through(url: &str, port: u16) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let host = authority.rfind('@').map_or(0, |i| i + 1);
    let mut out = format!(
        "{}{}127.0.0.1:{port}{}",
        &url[..start],
        &authority[..host],
        &url[end..]
    );
    out.push(if out.contains('?') { '&' } else { '?' });
    out.push_str("sslmode=disable");
    out
}

/// How long the server gets to send the rest of an exchange after the client has its answer.
const SETTLE: Duration = Duration::from_millis(200);

const LIFE: Lifetimes = Lifetimes {
    idle: Duration::from_secs(3600),
    max: Duration::from_secs(7200),
    grace: Duration::from_secs(10),
};

/// A session of a stored account opened through `store`, with its refresh token.
async fn opened(store: &PgStore, user: UserId) -> (auth_core::session::Session, RefreshToken) {
    let session = testkit::sample_session(user, SystemClock.now());
    let token = RefreshToken::generate(&OsRng);
    store
        .open(
            &session,
            &token.hash(),
            &testkit::sign_in_event(&session, session.created_at),
        )
        .await
        .unwrap();
    (session, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_durable_step_of_a_sign_in_is_one_round_trip() {
    let db = TestDb::create();
    {
        let setup = PgStore::connect(&db.url, 1).await.unwrap();
        setup.migrate().await.unwrap();
        setup.close().await;
    }
    let options: sqlx::postgres::PgConnectOptions = db.url.parse().unwrap();
    let proxy = CountingProxy::start((options.get_host().to_owned(), options.get_port())).await;
    // One connection, so every step runs on the same, already prepared statements.
    let store = PgStore::connect(&through(&db.url, proxy.port), 1)
        .await
        .unwrap();
    let user = stored_user(&store).await;

    // Each step once before it is counted: the first use of a statement also prepares it.
    let passkey = testkit::sample_passkey(user);
    store
        .add(&passkey, &testkit::added(&passkey))
        .await
        .unwrap();
    let (warm, warm_token) = opened(&store, user).await;
    SessionRepository::get(&store, &warm.id).await.unwrap();
    store
        .active_with_user(&warm.id, SystemClock.now())
        .await
        .unwrap();
    let next = RefreshToken::generate(&OsRng);
    store
        .rotate(
            &warm_token.hash(),
            &next.hash(),
            SystemClock.now(),
            LIFE,
            &None,
        )
        .await
        .unwrap();
    store.with_account(&passkey.credential_id).await.unwrap();
    let used = |n: u32| CredentialUse {
        credential: b"record".to_vec(),
        sign_count: n,
        backed_up: false,
    };
    let warm_passkey_session = testkit::sample_session(user, SystemClock.now());
    store
        .open_with_passkey(
            &passkey.id,
            &used(1),
            &warm_passkey_session,
            &RefreshToken::generate(&OsRng).hash(),
            &testkit::sign_in_event(&warm_passkey_session, warm_passkey_session.created_at),
        )
        .await
        .unwrap();

    tokio::time::sleep(SETTLE).await;
    let (one_read, _) = proxy.trips(SessionRepository::get(&store, &warm.id)).await;
    assert!(one_read >= 1, "the proxy sees the exchanges");
    // A control: a step of several statements (here four) costs more, so the count can fail.
    store.purge_expired(SystemClock.now()).await.unwrap();
    let (several, _) = proxy.trips(store.purge_expired(SystemClock.now())).await;
    assert!(
        several >= one_read + 3,
        "four statements cost at least three more round trips than one: {several} vs {one_read}"
    );

    let (create, _) = proxy.trips(stored_user(&store)).await;
    let (open, (session, token)) = proxy.trips(opened(&store, user)).await;
    let (me, read) = proxy
        .trips(store.active_with_user(&session.id, SystemClock.now()))
        .await;
    assert!(read.unwrap().is_some());
    let successor = RefreshToken::generate(&OsRng);
    let (refresh, rotated) = proxy
        .trips(store.rotate(
            &token.hash(),
            &successor.hash(),
            SystemClock.now(),
            LIFE,
            &None,
        ))
        .await;
    assert!(matches!(
        rotated.unwrap(),
        auth_core::session::Rotation::Rotated(_)
    ));
    let (again, rotated) = proxy
        .trips(store.rotate(
            &token.hash(),
            &successor.hash(),
            SystemClock.now(),
            LIFE,
            &None,
        ))
        .await;
    assert!(matches!(
        rotated.unwrap(),
        auth_core::session::Rotation::Rotated(_)
    ));
    let (passkey_read, found) = proxy
        .trips(store.with_account(&passkey.credential_id))
        .await;
    assert!(found.unwrap().is_some());
    let passkey_session = testkit::sample_session(user, SystemClock.now());
    let (passkey_open, opened_by_passkey) = proxy
        .trips(store.open_with_passkey(
            &passkey.id,
            &used(2),
            &passkey_session,
            &RefreshToken::generate(&OsRng).hash(),
            &testkit::sign_in_event(&passkey_session, passkey_session.created_at),
        ))
        .await;
    assert!(opened_by_passkey.unwrap());

    let counted = [
        (
            "create an account with its first session, token and event",
            create,
        ),
        ("open a session with its token and event", open),
        ("read the session with its account", me),
        ("rotate a refresh token", refresh),
        ("present it again within the grace", again),
        ("read a passkey with its account", passkey_read),
        ("record a passkey use and open a session", passkey_open),
    ];
    eprintln!("round trips (one single-statement read: {one_read}): {counted:?}");
    for (step, trips) in counted {
        assert_eq!(
            trips, one_read,
            "{step}: as many round trips as one single-statement read"
        );
    }
}
