//! Forgeries and tampering: signatures, `alg` tricks, missing or malformed claims, foreign
//! headers and oversized tokens are all refused.

use super::*;

#[test]
fn tampered_signature_payload_or_header_is_invalid() {
    let f = fixture();
    let token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
        .unwrap();
    let (header, mut payload, sig) = parts(&token);
    let [h, p, _]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();

    let mut sig_bytes = URL_SAFE_NO_PAD.decode(&sig).unwrap();
    sig_bytes[10] ^= 1;
    assert_eq!(
        access(
            &f.issuer,
            &format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&sig_bytes))
        ),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(&f.issuer, &format!("{h}.{p}.")),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(&f.issuer, &format!("{h}.{p}")),
        Err(TokenError::Invalid)
    );

    payload["sub"] = json!(UserId::random(&OsRng).to_string());
    assert_eq!(
        access(&f.issuer, &format!("{h}.{}.{sig}", b64json(&payload))),
        Err(TokenError::Invalid)
    );

    let mut header = header;
    header["typ"] = json!("JWT");
    assert_eq!(
        access(&f.issuer, &format!("{}.{p}.{sig}", b64json(&header))),
        Err(TokenError::Invalid)
    );

    let attempt = f.issuer.issue_attempt(&ticket_at(now(&f))).unwrap();
    let (_, mut payload, sig) = parts(&attempt);
    let h = attempt.split('.').next().unwrap();
    payload["secret"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32]));
    assert_eq!(
        f.issuer
            .verify_attempt(&format!("{h}.{}.{sig}", b64json(&payload))),
        Err(TokenError::Invalid)
    );
}

#[test]
fn alg_none_is_refused_in_every_spelling() {
    let f = fixture();
    let claims = good_access_claims(&f);
    let token = f
        .issuer
        .issue_access(&claims_at(now(&f), AuthMethod::EmailCode))
        .unwrap();
    let sig = token.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", ""] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": f.key.kid()});
        let unsigned = format!("{}.{}", b64json(&header), b64json(&claims));
        for t in [format!("{unsigned}."), format!("{unsigned}.{sig}")] {
            assert_eq!(access(&f.issuer, &t), Err(TokenError::Invalid), "{alg}");
        }
        let header = json!({"alg": alg, "typ": ATTEMPT_TOKEN_TYPE});
        let ticket = json!({"iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": AttemptId::random(&OsRng).to_string(), "secret": URL_SAFE_NO_PAD.encode([1u8; 32]), "exp": now(&f).as_secs() + 60});
        assert_eq!(
            f.issuer
                .verify_attempt(&format!("{}.{}.", b64json(&header), b64json(&ticket))),
            Err(TokenError::Invalid),
            "{alg}"
        );
    }
}

#[test]
fn hs256_forged_with_the_public_key_as_secret_is_refused() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let f = fixture();
    let public = f.key.public_key();
    let x = URL_SAFE_NO_PAD.encode(public.to_bytes());
    let pem = ed25519_dalek::VerifyingKey::from_bytes(&public.to_bytes())
        .unwrap()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    let jwks_text = f.issuer.jwks().to_string();
    let jwks = JwksVerifier::from_json(&jwks_text, ISS, AUD).unwrap();
    for secret in [
        &public.to_bytes()[..],
        x.as_bytes(),
        pem.as_bytes(),
        jwks_text.as_bytes(),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut h = Header::new(alg);
            h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
            h.kid = Some(f.key.kid().to_owned());
            let forged = jsonwebtoken::encode(
                &h,
                &good_access_claims(&f),
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            assert_eq!(access(&f.issuer, &forged), Err(TokenError::Invalid));
            assert_eq!(jwks.verify_access(&forged), Err(TokenError::Invalid));
        }
    }
}

#[test]
fn a_properly_signed_token_needs_every_claim_in_its_form() {
    let f = fixture();
    let h = ed_header(f.key.kid());
    let good = good_access_claims(&f);
    assert!(
        access(&f.issuer, &sign_ed(&f.key, &h, &good)).is_ok(),
        "control: the recipe itself is sound"
    );
    for claim in [
        "iss",
        "aud",
        "sub",
        "sid",
        "amr",
        "auth_time",
        "iat",
        "nbf",
        "exp",
    ] {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &c)),
            Err(TokenError::Invalid),
            "without {claim}"
        );
    }
    let user = UserId::random(&OsRng);
    let t = now(&f).as_secs();
    for (claim, value) in [
        ("sub", json!("alice")),
        ("sub", json!(user.as_uuid().simple().to_string())),
        ("sub", json!(user.to_string().to_uppercase() + "x")),
        ("sid", json!("")),
        ("sid", json!(7)),
        ("amr", json!(["pwd"])),
        ("amr", json!([])),
        ("amr", json!("otp")),
        ("amr", json!(["rec", "otp"])),
        ("iss", json!([ISS])),
        ("iss", json!("https://evil.example")),
        ("aud", json!("https://other-api.example")),
        ("aud", json!(["https://other-api.example"])),
        ("aud", json!([])),
        ("exp", json!((t + 900).to_string())),
        ("exp", json!(t as f64 + 900.5)),
        ("exp", json!(-1)),
        ("nbf", json!(null)),
        ("auth_time", json!(i64::MAX)),
    ] {
        let mut c = good.clone();
        c[claim] = value.clone();
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &c)),
            Err(TokenError::Invalid),
            "{claim} = {value}"
        );
    }
}

#[test]
fn headers_must_be_exactly_ours() {
    let f = fixture();
    let claims = good_access_claims(&f);
    let mut no_kid = ed_header(f.key.kid());
    no_kid.kid = None;
    let mut no_typ = ed_header(f.key.kid());
    no_typ.typ = None;
    let mut jwt_typ = ed_header(f.key.kid());
    jwt_typ.typ = Some("JWT".to_owned());
    let mut crit = ed_header(f.key.kid());
    crit.crit = Some(vec!["exp".to_owned()]);
    for h in [no_kid, no_typ, jwt_typ, crit] {
        assert_eq!(
            access(&f.issuer, &sign_ed(&f.key, &h, &claims)),
            Err(TokenError::Invalid),
            "{h:?}"
        );
    }
}

#[test]
fn attempt_headers_must_be_exactly_ours() {
    let f = fixture();
    let ticket = json!({
        "iss": ISS, "aud": ATTEMPT_AUDIENCE, "aid": AttemptId::random(&OsRng).to_string(),
        "secret": URL_SAFE_NO_PAD.encode([1u8; 32]), "exp": now(&f).as_secs() + 60,
    });
    let sign =
        |h: &Header| jsonwebtoken::encode(h, &ticket, &EncodingKey::from_secret(SECRET)).unwrap();
    let mut ours = Header::new(Algorithm::HS256);
    ours.typ = Some(ATTEMPT_TOKEN_TYPE.to_owned());
    assert!(
        f.issuer.verify_attempt(&sign(&ours)).is_ok(),
        "control: the recipe itself is sound"
    );
    let mut with_kid = ours.clone();
    with_kid.kid = Some(f.key.kid().to_owned());
    let mut no_typ = ours.clone();
    no_typ.typ = None;
    let mut access_typ = ours.clone();
    access_typ.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    let mut crit = ours.clone();
    crit.crit = Some(vec!["exp".to_owned()]);
    let mut hs512 = ours;
    hs512.alg = Algorithm::HS512;
    for h in [with_kid, no_typ, access_typ, crit, hs512] {
        assert_eq!(
            f.issuer.verify_attempt(&sign(&h)),
            Err(TokenError::Invalid),
            "{h:?}"
        );
    }
    for (claim, value) in [
        ("aid", json!("attempt-1")),
        ("secret", json!(URL_SAFE_NO_PAD.encode([1u8; 31]))),
        ("secret", json!("AQ==")),
        ("aud", json!(AUD)),
    ] {
        let mut c = ticket.clone();
        c[claim] = value.clone();
        let token = jsonwebtoken::encode(
            &Header {
                typ: Some(ATTEMPT_TOKEN_TYPE.to_owned()),
                ..Header::new(Algorithm::HS256)
            },
            &c,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            f.issuer.verify_attempt(&token),
            Err(TokenError::Invalid),
            "{claim} = {value}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let f = fixture();
    let mut claims = good_access_claims(&f);
    claims["pad"] = json!("x".repeat(MAX_TOKEN_LEN));
    let big = sign_ed(&f.key, &ed_header(f.key.kid()), &claims);
    assert!(big.len() > MAX_TOKEN_LEN);
    assert_eq!(access(&f.issuer, &big), Err(TokenError::Invalid));
    claims["pad"] = json!("x".repeat(100));
    assert!(
        access(
            &f.issuer,
            &sign_ed(&f.key, &ed_header(f.key.kid()), &claims)
        )
        .is_ok(),
        "unknown claims are fine"
    );
}

#[test]
fn a_token_one_character_away_from_an_accepted_one_is_refused() {
    let f = fixture();
    let claims = claims_at(now(&f), AuthMethod::EmailCode);
    let token = f.issuer.issue_access(&claims).unwrap();
    assert!(access(&f.issuer, &token).is_ok());
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_ne!(forged, token);
    assert_eq!(access(&f.issuer, &forged), Err(TokenError::Invalid));
    assert!(
        access(&f.issuer, &token).is_ok(),
        "the real one still passes"
    );
}
