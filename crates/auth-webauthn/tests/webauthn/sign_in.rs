//! Signing in with a registered passkey: the account named by its user handle, and the
//! signature counter that records use and catches a cloned device-bound passkey.

use super::*;

#[tokio::test]
async fn register_then_sign_in_names_the_account_by_its_user_handle() {
    let webauthn = adapter();
    let user = sample_user("sign-in");
    let mut device = Device::synced(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    assert_eq!(Some(passkey.credential_id.clone()), device.credential_id());
    assert!(
        passkey.backup_eligible && passkey.backed_up,
        "the software authenticator makes synced passkeys"
    );
    assert_eq!(
        passkey.transports,
        vec!["hybrid".to_owned(), "internal".to_owned()]
    );
    assert_eq!(passkey.sign_count, 0);

    let ceremony = webauthn.start_login().unwrap();
    let public_key = &ceremony.options["publicKey"];
    assert_eq!(
        public_key["allowCredentials"],
        json!([]),
        "discoverable: the device offers what it holds"
    );
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["rpId"], "localhost");
    assert!(
        ceremony.options.get("mediation").is_none(),
        "the page chooses autofill or modal"
    );

    let response = device.get(&ceremony.options).await.unwrap();
    assert_eq!(
        webauthn.identify(&response).unwrap(),
        (user.id, passkey.credential_id.clone())
    );
    let used = webauthn
        .finish_login(&ceremony.state, &response, &passkey)
        .unwrap();
    assert_eq!(used.sign_count, 0);
    assert!(used.backed_up);
    passkey.credential = used.credential;

    // Any node can finish what another began: the state is all it takes.
    let other_node = adapter();
    let ceremony = webauthn.start_login().unwrap();
    let response = device.get(&ceremony.options).await.unwrap();
    assert!(
        other_node
            .finish_login(&ceremony.state, &response, &passkey)
            .is_ok()
    );
}

#[tokio::test]
async fn a_counting_passkey_has_its_counter_recorded() {
    let webauthn = adapter();
    let user = sample_user("counter");
    let mut device = Device::device_bound(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    assert!(
        !passkey.backup_eligible && !passkey.backed_up,
        "a device-bound passkey"
    );
    assert_eq!(passkey.sign_count, 0);
    for expected in 1..=3 {
        sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
        assert_eq!(passkey.sign_count, expected);
        assert_eq!(device.counter(), Some(expected));
        assert!(!passkey.backed_up);
    }
}

#[tokio::test]
async fn a_used_sign_in_response_does_not_pass_a_fresh_ceremony() {
    let webauthn = adapter();
    let user = sample_user("replay");
    for mut device in [Device::synced(ORIGIN), Device::device_bound(ORIGIN)] {
        let passkey = register(&webauthn, &user, &mut device).await;
        let first = webauthn.start_login().unwrap();
        let response = device.get(&first.options).await.unwrap();
        assert!(
            webauthn
                .finish_login(&first.state, &response, &passkey)
                .is_ok()
        );
        let fresh = webauthn.start_login().unwrap();
        assert_eq!(
            webauthn.finish_login(&fresh.state, &response, &passkey),
            Err(WebAuthnError::Rejected)
        );
    }
}

#[tokio::test]
async fn a_cloned_device_bound_passkey_is_caught_by_its_counter() {
    let webauthn = adapter();
    let user = sample_user("clone");
    let mut device = Device::device_bound(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    // The key is copied while its counter is 1.
    let mut clone = device.clone();
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
    assert_eq!(passkey.sign_count, 3);

    // The copy signs with 2: behind the 3 on record.
    let before = passkey.clone();
    assert_eq!(
        sign_in(&webauthn, &mut clone, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
    assert_eq!(passkey, before, "nothing is recorded");
    // Then with 3: equal is not enough.
    assert_eq!(
        sign_in(&webauthn, &mut clone, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
    // The copy overtakes the original; now the original looks like the clone, which is the point:
    // the two cannot both be genuine.
    sign_in(&webauthn, &mut clone, &mut passkey).await.unwrap();
    assert_eq!(
        sign_in(&webauthn, &mut device, &mut passkey).await,
        Err(WebAuthnError::PossibleClone)
    );
}

#[tokio::test]
async fn synced_passkeys_are_not_judged_by_their_counter() {
    let webauthn = adapter();
    let user = sample_user("synced");

    // Counter always 0, as platform passkeys report.
    let mut device = Device::synced(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut device).await;
    for _ in 0..3 {
        sign_in(&webauthn, &mut device, &mut passkey).await.unwrap();
        assert_eq!(passkey.sign_count, 0);
    }

    // A synced passkey that counts per device: two devices hold it and their counters disagree.
    let mut phone = Device::synced_counting(ORIGIN);
    let mut passkey = register(&webauthn, &user, &mut phone).await;
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    let mut laptop = phone.clone();
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut phone, &mut passkey).await.unwrap();
    sign_in(&webauthn, &mut laptop, &mut passkey).await.unwrap();
    assert!(passkey.sign_count >= 2);
}
