//! Well-formed responses that are still refused: another origin or relying party id, no user
//! verification, another account or passkey, a credential that is not discoverable, and a
//! ceremony state of the wrong kind.

use super::*;

#[tokio::test]
async fn responses_made_at_another_origin_are_rejected() {
    let webauthn = adapter();
    let user = sample_user("origin");
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;

    for elsewhere in [
        "http://localhost:9090",
        "https://localhost:8080",
        "http://evil.localhost:8080",
    ] {
        let mut phished = device.at(elsewhere);
        let ceremony = webauthn.start_login().unwrap();
        let response = phished
            .get(&ceremony.options)
            .await
            .unwrap_or_else(|e| panic!("{elsewhere}: {e:?}"));
        assert_eq!(
            webauthn.finish_login(&ceremony.state, &response, &passkey),
            Err(WebAuthnError::Rejected),
            "{elsewhere}"
        );

        let ceremony = webauthn.start_registration(&user, &[]).unwrap();
        let response = Device::synced(elsewhere)
            .create(&ceremony.options)
            .await
            .unwrap();
        assert_eq!(
            webauthn.finish_registration(&ceremony.state, &response),
            Err(WebAuthnError::Rejected),
            "{elsewhere}"
        );
    }
}

#[tokio::test]
async fn responses_for_another_relying_party_id_are_rejected() {
    // The page is at auth.example.com and the passkeys are bound to example.com. A client that
    // signs for auth.example.com (an RP id the origin could legitimately use) is refused.
    let origin = "https://auth.example.com";
    let webauthn = adapter_for("example.com", origin);
    let user = sample_user("rp-id");
    let mut device = Device::synced(origin);
    let passkey = register(&webauthn, &user, &mut device).await;
    sign_in(&webauthn, &mut device, &mut passkey.clone())
        .await
        .unwrap();

    let ceremony = webauthn.start_login().unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/rpId",
        json!("auth.example.com"),
    );
    let response = device.get(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &passkey),
        Err(WebAuthnError::Rejected)
    );

    let ceremony = webauthn.start_registration(&user, &[]).unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/rp/id",
        json!("auth.example.com"),
    );
    let response = Device::synced(origin).create(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn responses_without_user_verification_are_rejected() {
    // A client that ignores `userVerification: "required"` gets a response without the UV flag.
    let webauthn = adapter();
    let user = sample_user("uv");

    let ceremony = webauthn.start_registration(&user, &[]).unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/authenticatorSelection/userVerification",
        json!("discouraged"),
    );
    let response = Device::synced(ORIGIN).create(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );

    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;
    let ceremony = webauthn.start_login().unwrap();
    let options = tamper(
        &ceremony.options,
        "/publicKey/userVerification",
        json!("discouraged"),
    );
    let response = device.get(&options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &passkey),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn a_sign_in_for_another_account_or_passkey_is_rejected() {
    let webauthn = adapter();
    let (alice, bob) = (sample_user("alice"), sample_user("bob"));
    let mut alices_device = Device::synced(ORIGIN);
    let alices = register(&webauthn, &alice, &mut alices_device).await;
    let bobs = register(&webauthn, &bob, &mut Device::synced(ORIGIN)).await;

    let ceremony = webauthn.start_login().unwrap();
    let response = alices_device.get(&ceremony.options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &bobs),
        Err(WebAuthnError::Rejected)
    );
    // Bob's record under Alice's name: still not the credential that signed.
    let mut mislabelled = bobs.clone();
    mislabelled.user_id = alice.id;
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &mislabelled),
        Err(WebAuthnError::Rejected)
    );
    // Alice's own credential, on record as Bob's: the user handle says otherwise.
    let mut misfiled = alices.clone();
    misfiled.user_id = bob.id;
    assert_eq!(
        webauthn.finish_login(&ceremony.state, &response, &misfiled),
        Err(WebAuthnError::Rejected)
    );
    assert!(
        webauthn
            .finish_login(&ceremony.state, &response, &alices)
            .is_ok()
    );
}

#[tokio::test]
async fn a_credential_the_browser_says_is_not_discoverable_is_refused() {
    let webauthn = adapter();
    let ceremony = webauthn
        .start_registration(&sample_user("rk"), &[])
        .unwrap();
    let response = Device::synced(ORIGIN)
        .create(&ceremony.options)
        .await
        .unwrap();
    assert_eq!(
        response["clientExtensionResults"]["credProps"]["rk"], true,
        "the client reports what it made"
    );
    let response = tamper(
        &response,
        "/clientExtensionResults/credProps/rk",
        json!(false),
    );
    assert_eq!(
        webauthn.finish_registration(&ceremony.state, &response),
        Err(WebAuthnError::Rejected)
    );
}

#[tokio::test]
async fn ceremony_states_do_not_stand_in_for_each_other() {
    let webauthn = adapter();
    let user = sample_user("states");
    let mut device = Device::synced(ORIGIN);
    let passkey = register(&webauthn, &user, &mut device).await;

    let registration = webauthn.start_registration(&user, &[]).unwrap();
    let login = webauthn.start_login().unwrap();
    let assertion = device.get(&login.options).await.unwrap();
    assert_eq!(
        webauthn.finish_login(&registration.state, &assertion, &passkey),
        Err(WebAuthnError::Rejected)
    );
    let attestation = Device::synced(ORIGIN)
        .create(&registration.options)
        .await
        .unwrap();
    assert_eq!(
        webauthn.finish_registration(&login.state, &attestation),
        Err(WebAuthnError::Rejected)
    );
    for junk in [&b""[..], b"\0", b"{}", &[0xff; 64]] {
        assert_eq!(
            webauthn.finish_login(junk, &assertion, &passkey),
            Err(WebAuthnError::Rejected)
        );
        assert_eq!(
            webauthn.finish_registration(junk, &attestation),
            Err(WebAuthnError::Rejected)
        );
    }
    // A record that is not ours is our own store's fault, not the person's.
    let mut corrupt = passkey.clone();
    corrupt.credential = b"not a record".to_vec();
    assert!(matches!(
        webauthn.finish_login(&login.state, &assertion, &corrupt),
        Err(WebAuthnError::Internal(_))
    ));
    assert!(
        webauthn
            .finish_login(&login.state, &assertion, &passkey)
            .is_ok()
    );
}
