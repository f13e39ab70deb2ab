//! JSON Patch (RFC 6902) over a resource, for `PATCH` with `application/json-patch+json`:
//! `add`, `remove`, `replace`, `move`, `copy` and `test`, paths as JSON Pointers (RFC 6901).

use serde_json::Value;

/// `document` with `operations` applied in order; why not, if one fails (the whole patch
/// then applies nothing).
pub fn apply(mut document: Value, operations: &Value) -> Result<Value, String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON Patch document is an array of operations")?;
    for (index, operation) in operations.iter().enumerate() {
        apply_one(&mut document, operation).map_err(|why| format!("operation {index}: {why}"))?;
    }
    Ok(document)
}

fn apply_one(document: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation
        .get("op")
        .and_then(Value::as_str)
        .ok_or("no 'op'")?;
    let path = operation
        .get("path")
        .and_then(Value::as_str)
        .ok_or("no 'path'")?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("'{op}' needs a 'value'"))
    };
    let from = || {
        operation
            .get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("'{op}' needs a 'from'"))
    };
    match op {
        "add" => add(document, path, value()?),
        "remove" => remove(document, path).map(|_| ()),
        "replace" => {
            let target = document
                .pointer_mut(path)
                .ok_or_else(|| format!("nothing at '{path}' to replace"))?;
            *target = value()?;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if path.starts_with(&format!("{from}/")) {
                return Err(format!("cannot move '{from}' into itself"));
            }
            let moved = remove(document, from)?;
            add(document, path, moved)
        }
        "copy" => {
            let copied = document
                .pointer(from()?)
                .cloned()
                .ok_or("nothing to copy")?;
            add(document, path, copied)
        }
        "test" => {
            if document.pointer(path) == Some(&value()?) {
                Ok(())
            } else {
                Err(format!("the value at '{path}' is not the one tested"))
            }
        }
        other => Err(format!("unknown op '{other}'")),
    }
}

/// The pointer to the parent of `path` and the last token, unescaped.
fn split(path: &str) -> Result<(&str, String), String> {
    let at = path
        .rfind('/')
        .ok_or_else(|| format!("'{path}' is not a JSON Pointer"))?;
    let token = path[at + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..at], token))
}

fn index(token: &str, len: usize, appending: bool) -> Result<usize, String> {
    if appending && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index = valid
        .then(|| token.parse::<usize>().ok())
        .flatten()
        .ok_or_else(|| format!("'{token}' is not an array index"))?;
    let limit = if appending {
        len
    } else {
        len.saturating_sub(1)
    };
    if index > limit || (!appending && len == 0) {
        return Err(format!("index {index} is out of bounds"));
    }
    Ok(index)
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, token) = split(path)?;
    match document.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.insert(token, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let at = index(&token, items.len(), true)?;
            items.insert(at, value);
            Ok(())
        }
        _ => Err(format!("no object or array at '{parent}'")),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split(path)?;
    match document.pointer_mut(parent) {
        Some(Value::Object(object)) => object
            .remove(&token)
            .ok_or_else(|| format!("nothing at '{path}' to remove")),
        Some(Value::Array(items)) => {
            let at = index(&token, items.len(), false)?;
            Ok(items.remove(at))
        }
        _ => Err(format!("no object or array at '{parent}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_apply_in_order_or_not_at_all() {
        let document = json!({ "status": "booked", "identifier": [{ "value": "1" }] });
        let patched = apply(
            document.clone(),
            &json!([
                { "op": "test", "path": "/status", "value": "booked" },
                { "op": "replace", "path": "/status", "value": "cancelled" },
                { "op": "add", "path": "/identifier/-", "value": { "value": "2" } },
                { "op": "copy", "from": "/status", "path": "/comment" },
                { "op": "move", "from": "/comment", "path": "/description" },
                { "op": "remove", "path": "/identifier/0" },
            ]),
        )
        .unwrap();
        assert_eq!(
            patched,
            json!({ "status": "cancelled", "identifier": [{ "value": "2" }], "description": "cancelled" })
        );
        assert!(
            apply(
                document.clone(),
                &json!([{ "op": "test", "path": "/status", "value": "x" }])
            )
            .is_err()
        );
        assert!(
            apply(
                document.clone(),
                &json!([{ "op": "replace", "path": "/nothing", "value": 1 }])
            )
            .is_err()
        );
        assert!(
            apply(
                document.clone(),
                &json!([{ "op": "remove", "path": "/identifier/01" }])
            )
            .is_err()
        );
        assert!(apply(document, &json!({ "op": "remove" })).is_err());
    }
}
