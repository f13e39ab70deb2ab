//! Jurisdiction data: departments, categories with their questions, routing rules, and ward
//! boundaries from GeoJSON. Imported by admins (`PUT /v1/admin/jurisdictions/{id}` and
//! `.../wards`), by `citizen jurisdiction import`, and at start for the demo city.

use std::collections::HashSet;

use geo::{Area, Intersects, MultiPolygon, Polygon, Validation};
use platform::ApiError;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use crate::domain::ReportsError;

/// The demo jurisdiction shipped in the binary.
pub const DEMO_JURISDICTION: &str = include_str!("../../data/hue/jurisdiction.json");
pub const DEMO_WARDS: &str = include_str!("../../data/hue/wards.geojson");

/// Most wards, categories and questions one import may hold.
const MAX_WARDS: usize = 500;
const MAX_CATEGORIES: usize = 300;
const MAX_QUESTIONS: usize = 20;
const MAX_OPTIONS: usize = 50;
/// Most vertices over all of a jurisdiction's ward boundaries.
const MAX_VERTICES: usize = 500_000;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionFile {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
    pub timezone: String,
    pub departments: Vec<Department>,
    pub categories: Vec<CategoryFile>,
    #[serde(default)]
    pub routing: Vec<RoutingRule>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryFile {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    #[serde(default)]
    pub description_vi: String,
    #[serde(default)]
    pub description_en: String,
    pub group: String,
    /// The department responsible unless a routing rule says otherwise for a ward.
    pub department: String,
    pub sla_hours: i32,
    pub priority: Priority,
    #[serde(default)]
    pub urgent: bool,
    /// Whether its reports appear in the public feed.
    #[serde(default = "yes")]
    pub public: bool,
    /// Whether the public position of its reports is coarsened.
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub questions: Vec<Question>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// An extra question a category asks when a report is filed.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
    pub kind: QuestionKind,
    #[serde(default)]
    pub required: bool,
    /// Whether the public may read its answer (in the app's public view and the near feed,
    /// and through Open311), on reports that are public and neither anonymous nor of a
    /// sensitive category. Off unless set: answers may name people or places.
    #[serde(default)]
    pub public: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<QuestionOption>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One line of text.
    String,
    Number,
    /// RFC 3339 date and time.
    Datetime,
    /// Several lines of text.
    Text,
    SingleChoice,
    MultiChoice,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionOption {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub category: String,
    /// The ward it applies in; without one, the category's default everywhere.
    #[serde(default)]
    pub ward: Option<String>,
    pub department: String,
}

/// A GeoJSON FeatureCollection of wards: `properties` hold `id`, `name_vi` and `name_en`.
#[derive(Debug, Deserialize)]
pub struct WardCollection {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<WardFeature>,
}

#[derive(Debug, Deserialize)]
struct WardFeature {
    #[serde(rename = "type")]
    kind: String,
    properties: WardProperties,
    geometry: GeoJsonGeometry,
}

#[derive(Debug, Deserialize)]
struct WardProperties {
    id: String,
    name_vi: String,
    name_en: String,
}

/// The two geometry types a ward may have, with RFC 7946 `[longitude, latitude]` positions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", content = "coordinates")]
pub enum GeoJsonGeometry {
    Polygon(Vec<Vec<GeoJsonPosition>>),
    MultiPolygon(Vec<Vec<Vec<GeoJsonPosition>>>),
}

/// A GeoJSON position, `[longitude, latitude]`. RFC 7946 allows a third element, the height
/// (QGIS writes one): it is accepted and dropped, since wards and areas are flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoJsonPosition(pub [f64; 2]);

impl<'de> Deserialize<'de> for GeoJsonPosition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = GeoJsonPosition;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a position [longitude, latitude] or [longitude, latitude, height]")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<GeoJsonPosition, A::Error> {
                use serde::de::Error;
                let longitude: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let latitude: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let _height: Option<f64> = seq.next_element()?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(4, &self));
                }
                Ok(GeoJsonPosition([longitude, latitude]))
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

impl GeoJsonGeometry {
    pub fn to_geo(&self) -> MultiPolygon<f64> {
        fn polygon(rings: &[Vec<GeoJsonPosition>]) -> Polygon<f64> {
            let ring = |points: &Vec<GeoJsonPosition>| {
                geo::LineString::from(points.iter().map(|p| (p.0[0], p.0[1])).collect::<Vec<_>>())
            };
            let mut rings = rings.iter().map(ring);
            let exterior = rings.next().unwrap_or_else(|| geo::LineString::new(vec![]));
            Polygon::new(exterior, rings.collect())
        }
        match self {
            GeoJsonGeometry::Polygon(rings) => MultiPolygon::new(vec![polygon(rings)]),
            GeoJsonGeometry::MultiPolygon(polygons) => {
                MultiPolygon::new(polygons.iter().map(|rings| polygon(rings)).collect())
            }
        }
    }

    pub fn vertices(&self) -> usize {
        match self {
            GeoJsonGeometry::Polygon(rings) => rings.iter().map(Vec::len).sum(),
            GeoJsonGeometry::MultiPolygon(polygons) => {
                polygons.iter().flatten().map(Vec::len).sum()
            }
        }
    }
}

/// A ward ready to be stored.
#[derive(Debug, Clone)]
pub struct Ward {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
    pub boundary: GeoJsonGeometry,
}

/// Ids and codes: lowercase ASCII letters, digits, `-` and `_`.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        return Ok(());
    }
    Err(ReportsError::InvalidJurisdictionData {
        problem_vi: format!("Mã {what} `{id}` không hợp lệ (chữ thường, số, `-`, `_`)."),
        problem_en: format!(
            "The {what} id `{id}` is invalid (lowercase letters, digits, `-`, `_`)."
        ),
    }
    .into())
}

fn check_unique<'a>(what: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    let mut seen = HashSet::new();
    for id in ids {
        check_id(what, id)?;
        if !seen.insert(id) {
            return Err(ReportsError::InvalidJurisdictionData {
                problem_vi: format!("Mã {what} `{id}` bị trùng."),
                problem_en: format!("The {what} id `{id}` appears twice."),
            }
            .into());
        }
    }
    Ok(())
}

impl JurisdictionFile {
    /// Checks everything the database cannot: ids, references, questions.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_id("jurisdiction", &self.id)?;
        // An IANA name such as `Asia/Ho_Chi_Minh`.
        let zone_like = self.timezone.split('/').count() >= 2
            && self.timezone.len() <= 64
            && self
                .timezone
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
        if !zone_like {
            return Err(ReportsError::InvalidJurisdictionData {
                problem_vi: "Múi giờ không hợp lệ.".into(),
                problem_en: "The timezone is not valid.".into(),
            }
            .into());
        }
        if self.categories.len() > MAX_CATEGORIES {
            return Err(ReportsError::InvalidJurisdictionData {
                problem_vi: "Quá nhiều loại phản ánh.".into(),
                problem_en: "Too many categories.".into(),
            }
            .into());
        }
        check_unique("department", self.departments.iter().map(|d| d.id.as_str()))?;
        check_unique("category", self.categories.iter().map(|c| c.code.as_str()))?;
        let departments: HashSet<&str> = self.departments.iter().map(|d| d.id.as_str()).collect();
        let categories: HashSet<&str> = self.categories.iter().map(|c| c.code.as_str()).collect();
        let unknown_department = |id: &str| ReportsError::InvalidJurisdictionData {
            problem_vi: format!("Không có phòng ban `{id}`."),
            problem_en: format!("There is no department `{id}`."),
        };
        for category in &self.categories {
            if !departments.contains(category.department.as_str()) {
                return Err(unknown_department(&category.department).into());
            }
            if !(1..=24 * 365).contains(&category.sla_hours) {
                return Err(ReportsError::InvalidJurisdictionData {
                    problem_vi: format!("Thời hạn xử lý của `{}` không hợp lệ.", category.code),
                    problem_en: format!("The SLA of `{}` is out of range.", category.code),
                }
                .into());
            }
            category.validate_questions()?;
        }
        for rule in &self.routing {
            if !categories.contains(rule.category.as_str()) {
                return Err(ReportsError::InvalidJurisdictionData {
                    problem_vi: format!("Không có loại phản ánh `{}`.", rule.category),
                    problem_en: format!("There is no category `{}`.", rule.category),
                }
                .into());
            }
            if !departments.contains(rule.department.as_str()) {
                return Err(unknown_department(&rule.department).into());
            }
            if let Some(ward) = &rule.ward {
                check_id("ward", ward)?;
            }
        }
        Ok(())
    }
}

impl CategoryFile {
    fn validate_questions(&self) -> Result<(), ApiError> {
        if self.questions.len() > MAX_QUESTIONS {
            return Err(ReportsError::InvalidJurisdictionData {
                problem_vi: "Quá nhiều câu hỏi.".into(),
                problem_en: "Too many questions.".into(),
            }
            .into());
        }
        check_unique("question", self.questions.iter().map(|q| q.code.as_str()))?;
        for question in &self.questions {
            let choice = matches!(
                question.kind,
                QuestionKind::SingleChoice | QuestionKind::MultiChoice
            );
            if choice == question.options.is_empty() || question.options.len() > MAX_OPTIONS {
                return Err(ReportsError::InvalidJurisdictionData { problem_vi: format!(
                        "Câu hỏi `{}` của `{}`: chỉ câu hỏi lựa chọn mới có (và phải có) các lựa chọn.",
                        question.code, self.code
                    ), problem_en: format!(
                        "Question `{}` of `{}`: choice questions, and only they, have options.",
                        question.code, self.code
                    ) }.into());
            }
            check_unique("option", question.options.iter().map(|o| o.code.as_str()))?;
        }
        Ok(())
    }
}

/// Parses and checks a ward collection: valid, non-overlapping polygons with unique ids.
pub fn parse_wards(geojson: &str) -> Result<Vec<Ward>, ApiError> {
    let collection: WardCollection =
        serde_json::from_str(geojson).map_err(|error| ReportsError::InvalidJurisdictionData {
            problem_vi: format!("GeoJSON không hợp lệ: {error}"),
            problem_en: format!("Invalid GeoJSON: {error}"),
        })?;
    if collection.kind != "FeatureCollection"
        || collection.features.iter().any(|f| f.kind != "Feature")
    {
        return Err(ReportsError::InvalidJurisdictionData {
            problem_vi: "Cần một FeatureCollection các phường.".into(),
            problem_en: "Expected a FeatureCollection of wards.".into(),
        }
        .into());
    }
    if collection.features.is_empty() || collection.features.len() > MAX_WARDS {
        return Err(ReportsError::InvalidJurisdictionData {
            problem_vi: format!("Cần từ 1 đến {MAX_WARDS} phường."),
            problem_en: format!("Between 1 and {MAX_WARDS} wards are needed."),
        }
        .into());
    }
    let vertices: usize = collection
        .features
        .iter()
        .map(|f| f.geometry.vertices())
        .sum();
    if vertices > MAX_VERTICES {
        return Err(ReportsError::InvalidJurisdictionData {
            problem_vi: "Ranh giới có quá nhiều điểm.".into(),
            problem_en: "The boundaries have too many vertices.".into(),
        }
        .into());
    }
    check_unique(
        "ward",
        collection.features.iter().map(|f| f.properties.id.as_str()),
    )?;
    let wards: Vec<Ward> = collection
        .features
        .into_iter()
        .map(|f| Ward {
            id: f.properties.id,
            name_vi: f.properties.name_vi,
            name_en: f.properties.name_en,
            boundary: f.geometry,
        })
        .collect();
    let shapes: Vec<MultiPolygon<f64>> = wards.iter().map(|w| w.boundary.to_geo()).collect();
    for (ward, shape) in wards.iter().zip(&shapes) {
        if !is_valid_shape(shape) {
            return Err(ReportsError::InvalidJurisdictionData { problem_vi: format!("Ranh giới phường `{}` không hợp lệ.", ward.id), problem_en: format!(
                    "The boundary of ward `{}` is not a valid polygon (closed rings of [longitude, latitude], no self-intersection).",
                    ward.id
                ) }.into());
        }
    }
    // Wards may share borders, never area.
    for (i, a) in shapes.iter().enumerate() {
        for (j, b) in shapes.iter().enumerate().skip(i + 1) {
            if overlap(a, b) {
                return Err(ReportsError::InvalidJurisdictionData {
                    problem_vi: format!(
                        "Phường `{}` và `{}` chồng lên nhau.",
                        wards[i].id, wards[j].id
                    ),
                    problem_en: format!("Wards `{}` and `{}` overlap.", wards[i].id, wards[j].id),
                }
                .into());
            }
        }
    }
    Ok(wards)
}

/// Whether `shape` is a usable area: closed rings of at least four `[longitude, latitude]`
/// positions in range, no self-intersection, some area.
pub fn is_valid_shape(shape: &MultiPolygon<f64>) -> bool {
    let in_range = shape.0.iter().all(|polygon| {
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .all(|ring| {
                ring.0.len() >= 4
                    && ring.is_closed()
                    && ring
                        .0
                        .iter()
                        .all(|c| (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y))
            })
    });
    in_range && shape.is_valid() && shape.unsigned_area() > 0.0
}

/// Overlap tolerated between wards, in square degrees (~1 m²): shared borders digitised twice.
const OVERLAP_TOLERANCE: f64 = 1e-10;

/// Whether two shapes share more than a border.
fn overlap(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    use geo::BooleanOps;
    a.intersects(b) && a.intersection(b).unsigned_area() > OVERLAP_TOLERANCE
}

/// A ward of another jurisdiction, as stored.
struct OtherWard {
    jurisdiction: String,
    id: String,
    shape: MultiPolygon<f64>,
}

/// Refuses wards that overlap another jurisdiction's: a point belongs to one jurisdiction, so
/// nobody can route another city's reports (or warnings) to themselves.
fn check_no_overlap_with_others(wards: &[Ward], others: &[OtherWard]) -> Result<(), ApiError> {
    use geo::BoundingRect;
    let others: Vec<(&OtherWard, geo::Rect<f64>)> = others
        .iter()
        .filter_map(|other| Some((other, other.shape.bounding_rect()?)))
        .collect();
    for ward in wards {
        let shape = ward.boundary.to_geo();
        let Some(bounds) = shape.bounding_rect() else {
            continue;
        };
        // Bounding boxes first: only neighbours get the exact (costly) test.
        let overlapped = others
            .iter()
            .filter(|(_, other_bounds)| bounds.intersects(other_bounds))
            .find(|(other, _)| overlap(&shape, &other.shape));
        if let Some((other, _)) = overlapped {
            return Err(ReportsError::OverlapsJurisdiction {
                ward: ward.id.clone(),
                other_ward: other.id.clone(),
                other_jurisdiction: other.jurisdiction.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// Creates or replaces a jurisdiction's data and, when given, its wards: all of it or, when
/// anything is refused, none of it.
pub async fn import(
    pool: &PgPool,
    file: &JurisdictionFile,
    wards: Option<&[Ward]>,
) -> Result<(), ApiError> {
    file.validate()?;
    let mut tx = pool.begin().await?;
    write_jurisdiction(&mut tx, file).await?;
    if let Some(wards) = wards {
        write_wards(&mut tx, &file.id, wards).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Replaces a jurisdiction's wards (the jurisdiction must exist).
pub async fn import_wards(
    pool: &PgPool,
    jurisdiction: &str,
    wards: &[Ward],
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    write_wards(&mut tx, jurisdiction, wards).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces a jurisdiction's departments, categories and routing rules (its wards stay), within
/// the caller's transaction.
async fn write_jurisdiction(
    tx: &mut PgConnection,
    file: &JurisdictionFile,
) -> Result<(), ApiError> {
    sqlx::query!(
        r#"INSERT INTO jurisdictions (id, name_vi, name_en, timezone) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name_vi = $2, name_en = $3, timezone = $4, updated_at = now()"#,
        file.id,
        file.name_vi,
        file.name_en,
        file.timezone
    )
    .execute(&mut *tx)
    .await?;
    let ids: Vec<&str> = file.departments.iter().map(|d| d.id.as_str()).collect();
    sqlx::query!(
        r#"INSERT INTO departments (jurisdiction_id, id, name_vi, name_en)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
           ON CONFLICT (jurisdiction_id, id) DO UPDATE SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en"#,
        file.id,
        &ids as &[&str],
        &file.departments.iter().map(|d| d.name_vi.as_str()).collect::<Vec<_>>() as &[&str],
        &file.departments.iter().map(|d| d.name_en.as_str()).collect::<Vec<_>>() as &[&str],
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM routing_rules WHERE jurisdiction_id = $1",
        file.id
    )
    .execute(&mut *tx)
    .await?;
    for category in &file.categories {
        let questions = serde_json::to_value(&category.questions).map_err(ApiError::internal)?;
        sqlx::query!(
            r#"INSERT INTO categories (jurisdiction_id, code, name_vi, name_en, description_vi, description_en,
                   group_code, sla_hours, priority, urgent, public, sensitive, keywords, questions)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (jurisdiction_id, code) DO UPDATE SET name_vi = $3, name_en = $4,
                   description_vi = $5, description_en = $6, group_code = $7, sla_hours = $8,
                   priority = $9, urgent = $10, public = $11, sensitive = $12, keywords = $13,
                   questions = $14, active = true"#,
            file.id,
            category.code,
            category.name_vi,
            category.name_en,
            category.description_vi,
            category.description_en,
            category.group,
            category.sla_hours,
            category.priority.as_str(),
            category.urgent,
            category.public,
            category.sensitive,
            &category.keywords,
            questions
        )
        .execute(&mut *tx)
        .await?;
    }
    // The category's own department is its rule without a ward; explicit rules override.
    let rules = file
        .categories
        .iter()
        .map(|c| (c.code.as_str(), None, c.department.as_str()))
        .chain(file.routing.iter().map(|r| {
            (
                r.category.as_str(),
                r.ward.as_deref(),
                r.department.as_str(),
            )
        }));
    for (category, ward, department) in rules {
        sqlx::query!(
            r#"INSERT INTO routing_rules (jurisdiction_id, category_code, ward_id, department_id)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (jurisdiction_id, category_code, ward_id) DO UPDATE SET department_id = $4"#,
            file.id,
            category,
            ward,
            department
        )
        .execute(&mut *tx)
        .await?;
    }
    // Categories left out are retired: their reports stay, no new ones are filed under them.
    let codes: Vec<&str> = file.categories.iter().map(|c| c.code.as_str()).collect();
    sqlx::query!(
        "UPDATE categories SET active = (code = ANY($2::text[])) WHERE jurisdiction_id = $1",
        file.id,
        &codes as &[&str]
    )
    .execute(&mut *tx)
    .await?;
    // A category made private takes its reports out of the public feed.
    sqlx::query!(
        r#"UPDATE reports r SET public = false, updated_at = now() FROM categories c
           WHERE c.jurisdiction_id = $1 AND r.jurisdiction_id = $1 AND r.category_code = c.code
             AND NOT c.public AND r.public"#,
        file.id
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Replaces a jurisdiction's wards, within the caller's transaction. Wards that reports point at
/// may change shape or name but not disappear; no ward may overlap another jurisdiction's.
async fn write_wards(
    tx: &mut PgConnection,
    jurisdiction: &str,
    wards: &[Ward],
) -> Result<(), ApiError> {
    // One ward import at a time, so two jurisdictions cannot each pass the overlap check
    // against the other's old wards; reads and filings go on meanwhile.
    sqlx::query!("LOCK TABLE wards IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let bumped = sqlx::query!(
        r#"UPDATE jurisdictions SET boundaries_version = boundaries_version + 1, updated_at = now()
           WHERE id = $1"#,
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    if bumped.rows_affected() == 0 {
        return Err(platform::ApiError::jurisdiction_not_found());
    }
    let others = sqlx::query!(
        r#"SELECT jurisdiction_id, id, boundary FROM wards WHERE jurisdiction_id <> $1"#,
        jurisdiction
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| {
        let boundary: GeoJsonGeometry = serde_json::from_value(row.boundary)?;
        Ok(OtherWard {
            jurisdiction: row.jurisdiction_id,
            id: row.id,
            shape: boundary.to_geo(),
        })
    })
    .collect::<anyhow::Result<Vec<_>>>()
    .map_err(ApiError::internal)?;
    // Comparing shapes is CPU work: off the async threads.
    let checked = wards.to_vec();
    tokio::task::spawn_blocking(move || check_no_overlap_with_others(&checked, &others))
        .await
        .map_err(ApiError::internal)??;
    let ids: Vec<&str> = wards.iter().map(|w| w.id.as_str()).collect();
    let orphaned = sqlx::query_scalar!(
        r#"SELECT DISTINCT ward_id FROM reports WHERE jurisdiction_id = $1 AND ward_id <> ALL($2::text[]) LIMIT 5"#,
        jurisdiction,
        &ids as &[&str]
    )
    .fetch_all(&mut *tx)
    .await?;
    if !orphaned.is_empty() {
        return Err(ReportsError::WardInUse {
            wards: orphaned.join(", "),
        }
        .into());
    }
    sqlx::query!(
        r#"DELETE FROM routing_rules WHERE jurisdiction_id = $1 AND ward_id <> ALL($2::text[])"#,
        jurisdiction,
        &ids as &[&str]
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"DELETE FROM wards WHERE jurisdiction_id = $1 AND id <> ALL($2::text[])"#,
        jurisdiction,
        &ids as &[&str]
    )
    .execute(&mut *tx)
    .await?;
    for ward in wards {
        let boundary = serde_json::to_value(&ward.boundary).map_err(ApiError::internal)?;
        sqlx::query!(
            r#"INSERT INTO wards (jurisdiction_id, id, name_vi, name_en, boundary) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (jurisdiction_id, id) DO UPDATE SET name_vi = $3, name_en = $4, boundary = $5"#,
            jurisdiction,
            ward.id,
            ward.name_vi,
            ward.name_en,
            boundary
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::wards::WardIndex;

    #[test]
    fn the_demo_city_is_valid_and_its_wards_are_found() {
        let file: JurisdictionFile = serde_json::from_str(DEMO_JURISDICTION).unwrap();
        file.validate().unwrap();
        assert!(file.categories.len() >= 20 && file.departments.len() >= 8);
        let wards = parse_wards(DEMO_WARDS).unwrap();
        assert!(wards.len() >= 10);
        let index = WardIndex::build(
            file.id,
            1,
            wards.into_iter().map(|w| (w.id, w.boundary)).collect(),
        )
        .unwrap();
        assert_eq!(index.locate(16.495, 107.582), Some("phu-xuan"));
        // Inside the hole of huong-thuy, which thanh-thuy fills.
        assert_eq!(index.locate(16.400, 107.614), Some("thanh-thuy"));
        assert_eq!(index.locate(16.39, 107.59), Some("huong-thuy"));
        // The Cồn Hến island, the second part of vy-da.
        assert_eq!(index.locate(16.4663, 107.5858), Some("vy-da"));
        assert_eq!(index.locate(16.60, 107.72), None);
    }

    #[test]
    fn positions_with_a_height_are_accepted_without_it() {
        let ring = |z: &str| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"id":"a","name_vi":"a","name_en":"a"}},
                   "geometry":{{"type":"Polygon","coordinates":[[[107.5,16.4{z}],[107.6,16.4{z}],[107.6,16.5{z}],[107.5,16.4{z}]]]}}}}]}}"#
            )
        };
        let wards = parse_wards(&ring(",12.5")).unwrap();
        let GeoJsonGeometry::Polygon(rings) = &wards[0].boundary else {
            panic!("a polygon")
        };
        assert_eq!(rings[0][1], GeoJsonPosition([107.6, 16.4]));
        assert_eq!(
            serde_json::to_value(&wards[0].boundary).unwrap()["coordinates"][0][0],
            serde_json::json!([107.5, 16.4])
        );
        // A position is two or three numbers.
        assert!(parse_wards(&ring(",1,2")).is_err());
        assert!(parse_wards(&ring(r#","x""#)).is_err());
    }

    #[test]
    fn overlapping_or_broken_wards_are_refused() {
        let ward = |id: &str, west: f64| {
            format!(
                r#"{{"type":"Feature","properties":{{"id":"{id}","name_vi":"{id}","name_en":"{id}"}},
                   "geometry":{{"type":"Polygon","coordinates":[[[{west},16.4],[{e},16.4],[{e},16.5],[{west},16.5],[{west},16.4]]]}}}}"#,
                e = west + 0.1
            )
        };
        let collection = |features: &[String]| {
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                features.join(",")
            )
        };
        assert!(parse_wards(&collection(&[ward("a", 107.5), ward("b", 107.6)])).is_ok());
        let error = parse_wards(&collection(&[ward("a", 107.5), ward("b", 107.55)])).unwrap_err();
        assert_eq!(error.code(), "invalid_jurisdiction_data");
        assert!(error.describe().contains("overlap"), "{}", error.describe());
        let bow_tie = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x","name_vi":"x","name_en":"x"},
            "geometry":{"type":"Polygon","coordinates":[[[107.5,16.4],[107.6,16.5],[107.6,16.4],[107.5,16.5],[107.5,16.4]]]}}]}"#;
        assert!(parse_wards(bow_tie).is_err());
        assert!(parse_wards(&collection(&[ward("a", 107.5), ward("a", 107.7)])).is_err());
    }
}
