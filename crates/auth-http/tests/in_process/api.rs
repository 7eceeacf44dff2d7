//! The API's self-description matches the routes: every documented operation is served, and the
//! routes a client needs most are documented.

use crate::app::{call, relaxed, spawn_app};

#[actix_web::test]
async fn every_operation_in_the_openapi_document_is_served() {
    let app = spawn_app(relaxed()).await;
    let doc = app.send(call("GET", "/openapi.json")).await;
    assert_eq!(doc.status, 200);
    let paths = doc.json["paths"].as_object().expect("paths");
    assert!(paths.len() >= 18, "{} paths", paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in ops.as_object().unwrap().keys() {
            let r = app.send(call(&method.to_uppercase(), &concrete)).await;
            // Whatever the answer (401 without a token, 415 without a body...), the route exists.
            assert_ne!(
                r.json["code"], "method_not_allowed",
                "{method} {path} is documented but not served"
            );
            if r.status == 404 {
                assert!(
                    concrete.contains("0000-0000"),
                    "{method} {path} is documented but not served"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} operations checked");
    // And the other way round: a few routes we know the server serves are documented.
    for p in [
        "/v1/codes/verify",
        "/v1/token/refresh",
        "/v1/me/sessions/{id}",
        "/.well-known/jwks.json",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "{p} is served but not documented");
    }
}
