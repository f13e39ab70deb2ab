//! The catalogue's HTTP surface: `/v1/catalogue/...`.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use platform::conditional::Representation;
use platform::error::Problem;
use platform::extract::QueryParams;
use platform::{ApiError, Lang, RequestContext};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::cache::CacheKey;
use crate::search::{MAX_QUERY_CHARS, fold, like_patterns};
use crate::{CatalogueError, CatalogueState};

/// The catalogue changes only when it is re-seeded; clients may reuse it briefly and then
/// revalidate cheaply with `If-None-Match`.
const CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=60";

pub fn routes(state: CatalogueState) -> Router {
    Router::new()
        .route("/v1/catalogue/services", get(list_services))
        .route("/v1/catalogue/services/{id}", get(get_service))
        .route("/v1/catalogue/categories", get(list_categories))
        .layer(Extension(state))
}

/// How a service opens in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A screen built into the app.
    Native,
    /// A search form over an agency's records.
    Lookup,
    /// A government web page shown inside the app.
    Webview,
    /// A link opened outside the app (a phone number, a website).
    Link,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Lookup => "lookup",
            Kind::Webview => "webview",
            Kind::Link => "link",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only services of this category.
    category: Option<String>,
    /// Only services of this kind.
    kind: Option<Kind>,
    /// Search words, without or with Vietnamese diacritics (`phan anh`); at most 100 characters.
    q: Option<String>,
    /// The jurisdiction; the deployment's default when omitted.
    jurisdiction: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JurisdictionParam {
    /// The jurisdiction; the deployment's default when omitted.
    jurisdiction: Option<String>,
}

/// A city service as the app shows it, in the language the request asked for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = catalogue::Service)]
pub struct Service {
    #[schema(example = "field-reports")]
    id: String,
    category: String,
    kind: String,
    #[schema(example = "Phản ánh hiện trường")]
    name: String,
    description: String,
    icon: String,
    /// Sign-in needed: `anonymous`, `basic` (phone account) or `verified` (identity verified).
    assurance: String,
    /// The agency that runs the service.
    agency: String,
    keywords: Vec<String>,
    order: i32,
    /// `published` (it works), or `coming_soon`: the app shows it greyed out and opens nothing.
    status: String,
    /// Where a `webview` or `link` service opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// The API entry point a published `native` or `lookup` service opens on, e.g.
    /// `/v1/reports/mine`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/v1/reports/mine")]
    api: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    jurisdiction: String,
    services: Vec<Service>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = catalogue::Category)]
pub struct Category {
    id: String,
    name: String,
    icon: String,
    order: i32,
    /// Published services in the category.
    service_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    jurisdiction: String,
    categories: Vec<Category>,
}

struct ServiceRow {
    id: String,
    category: String,
    kind: String,
    name_vi: String,
    name_en: String,
    description_vi: String,
    description_en: String,
    icon: String,
    assurance: String,
    agency_vi: String,
    agency_en: String,
    keywords: Vec<String>,
    sort_order: i32,
    status: String,
    url: Option<String>,
    api: Option<String>,
}

impl ServiceRow {
    fn localize(self, lang: Lang) -> Service {
        let pick = |vi: String, en: String| if lang == Lang::En { en } else { vi };
        Service {
            id: self.id,
            category: self.category,
            kind: self.kind,
            name: pick(self.name_vi, self.name_en),
            description: pick(self.description_vi, self.description_en),
            icon: self.icon,
            assurance: self.assurance,
            agency: pick(self.agency_vi, self.agency_en),
            keywords: self.keywords,
            order: self.sort_order,
            status: self.status,
            url: self.url,
            api: self.api,
        }
    }
}

fn request_lang() -> Lang {
    RequestContext::current()
        .map(|c| c.lang)
        .unwrap_or_default()
}

impl CatalogueState {
    fn jurisdiction_or_default(&self, requested: Option<String>) -> String {
        requested.unwrap_or_else(|| self.default_jurisdiction.clone())
    }

    /// Fails with 404 for a jurisdiction that does not exist, rather than an empty list.
    async fn check_jurisdiction(&self, id: &str) -> Result<(), ApiError> {
        let exists = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM jurisdictions WHERE id = $1) AS "exists!""#,
            id
        )
        .fetch_one(&self.pool)
        .await?;
        if !exists {
            return Err(ApiError::jurisdiction_not_found());
        }
        Ok(())
    }

    /// Answers from the response cache, or renders with `load` and caches the result.
    async fn cached<T: Serialize>(
        &self,
        key: CacheKey,
        headers: &HeaderMap,
        lang: Lang,
        load: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<Response, ApiError> {
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.respond(headers, lang, CACHE_CONTROL));
        }
        let generation = self.cache.generation();
        let representation = Representation::json(&load.await?)?;
        let response = representation.respond(headers, lang, CACHE_CONTROL);
        self.cache.insert(key, representation, generation);
        Ok(response)
    }
}

/// Lists the services the app shows, in category order: those that work (`published`) and
/// those announced as `coming_soon`.
#[utoipa::path(
    get,
    path = "/v1/catalogue/services",
    tag = "catalogue",
    params(ListParams, ("Accept-Language" = Option<String>, Header, description = "`vi` (default) or `en`")),
    responses(
        (status = 200, description = "Published and coming services", body = ServiceList),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown jurisdiction", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_services(
    Extension(state): Extension<CatalogueState>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Response, ApiError> {
    let q = params.q.unwrap_or_default();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(CatalogueError::QueryTooLong {
            max: MAX_QUERY_CHARS,
        }
        .into());
    }
    let jurisdiction = state.jurisdiction_or_default(params.jurisdiction);
    let lang = request_lang();
    let key = CacheKey::List {
        jurisdiction: jurisdiction.clone(),
        lang,
        category: params.category.clone(),
        kind: params.kind.map(Kind::as_str),
        query: fold(&q),
    };
    let load = async {
        state.check_jurisdiction(&jurisdiction).await?;
        let rows = sqlx::query_as!(
            ServiceRow,
            r#"SELECT s.id, s.category, s.kind, s.name_vi, s.name_en, s.description_vi,
                      s.description_en, s.icon, s.assurance, s.agency_vi, s.agency_en,
                      s.keywords, s.sort_order, s.status, s.url, s.api
               FROM services s
               JOIN categories c ON c.jurisdiction = s.jurisdiction AND c.id = s.category
               WHERE s.jurisdiction = $1
                 AND s.status IN ('published', 'coming_soon')
                 AND ($2::text IS NULL OR s.category = $2)
                 AND ($3::text IS NULL OR s.kind = $3)
                 AND s.search_text LIKE ALL($4::text[])
               ORDER BY (cardinality($4::text[]) > 0 AND s.search_name LIKE ALL($4::text[])) DESC,
                        c.sort_order, s.sort_order, s.id"#,
            jurisdiction,
            params.category,
            params.kind.map(Kind::as_str),
            &like_patterns(&q)
        )
        .fetch_all(&state.pool)
        .await?;
        Ok(ServiceList {
            jurisdiction: jurisdiction.clone(),
            services: rows.into_iter().map(|r| r.localize(lang)).collect(),
        })
    };
    state.cached(key, &headers, lang, load).await
}

/// One service the app shows (published or coming soon).
#[utoipa::path(
    get,
    path = "/v1/catalogue/services/{id}",
    tag = "catalogue",
    params(("id" = String, Path, description = "Service id, e.g. `field-reports`"), JurisdictionParam),
    responses(
        (status = 200, description = "The service", body = Service),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such service shown", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get_service(
    Extension(state): Extension<CatalogueState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<JurisdictionParam>,
) -> Result<Response, ApiError> {
    let jurisdiction = state.jurisdiction_or_default(params.jurisdiction);
    let lang = request_lang();
    let key = CacheKey::Service {
        jurisdiction: jurisdiction.clone(),
        lang,
        id: id.clone(),
    };
    let load = async {
        state.check_jurisdiction(&jurisdiction).await?;
        let row = sqlx::query_as!(
            ServiceRow,
            r#"SELECT id, category, kind, name_vi, name_en, description_vi, description_en, icon,
                      assurance, agency_vi, agency_en, keywords, sort_order, status, url, api
               FROM services
               WHERE jurisdiction = $1 AND id = $2
                 AND status IN ('published', 'coming_soon')"#,
            jurisdiction,
            id
        )
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| CatalogueError::ServiceNotFound { id: id.clone() })?;
        Ok(row.localize(lang))
    };
    state.cached(key, &headers, lang, load).await
}

/// Lists the categories with their number of published services.
#[utoipa::path(
    get,
    path = "/v1/catalogue/categories",
    tag = "catalogue",
    params(JurisdictionParam),
    responses(
        (status = 200, description = "Categories in display order", body = CategoryList),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "Unknown jurisdiction", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list_categories(
    Extension(state): Extension<CatalogueState>,
    headers: HeaderMap,
    QueryParams(params): QueryParams<JurisdictionParam>,
) -> Result<Response, ApiError> {
    let jurisdiction = state.jurisdiction_or_default(params.jurisdiction);
    let lang = request_lang();
    let key = CacheKey::Categories {
        jurisdiction: jurisdiction.clone(),
        lang,
    };
    let load = async {
        state.check_jurisdiction(&jurisdiction).await?;
        let rows = sqlx::query!(
            r#"SELECT c.id, c.name_vi, c.name_en, c.icon, c.sort_order,
                      count(s.id) FILTER (WHERE s.status = 'published') AS "service_count!"
               FROM categories c
               LEFT JOIN services s ON s.jurisdiction = c.jurisdiction AND s.category = c.id
               WHERE c.jurisdiction = $1
               GROUP BY c.jurisdiction, c.id
               ORDER BY c.sort_order, c.id"#,
            jurisdiction
        )
        .fetch_all(&state.pool)
        .await?;
        Ok(CategoryList {
            jurisdiction: jurisdiction.clone(),
            categories: rows
                .into_iter()
                .map(|r| Category {
                    name: if lang == Lang::En {
                        r.name_en
                    } else {
                        r.name_vi
                    },
                    id: r.id,
                    icon: r.icon,
                    order: r.sort_order,
                    service_count: r.service_count,
                })
                .collect(),
        })
    };
    state.cached(key, &headers, lang, load).await
}
