//! The OpenAPI document tells the truth about the whole API: every service's shapes under names
//! of their own, references that resolve, operations a generated client can tell apart.

use std::collections::BTreeMap;

use mobile_api::gateway::{openapi, service_documents};
use serde_json::Value;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of a document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                found.push(((*method).to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

/// Every `$ref` in `value`, with where it was found.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref"
                    && let Some(target) = inner.as_str()
                {
                    found.push((at.to_owned(), target.to_owned()));
                }
                references(inner, &format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// The `$ref`s of `doc` that point at nothing in it.
fn dangling_references(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    references(doc, "", &mut found);
    found
        .into_iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .map(|(at, target)| format!("{target} (at {at})"))
        .collect()
}

#[test]
fn no_two_services_document_different_shapes_under_one_schema_name() {
    let mut defined: BTreeMap<String, (&str, Value)> = BTreeMap::new();
    let mut collisions = Vec::new();
    for (service, doc) in service_documents() {
        let schemas = doc.components.map(|c| c.schemas).unwrap_or_default();
        for (name, schema) in schemas {
            let shape = serde_json::to_value(schema).unwrap();
            match defined.get(&name) {
                Some((other, known)) if *known != shape => {
                    collisions.push(format!("{name}: {other} and {service}"));
                }
                Some(_) => {}
                None => {
                    defined.insert(name, (service, shape));
                }
            }
        }
    }
    assert!(
        collisions.is_empty(),
        "schema names two services use for different shapes (name them per service): {collisions:#?}"
    );
}

#[test]
fn every_reference_in_each_service_document_resolves_within_it() {
    for (service, doc) in service_documents() {
        let doc = serde_json::to_value(doc).unwrap();
        let dangling = dangling_references(&doc);
        assert!(
            dangling.is_empty(),
            "{service}'s document refers to what it does not define: {dangling:#?}"
        );
    }
}

#[test]
fn every_reference_in_the_gateway_document_resolves() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let dangling = dangling_references(&doc);
    assert!(dangling.is_empty(), "dangling references: {dangling:#?}");
}

#[test]
fn every_operation_has_an_operation_id_of_its_own() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        by_id
            .entry(id.to_owned())
            .or_default()
            .push(format!("{method} {path}"));
    }
    let shared: Vec<_> = by_id
        .into_iter()
        .filter(|(id, users)| id.is_empty() || users.len() > 1)
        .collect();
    assert!(
        shared.is_empty(),
        "operationIds missing or shared: {shared:#?}"
    );
}

#[test]
fn no_operation_is_documented_by_two_services() {
    let mut owner: BTreeMap<(String, String), &str> = BTreeMap::new();
    let mut twice = Vec::new();
    for (service, doc) in service_documents() {
        let doc = serde_json::to_value(doc).unwrap();
        for (method, path, _) in operations(&doc) {
            if let Some(other) = owner.insert((method.clone(), path.clone()), service) {
                twice.push(format!("{method} {path}: {other} and {service}"));
            }
        }
    }
    assert!(
        twice.is_empty(),
        "operations two services document: {twice:#?}"
    );
}

/// A response of the document, following a `$ref` to `components.responses`.
fn resolved<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap(),
        None => response,
    }
}

#[test]
fn every_problem_is_documented_as_application_problem_json() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut mistyped = Vec::new();
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let content = resolved(&doc, response)["content"].as_object();
            for (media_type, body) in content.into_iter().flatten() {
                let is_problem = body["schema"]["$ref"] == "#/components/schemas/Problem";
                if is_problem != (media_type == "application/problem+json") {
                    mistyped.push(format!("{method} {path} {status}: {media_type}"));
                }
            }
        }
    }
    assert!(
        mistyped.is_empty(),
        "problems typed otherwise: {mistyped:#?}"
    );
}

#[test]
fn every_operation_documents_the_problems_of_what_it_takes() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut missing = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let needs_token = operation["security"]
            .as_array()
            .is_some_and(|all| !all.is_empty() && !all.contains(&serde_json::json!({})));
        let takes_json = operation["requestBody"]["content"]
            .get("application/json")
            .is_some();
        let takes_parameters = operation["parameters"]
            .as_array()
            .is_some_and(|all| !all.is_empty());
        let expected = [
            ("400", takes_json || takes_parameters),
            ("401", needs_token),
            ("413", takes_json),
            ("415", takes_json),
        ];
        for (status, needed) in expected {
            if needed && operation["responses"].get(status).is_none() {
                missing.push(format!("{method} {path}: {status}"));
            }
        }
    }
    assert!(missing.is_empty(), "problems not documented: {missing:#?}");
}
