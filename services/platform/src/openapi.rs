//! What an OpenAPI document says about the errors operations share. The token check, the JSON
//! body and query extractors and the framework answer alike for every route (`auth.rs`,
//! `extract.rs`, `error.rs`), so their problems are added here, to each operation by what it
//! takes, rather than written into every annotation; and every problem is typed
//! `application/problem+json`, as it is sent.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

use crate::error::{ErrorCode, PROBLEM_JSON, SharedError};
use crate::extract::MAX_IDEMPOTENCY_KEY_CHARS;

const PROBLEM_SCHEMA: &str = "#/components/schemas/Problem";

/// The problems every operation may answer, by status: (name in `components.responses`,
/// status, description).
const SHARED: [(&str, &str, &str); 4] = [
    (
        "BadRequest",
        "400",
        "The request is malformed: `invalid_query`, `invalid_body` (not the JSON this operation \
         takes, or a field it does not know), `idempotency_key_required`, `bad_request` (a path \
         parameter of the wrong form)",
    ),
    (
        "Unauthenticated",
        "401",
        "`unauthenticated`: no access token; `invalid_token`: the token is invalid or has \
         expired. Sign in, or refresh, and try again",
    ),
    (
        "TooLarge",
        "413",
        "`too_large`: the body is larger than allowed",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "`unsupported_media_type`: the body must be `application/json`",
    ),
];

/// Adds to every operation of `doc` the problems it may answer without saying so in its own
/// annotation (401 where it needs a token; 400 where it takes parameters or a body; 413 and
/// 415 where it takes JSON), types every problem response `application/problem+json`, and
/// says what an `Idempotency-Key` may be.
pub fn document_shared_problems(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, _, description) in SHARED {
        components.responses.insert(
            name.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(PROBLEM_JSON, problem_content())
                    .build(),
            ),
        );
    }
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in == ParameterIn::Header
                    && parameter.name.eq_ignore_ascii_case("idempotency-key")
                {
                    parameter.schema = Some(idempotency_key_schema());
                }
            }
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    type_as_problem(response);
                }
            }
            let takes_json = operation
                .request_body
                .as_ref()
                .is_some_and(|body| body.content.contains_key("application/json"));
            let malformable = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            // In the order of `SHARED`: 400, 401, 413, 415.
            let needs = [malformable, needs_token(operation), takes_json, takes_json];
            for ((name, status, _), needed) in SHARED.iter().zip(needs) {
                if needed {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// An operation that cannot be called without a token (an empty requirement makes it optional).
fn needs_token(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|requirements| {
        !requirements.is_empty() && !requirements.contains(&SecurityRequirement::default())
    })
}

/// The `Idempotency-Key` header as `IdempotencyKey` takes it: visible ASCII (spaces inside),
/// at most 255 characters.
fn idempotency_key_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_IDEMPOTENCY_KEY_CHARS))
        .pattern(Some("^[!-~]([ -~]*[!-~])?$"))
        .into()
}

fn problem_content() -> Content {
    Content::new(Some(Ref::new(PROBLEM_SCHEMA)))
}

/// A problem documented as `application/json` (utoipa's default) is sent as
/// `application/problem+json`.
fn type_as_problem(response: &mut Response) {
    let is_problem = |content: &Content| matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == PROBLEM_SCHEMA);
    if response
        .content
        .get("application/json")
        .is_some_and(is_problem)
    {
        response.content = std::mem::take(&mut response.content)
            .into_iter()
            .map(|(media_type, content)| match media_type.as_str() {
                "application/json" => (PROBLEM_JSON.to_owned(), content),
                _ => (media_type, content),
            })
            .collect();
    }
}

/// Fills in what each problem response of a service's operations may carry, from the error
/// enums (`error_codes!`): a response left without words of its own lists the codes of that
/// status the service and the shared mechanisms answer with (a superset of what that operation
/// answers; the annotation says more where it matters). Run on each service's document before
/// the merge, with its `Service::errors`.
pub fn document_service_errors(doc: &mut OpenApi, service_codes: &[ErrorCode]) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if !response.description.is_empty() || !status.starts_with(['4', '5']) {
                    continue;
                }
                let codes: Vec<String> = service_codes
                    .iter()
                    .chain(SharedError::CODES)
                    .filter(|code| code.status.as_str() == status)
                    .map(|code| format!("`{}`", code.code))
                    .collect();
                response.description = format!(
                    "A problem whose `code` is one of those the service answers {status} with: {}",
                    codes.join(", ")
                );
            }
        }
    }
}

/// Makes `Problem.code` the closed list of every code the API answers with (`all`: the
/// registry's enums and `SharedError`'s), so a client can switch on it exhaustively and a
/// validator catches a code nobody declared.
pub fn enumerate_problem_codes(doc: &mut OpenApi, all: &[ErrorCode]) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(RefOr::T(Schema::Object(problem))) = components.schemas.get_mut("Problem") else {
        return;
    };
    let Some(RefOr::T(Schema::Object(code))) = problem.properties.get_mut("code") else {
        return;
    };
    let mut codes: Vec<&str> = all.iter().map(|code| code.code).collect();
    codes.sort_unstable();
    codes.dedup();
    code.enum_values = Some(codes.into_iter().map(serde_json::Value::from).collect());
}
