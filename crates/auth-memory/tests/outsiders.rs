//! Send limits against outsiders, on the in-memory adapters with a manual clock: an outsider's
//! network cannot lock an owner out, pass the absolute per-address cap or spend the global budget.

mod common;

use auth_core::Policy;
use auth_core::rate::Quota;
use auth_core::service::{ClientInfo, StartError, VerifyError};
use common::*;
use std::time::Duration;

// --- Outsiders cannot lock an owner out, nor spend the global budget ------------------------

#[tokio::test]
async fn an_attacker_network_hammering_an_address_cannot_stop_its_owner_from_another_network() {
    // The real limits, gap and failure budget included.
    let w = world(Policy::default());
    signed_up(&w, "owner@example.com").await;
    w.clock.advance(Duration::from_secs(60));

    // The owner starts first; whatever the attacker does next must not kill this attempt.
    let mine = w
        .service
        .start_login(email("owner@example.com"), &client())
        .await
        .unwrap();
    let my_first_code = code_to(&w.mailer.take(), "owner@example.com").unwrap();

    // The attacker's network: starts until every send limit bites, and wrong guesses on every
    // attempt it gets until the failure budget bites.
    let mut sends_refused = 0;
    let mut guesses_refused = 0;
    for _ in 0..10 {
        match w
            .service
            .start_login(email("owner@example.com"), &outsider())
            .await
        {
            Ok(theirs) => {
                for _ in 0..5 {
                    match w
                        .service
                        .verify_code(&theirs.attempt_token, "AAAAAAAA", &outsider())
                        .await
                    {
                        Err(VerifyError::RateLimited { .. }) => guesses_refused += 1,
                        Err(VerifyError::Invalid) => {}
                        r => panic!("{r:?}"),
                    }
                }
            }
            Err(StartError::RateLimited { .. }) => sends_refused += 1,
            Err(e) => panic!("{e:?}"),
        }
        w.clock.advance(Duration::from_secs(31));
    }
    assert!(
        sends_refused > 0 && guesses_refused > 0,
        "the attacker met its own limits ({sends_refused} sends, {guesses_refused} guesses refused)"
    );
    w.mailer.take();

    // The owner's first attempt survived every start of the attacker.
    assert!(
        w.service
            .verify_code(&mine.attempt_token, &my_first_code, &client())
            .await
            .is_ok(),
        "another client's starts never kill the owner's attempt"
    );
    // And a fresh start from the owner's network gets a code that works.
    let again = w
        .service
        .start_login(email("owner@example.com"), &client())
        .await
        .unwrap();
    let code = code_to(&w.mailer.take(), "owner@example.com").unwrap();
    assert!(
        w.service
            .verify_code(&again.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_absolute_per_address_cap_holds_against_many_networks() {
    let mut policy = relaxed();
    policy.limits.send_per_address_total = Quota::new(10, Duration::from_secs(3600));
    let w = world(policy);
    let mut refused = 0;
    for i in 0..20u8 {
        let net = ClientInfo::new(Some([203, 0, 113, i].into()), 64, None);
        if let Err(StartError::RateLimited { .. }) = w
            .service
            .start_login(email("bombed@example.com"), &net)
            .await
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "20 networks, a cap of 10 codes to one address");
}

#[tokio::test]
async fn a_flood_from_one_network_leaves_the_global_budget_to_every_other_network() {
    let mut policy = relaxed();
    // Generous per-network limits (as behind a large NAT), a small global budget.
    policy.limits.send_per_ip = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_per_address = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_per_address_total = Quota::new(100_000, Duration::from_secs(3600));
    policy.limits.send_global = Quota::new(100, Duration::from_secs(60));
    policy.limits.send_global_share_percent = 10;
    let w = world(policy);
    signed_up(&w, "legit@example.com").await;
    let mut sent = 0;
    for i in 0..500 {
        if w.service
            .start_login(email(&format!("flood{i}@example.com")), &outsider())
            .await
            .is_ok()
        {
            sent += 1;
        }
    }
    assert_eq!(sent, 10, "one network gets 10 % of the global budget");
    let started = w
        .service
        .start_login(email("legit@example.com"), &client())
        .await
        .expect("another network still gets codes");
    let code = code_to(&w.mailer.take(), "legit@example.com").unwrap();
    assert!(
        w.service
            .verify_code(&started.attempt_token, &code, &client())
            .await
            .is_ok()
    );
}
