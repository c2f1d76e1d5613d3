//! The local API's description: generated from the code (OpenAPI 3.1), printed by `convene node
//! openapi` and served at `/v1/openapi.json`, and true to the routes the node serves — every
//! operation it lists exists, writes need the token, and errors come as JSON with a stable code.

use std::collections::BTreeSet;

use crate::util::{Home, NodeProcess, http, turn};

/// Every `$ref` in `value`.
fn refs(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", serde_json::Value::String(target)) => {
                        out.insert(target.clone());
                    }
                    _ => refs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

#[test]
fn the_api_description_matches_the_routes_the_node_serves() {
    let _turn = turn();
    let home = Home::init("Example Council");
    let printed = home.run(&["node", "openapi"]).ok().json();
    assert_eq!(printed["openapi"], "3.1.0");
    // Every reference resolves.
    let mut targets = BTreeSet::new();
    refs(&printed, &mut targets);
    assert!(targets.contains("#/components/schemas/ErrorBody"));
    for target in &targets {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            printed.pointer(pointer).is_some(),
            "{target} does not resolve"
        );
    }
    let codes = &printed["components"]["schemas"]["ErrorCode"]["enum"];
    for code in ["not_found", "invalid", "unauthorised", "too_large"] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{codes}"
        );
    }

    let node = NodeProcess::start(&home);
    let api = home.api();
    let served = http(
        &api,
        &format!("GET /v1/openapi.json HTTP/1.1\r\nHost: {api}"),
        b"",
    );
    assert_eq!(served.status, 200);
    let served: serde_json::Value = serde_json::from_str(&served.body).unwrap();
    assert_eq!(served, printed, "the node serves what the command prints");

    let mut operations = 0;
    for (path, item) in printed["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let path = path.replace("{key}", "12D3KooWNotAPeer");
            let write = operation.get("security").is_some();
            let body = b"{";
            let answer = http(
                &api,
                &format!(
                    "{} {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nContent-Length: {}",
                    method.to_uppercase(),
                    body.len()
                ),
                body,
            );
            assert!(
                answer.status != 404 && answer.status != 405,
                "{method} {path} is described but not served: {}",
                answer.status
            );
            if write {
                // Without the token: refused, as JSON with a stable code.
                assert_eq!(answer.status, 401, "{method} {path}");
                let error: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
                assert_eq!(error["code"], "unauthorised", "{method} {path}");
            } else if method == "post" {
                // A read with a body that is not JSON: a clear error, as JSON.
                assert_eq!(answer.status, 400, "{method} {path}: {}", answer.body);
                let error: serde_json::Value = serde_json::from_str(&answer.body)
                    .unwrap_or_else(|_| panic!("{method} {path}: {}", answer.body));
                assert_eq!(error["code"], "invalid", "{method} {path}");
            }
        }
    }
    assert!(operations >= 38, "{operations} operations described");
    // And what is not described is not served.
    let missing = http(
        &api,
        &format!("GET /v1/no-such-route HTTP/1.1\r\nHost: {api}"),
        b"",
    );
    assert_eq!(missing.status, 404);
    node.stop();
}
