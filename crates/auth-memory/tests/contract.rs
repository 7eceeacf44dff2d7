//! The auth-core contract suites against the in-memory adapters.

use auth_core::testkit;
use auth_memory::MemoryStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_repository_contract() {
    let s = MemoryStore::new();
    testkit::user_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_store_contract() {
    testkit::attempt_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_repository_contract() {
    let s = MemoryStore::new();
    testkit::session_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiter_contract() {
    testkit::rate_limiter(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_contract() {
    let s = MemoryStore::new();
    testkit::audit_log(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_repository_contract() {
    let s = MemoryStore::new();
    testkit::passkey_repository(Arc::new(s.clone()), Arc::new(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremony_store_contract() {
    testkit::ceremony_store(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_revert_store_contract() {
    let s = MemoryStore::new();
    testkit::email_revert_store(Arc::new(s.clone()), Arc::new(s)).await;
}
