//! The apps an account has let sign it in, and taking that access back: the consent is
//! forgotten, the app's sessions end (its refresh token fails at once), the next request asks
//! for consent again, and the account's activity shows each step under its own kind.

use super::*;
use auth_core::audit::AuditKind;

/// `who` consents to the third-party app and the app exchanges the code: its tokens.
async fn consented(op: &Op, who: &Principal) -> TokenResponse {
    let req = request(op, "third", &[]);
    assert_eq!(
        op.op.authorize(&req, Some(who), None, false).await.unwrap(),
        AuthorizeStep::Consent
    );
    let code = match op.op.authorize(&req, Some(who), None, true).await.unwrap() {
        AuthorizeStep::Redirect(url) => url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .unwrap()
            .to_owned(),
        other => panic!("expected a code, got {other:?}"),
    };
    op.op
        .token("third", None, exchange(&code, Some(VERIFIER)), &client())
        .await
        .unwrap()
}

#[tokio::test]
async fn removing_an_apps_access_forgets_the_consent_and_ends_its_sessions() {
    let op = provider();
    let who = user(&op, "apps@example.test").await;
    assert!(op.op.consented_apps(&who.user_id).await.unwrap().is_empty());
    let t = consented(&op, &who).await;

    let apps = op.op.consented_apps(&who.user_id).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].client_id.as_str(), "third");
    assert_eq!(apps[0].name, "App third");
    assert_eq!(
        apps[0].scopes,
        Scopes::parse("openid email profile offline_access").unwrap()
    );

    assert!(
        op.op
            .revoke_consent(&who.user_id, "third", &client())
            .await
            .unwrap()
    );
    assert!(op.op.consented_apps(&who.user_id).await.unwrap().is_empty());
    assert!(
        op.op.userinfo(&t.access_token).await.unwrap().is_none(),
        "the app's session ended"
    );
    let refresh = t.refresh_token.unwrap().expose().to_owned();
    assert_eq!(
        grant_error(
            op.op
                .token(
                    "third",
                    None,
                    TokenGrant::Refresh { token: refresh },
                    &client()
                )
                .await
        ),
        OAuthError::InvalidGrant,
        "its refresh token no longer works"
    );
    assert_eq!(
        op.op
            .authorize(&request(&op, "third", &[]), Some(&who), None, false)
            .await
            .unwrap(),
        AuthorizeStep::Consent,
        "the next sign-in asks again"
    );
    // Our own session is untouched.
    assert!(
        op.w.service
            .sessions(&who)
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == who.session_id)
    );

    // Nothing left to take back, or an app that does not exist: false.
    for id in ["third", "spa", "no such app", ""] {
        assert!(
            !op.op
                .revoke_consent(&who.user_id, id, &client())
                .await
                .unwrap(),
            "{id}"
        );
    }

    let kinds: Vec<(AuditKind, Option<String>)> =
        op.w.service
            .activity(&who, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect();
    for (kind, detail) in [
        (AuditKind::AppConsented, "App third"),
        (AuditKind::AppSignedIn, "App third, email_code"),
        (AuditKind::AppConsentRevoked, "App third"),
    ] {
        assert!(
            kinds.contains(&(kind, Some(detail.to_owned()))),
            "{kind} ({detail}) in {kinds:?}"
        );
    }
}

#[tokio::test]
async fn only_the_accounts_own_consent_is_listed_and_removed() {
    let op = provider();
    let ada = user(&op, "ada-apps@example.test").await;
    let bob = user(&op, "bob-apps@example.test").await;
    let t = consented(&op, &ada).await;
    assert!(op.op.consented_apps(&bob.user_id).await.unwrap().is_empty());
    assert!(
        !op.op
            .revoke_consent(&bob.user_id, "third", &client())
            .await
            .unwrap()
    );
    assert_eq!(op.op.consented_apps(&ada.user_id).await.unwrap().len(), 1);
    assert!(op.op.userinfo(&t.access_token).await.unwrap().is_some());
}
