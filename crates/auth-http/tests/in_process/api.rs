//! The API's self-description matches the routes: every documented operation is served, the
//! routes a client needs most are documented, and every operation has an id of its own.

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
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{code}", "not_found");
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

#[actix_web::test]
async fn every_documented_operation_has_an_id_of_its_own() {
    let app = spawn_app(relaxed()).await;
    let doc = app.send(call("GET", "/openapi.json")).await.json;
    let mut seen = std::collections::BTreeMap::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .expect("every operation has an id");
            let place = format!("{method} {path}");
            if let Some(first) = seen.insert(id.to_owned(), place.clone()) {
                panic!("operationId {id:?} is used by {first} and by {place}");
            }
        }
    }
    assert!(seen.len() >= 20, "{} operations", seen.len());
}

#[actix_web::test]
async fn the_openapi_document_puts_query_parameters_in_the_query_and_errors_in_problem_json() {
    let app = spawn_app(relaxed()).await;
    let doc = app.send(call("GET", "/openapi.json")).await.json;
    let mut operations = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            operations += 1;
            let at = format!("{method} {path}");
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("parameter name");
                let placed = if path.contains(&format!("{{{name}}}")) {
                    "path"
                } else {
                    "query"
                };
                assert_eq!(p["in"], placed, "{at}: parameter {name}");
            }
            let responses = op["responses"].as_object().expect("responses");
            for (status, r) in responses {
                let described = r["description"].as_str().unwrap_or_default();
                assert!(!described.is_empty(), "{at} {status}: no description");
                if status.starts_with(['4', '5']) {
                    let types: Vec<&String> =
                        r["content"].as_object().expect("content").keys().collect();
                    assert_eq!(types, ["application/problem+json"], "{at} {status}");
                }
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{at}: no {status}");
                }
            }
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{at}: no 401");
            }
        }
    }
    assert!(operations >= 20, "{operations} operations");
}

#[actix_web::test]
async fn a_problem_type_resolves_to_a_page_that_explains_its_code() {
    let app = spawn_app(relaxed()).await;
    let problems = [
        app.send(call("GET", "/v1/me")).await,
        app.send(call("GET", "/nowhere")).await,
        app.send(call("POST", "/v1/signup").raw("text/plain", "hi"))
            .await,
        app.send(call("POST", "/v1/signup").raw("application/json", "{"))
            .await,
        app.send(call("POST", "/v1/login/email").json(&serde_json::json!({ "email": "nope" })))
            .await,
    ];
    for problem in problems {
        let code = problem.json["code"].as_str().expect("a problem code");
        let kind = problem.json["type"].as_str().expect("a problem type");
        assert_eq!(kind, format!("/problems/{code}"));
        let page = app.send(call("GET", kind)).await;
        assert_eq!(page.status, 200, "{kind}");
        assert!(
            page.header("content-type")
                .unwrap_or_default()
                .starts_with("text/html"),
            "{kind}"
        );
        assert!(page.text.contains(code), "{kind}: {}", page.text);
        assert!(
            page.text.contains(&format!("HTTP {}", problem.status)),
            "{kind}"
        );
    }
    app.send(call("GET", "/problems/no_such_code"))
        .await
        .assert_problem(404, "not_found");
}
