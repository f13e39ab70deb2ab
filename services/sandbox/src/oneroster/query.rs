//! A collection's query parameters (OneRoster 1.2 REST binding, section 3): `limit` and
//! `offset` with the `Link` header they lead to, `sort` and `orderBy`, `filter` and `fields`.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::Failure;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Fields compared as instants.
const DATE_FIELDS: [&str; 7] = [
    "dateLastModified",
    "startDate",
    "endDate",
    "beginDate",
    "scoreDate",
    "assignDate",
    "dueDate",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Contains,
}

/// Longest first, so `>=` is not read as `>`.
const OPS: [(&str, Op); 7] = [
    ("!=", Op::NotEqual),
    (">=", Op::GreaterOrEqual),
    ("<=", Op::LessOrEqual),
    ("=", Op::Equal),
    (">", Op::Greater),
    ("<", Op::Less),
    ("~", Op::Contains),
];

#[derive(Debug)]
struct Predicate {
    field: String,
    op: Op,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logic {
    And,
    Or,
}

#[derive(Debug, Default)]
pub struct Query {
    predicates: Vec<Predicate>,
    logic: Option<Logic>,
    sort: Option<String>,
    descending: bool,
    fields: Option<Vec<String>>,
    pub limit: usize,
    pub offset: usize,
    /// The parameters but `limit` and `offset`, kept in the `Link` URLs.
    kept: Vec<(String, String)>,
}

fn invalid_filter(why: impl Into<String>) -> Failure {
    Failure::bad_request("invalid_filter_field", why)
}

impl Query {
    /// A collection's query; `fields` are the object's own.
    pub fn parse(pairs: &[(String, String)], fields: &[&str]) -> Result<Self, Failure> {
        let mut query = Self::selection(pairs, fields)?;
        query.limit = DEFAULT_LIMIT;
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => {
                    query.limit = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|l| *l > 0)
                        .ok_or_else(|| {
                            Failure::invalid_data("limit: must be a positive whole number")
                        })?
                        .min(MAX_LIMIT);
                }
                "offset" => {
                    query.offset = value.trim().parse::<usize>().map_err(|_| {
                        Failure::invalid_data("offset: must be a whole number, 0 or more")
                    })?;
                }
                "filter" => {
                    let (predicates, logic) = parse_filter(value, fields)?;
                    query.predicates = predicates;
                    query.logic = logic;
                }
                "sort" => {
                    if !fields.contains(&value.as_str()) {
                        return Err(Failure::bad_request(
                            "invalid_sort_field",
                            format!("sort: there is no field '{value}'"),
                        ));
                    }
                    query.sort = Some(value.clone());
                }
                "orderBy" => {
                    query.descending = match value.as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => {
                            return Err(Failure::bad_request(
                                "invalid_sort_field",
                                "orderBy: must be asc or desc",
                            ));
                        }
                    };
                }
                _ => {}
            }
            if name != "limit" && name != "offset" {
                query.kept.push((name.clone(), value.clone()));
            }
        }
        Ok(query)
    }

    /// A single object's query: only `fields` counts.
    pub fn selection(pairs: &[(String, String)], fields: &[&str]) -> Result<Self, Failure> {
        let mut query = Self::default();
        if let Some((_, wanted)) = pairs.iter().find(|(name, _)| name == "fields") {
            let wanted: Vec<String> = wanted.split(',').map(|f| f.trim().to_owned()).collect();
            if let Some(unknown) = wanted.iter().find(|f| !fields.contains(&f.as_str())) {
                return Err(Failure::bad_request(
                    "invalid_selection_field",
                    format!("fields: there is no field '{unknown}'"),
                ));
            }
            query.fields = Some(wanted);
        }
        Ok(query)
    }

    pub fn matches(&self, object: &Value) -> bool {
        let mut each = self.predicates.iter().map(|p| p.holds(object));
        match self.logic {
            Some(Logic::Or) => each.any(|holds| holds),
            _ => each.all(|holds| holds),
        }
    }

    /// `objects` in the asked order (stable: equal keys keep the server's order).
    pub fn sort(&self, objects: &mut [&Value]) {
        let Some(field) = &self.sort else {
            return;
        };
        objects.sort_by(|a, b| {
            match (sort_key(a.get(field)), sort_key(b.get(field))) {
                (None, None) => Ordering::Equal,
                // Objects without the field come last either way.
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let order = compare(&x, &y, field);
                    if self.descending {
                        order.reverse()
                    } else {
                        order
                    }
                }
            }
        });
    }

    /// `object` with only the selected fields.
    pub fn select(&self, object: &Value) -> Value {
        match (&self.fields, object) {
            (Some(fields), Value::Object(all)) => {
                let kept: Map<String, Value> = all
                    .iter()
                    .filter(|(key, _)| fields.contains(key))
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                Value::Object(kept)
            }
            _ => object.clone(),
        }
    }

    /// The `Link` header of this page of `total` matches at `url` (no query).
    pub fn links(&self, url: &str, total: usize) -> String {
        let at = |offset: usize| {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.kept)
                .append_pair("limit", &self.limit.to_string())
                .append_pair("offset", &offset.to_string())
                .finish();
            format!("{url}?{query}")
        };
        let last = total.saturating_sub(1) / self.limit * self.limit;
        let mut links = vec![(at(0), "first")];
        if self.offset > 0 {
            links.push((at(self.offset.saturating_sub(self.limit)), "prev"));
        }
        if self.offset + self.limit < total {
            links.push((at(self.offset + self.limit), "next"));
        }
        links.push((at(last), "last"));
        links
            .iter()
            .map(|(target, rel)| format!(r#"<{target}>; rel="{rel}""#))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `field op 'value'`, or two such joined by ` AND ` or ` OR `.
fn parse_filter(filter: &str, fields: &[&str]) -> Result<(Vec<Predicate>, Option<Logic>), Failure> {
    let (first, rest) = parse_predicate(filter, fields)?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Ok((vec![first], None));
    }
    let (logic, rest) = if let Some(rest) = rest.strip_prefix("AND ") {
        (Logic::And, rest)
    } else if let Some(rest) = rest.strip_prefix("OR ") {
        (Logic::Or, rest)
    } else {
        return Err(invalid_filter(format!(
            "filter: expected AND or OR before '{rest}'"
        )));
    };
    let (second, rest) = parse_predicate(rest, fields)?;
    if !rest.trim().is_empty() {
        return Err(invalid_filter(
            "filter: at most two predicates and one logical operator",
        ));
    }
    Ok((vec![first, second], Some(logic)))
}

/// One predicate at the start of `text`, and what follows it.
fn parse_predicate<'a>(text: &'a str, fields: &[&str]) -> Result<(Predicate, &'a str), Failure> {
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (field, text) = text.split_at(name_end);
    if field.is_empty() {
        return Err(invalid_filter("filter: a field name is expected"));
    }
    if !fields.contains(&field) {
        return Err(invalid_filter(format!(
            "filter: there is no field '{field}'"
        )));
    }
    let text = text.trim_start();
    let Some((symbol, op)) = OPS.iter().find(|(symbol, _)| text.starts_with(symbol)) else {
        return Err(invalid_filter(format!(
            "filter: an operator (=, !=, >, >=, <, <=, ~) is expected after '{field}'"
        )));
    };
    let text = text[symbol.len()..].trim_start();
    let Some(text) = text.strip_prefix('\'') else {
        return Err(invalid_filter(format!(
            "filter: the value of '{field}' must be in single quotes"
        )));
    };
    let Some(end) = text.find('\'') else {
        return Err(invalid_filter("filter: a closing quote is missing"));
    };
    let value = &text[..end];
    if field == "dateLastModified" && instant(value).is_none() {
        return Err(invalid_filter(format!(
            "filter: '{value}' is not an ISO 8601 instant"
        )));
    }
    let predicate = Predicate {
        field: field.to_owned(),
        op: *op,
        value: value.to_owned(),
    };
    Ok((predicate, &text[end + 1..]))
}

/// A value as it is compared.
#[derive(Debug)]
enum Scalar {
    Number(f64),
    Text(String),
}

/// The scalars `value` stands for: itself, a reference's `sourcedId`, an array's elements.
fn scalars(value: &Value, out: &mut Vec<Scalar>) {
    match value {
        Value::String(text) => out.push(Scalar::Text(text.clone())),
        Value::Number(number) => out.push(Scalar::Number(number.as_f64().unwrap_or(f64::NAN))),
        Value::Bool(flag) => out.push(Scalar::Text(flag.to_string())),
        Value::Array(values) => values.iter().for_each(|v| scalars(v, out)),
        Value::Object(object) => {
            if let Some(Value::String(id)) = object.get("sourcedId") {
                out.push(Scalar::Text(id.clone()));
            }
        }
        Value::Null => {}
    }
}

fn sort_key(value: Option<&Value>) -> Option<Scalar> {
    let mut found = Vec::new();
    scalars(value?, &mut found);
    found.into_iter().next()
}

/// An instant in ISO 8601: RFC 3339 (a `+` of the zone may have arrived as a space), a date
/// and time without zone (UTC), or a bare date (its midnight UTC).
fn instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let zoned = |t: &str| DateTime::parse_from_rfc3339(t).ok();
    zoned(text)
        .or_else(|| zoned(&text.replace(' ', "+")))
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

fn compare(a: &Scalar, b: &Scalar, field: &str) -> Ordering {
    match (a, b) {
        (Scalar::Number(x), Scalar::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Scalar::Text(x), Scalar::Text(y)) => {
            if DATE_FIELDS.contains(&field)
                && let (Some(x), Some(y)) = (instant(x), instant(y))
            {
                return x.cmp(&y);
            }
            x.cmp(y)
        }
        (Scalar::Number(x), Scalar::Text(y)) => x.to_string().cmp(y),
        (Scalar::Text(x), Scalar::Number(y)) => x.cmp(&y.to_string()),
    }
}

impl Predicate {
    fn holds(&self, object: &Value) -> bool {
        let mut found = Vec::new();
        if let Some(value) = object.get(&self.field) {
            scalars(value, &mut found);
        }
        if self.op == Op::NotEqual {
            return !found.iter().any(|s| self.equals(s));
        }
        found.iter().any(|scalar| match self.op {
            Op::Contains => {
                let text = match scalar {
                    Scalar::Text(text) => text.to_lowercase(),
                    Scalar::Number(number) => number.to_string(),
                };
                text.contains(&self.value.to_lowercase())
            }
            Op::Equal => self.equals(scalar),
            _ => {
                let Some(order) = self.order(scalar) else {
                    return false;
                };
                match self.op {
                    Op::Greater => order == Ordering::Greater,
                    Op::GreaterOrEqual => order != Ordering::Less,
                    Op::Less => order == Ordering::Less,
                    _ => order != Ordering::Greater,
                }
            }
        })
    }

    fn equals(&self, scalar: &Scalar) -> bool {
        self.order(scalar) == Some(Ordering::Equal)
    }

    /// How the object's `scalar` compares with the filter's value; `None` when they cannot
    /// be compared (a number against a word).
    fn order(&self, scalar: &Scalar) -> Option<Ordering> {
        match scalar {
            Scalar::Number(number) => {
                let value = self.value.trim().parse::<f64>().ok()?;
                number.partial_cmp(&value)
            }
            Scalar::Text(text) => {
                if DATE_FIELDS.contains(&self.field.as_str())
                    && let (Some(x), Some(y)) = (instant(text), instant(&self.value))
                {
                    return Some(x.cmp(&y));
                }
                Some(text.as_str().cmp(self.value.as_str()))
            }
        }
    }
}
