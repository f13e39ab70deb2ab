//! Loads a jurisdiction's catalogue file into the database. Idempotent: the file's rows are
//! upserted, rows no longer in the file are removed, and an unchanged file is skipped.

use std::collections::HashSet;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::search::fold;

/// The catalogues that ship with Citizen.
pub const BUILT_IN: &[(&str, &str)] = &[("data/hue.toml", include_str!("../data/hue.toml"))];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    jurisdiction: String,
    name_vi: String,
    name_en: String,
    categories: Vec<CategoryEntry>,
    services: Vec<ServiceEntry>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CategoryEntry {
    id: String,
    name_vi: String,
    name_en: String,
    icon: String,
    #[serde(rename(deserialize = "order"))]
    sort_order: i32,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
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
    status: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(rename(deserialize = "order"))]
    sort_order: i32,
    #[serde(default)]
    url: Option<String>,
    /// The API entry point of a published `native` or `lookup` service.
    #[serde(default)]
    api: Option<String>,
    #[serde(default, skip_deserializing)]
    search_text: String,
    #[serde(default, skip_deserializing)]
    search_name: String,
}

impl CatalogueFile {
    fn parse(name: &str, text: &str) -> anyhow::Result<Self> {
        let mut file: CatalogueFile =
            toml::from_str(text).with_context(|| format!("{name} is not a valid catalogue"))?;
        let categories: HashSet<&str> = file.categories.iter().map(|c| c.id.as_str()).collect();
        if categories.len() != file.categories.len() {
            bail!("{name}: two categories share an id");
        }
        let mut ids = HashSet::new();
        for service in &file.services {
            if !ids.insert(service.id.as_str()) {
                bail!("{name}: service id {} appears twice", service.id);
            }
            if !categories.contains(service.category.as_str()) {
                bail!(
                    "{name}: service {} names unknown category {}",
                    service.id,
                    service.category
                );
            }
            let opens_api = matches!(service.kind.as_str(), "native" | "lookup");
            match (service.status.as_str(), &service.api) {
                ("published", None) if opens_api => bail!(
                    "{name}: published service {} names no api: mark it coming_soon until it works",
                    service.id
                ),
                ("coming_soon", Some(_)) => bail!(
                    "{name}: service {} is coming_soon yet names an api",
                    service.id
                ),
                (_, Some(api)) if !opens_api || !api.starts_with("/v1/") => bail!(
                    "{name}: service {} of kind {} cannot open api {api}",
                    service.id,
                    service.kind
                ),
                _ => {}
            }
        }
        for service in &mut file.services {
            service.search_name = fold(&format!("{} {}", service.name_vi, service.name_en));
            service.search_text = fold(&format!(
                "{} {} {} {} {}",
                service.name_vi,
                service.name_en,
                service.description_vi,
                service.description_en,
                service.keywords.join(" ")
            ));
        }
        Ok(file)
    }
}

/// Seeds every given catalogue file, each in one transaction.
pub async fn seed(pool: &PgPool, files: &[(String, String)]) -> anyhow::Result<()> {
    for (name, text) in files {
        let file = CatalogueFile::parse(name, text)?;
        let hash = blake3::hash(text.as_bytes()).to_hex().to_string();
        seed_one(pool, &file, &hash)
            .await
            .with_context(|| format!("cannot seed the catalogue from {name}"))?;
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(jurisdiction = %file.jurisdiction))]
async fn seed_one(pool: &PgPool, file: &CatalogueFile, hash: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // Replicas starting together seed one after another.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('catalogue-seed'))")
        .fetch_one(&mut *tx)
        .await?;
    let current = sqlx::query_scalar!(
        "SELECT content_hash FROM jurisdictions WHERE id = $1",
        file.jurisdiction
    )
    .fetch_optional(&mut *tx)
    .await?;
    if current.as_deref() == Some(hash) {
        tracing::debug!("catalogue unchanged");
        return Ok(());
    }

    sqlx::query!(
        r#"INSERT INTO jurisdictions (id, name_vi, name_en, content_hash)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE
           SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,
               content_hash = EXCLUDED.content_hash, updated_at = now()"#,
        file.jurisdiction,
        file.name_vi,
        file.name_en,
        hash
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!(
        r#"INSERT INTO categories (jurisdiction, id, name_vi, name_en, icon, sort_order)
           SELECT $1, c.id, c.name_vi, c.name_en, c.icon, c.sort_order
           FROM jsonb_to_recordset($2::jsonb)
             AS c(id text, name_vi text, name_en text, icon text, sort_order integer)
           ON CONFLICT (jurisdiction, id) DO UPDATE
           SET name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,
               icon = EXCLUDED.icon, sort_order = EXCLUDED.sort_order"#,
        file.jurisdiction,
        serde_json::to_value(&file.categories)?
    )
    .execute(&mut *tx)
    .await?;

    sqlx::query!(
        r#"INSERT INTO services (jurisdiction, id, category, kind, name_vi, name_en,
               description_vi, description_en, icon, assurance, agency_vi, agency_en, status,
               keywords, sort_order, url, api, search_text, search_name)
           SELECT $1, s.id, s.category, s.kind, s.name_vi, s.name_en, s.description_vi,
               s.description_en, s.icon, s.assurance, s.agency_vi, s.agency_en, s.status,
               s.keywords, s.sort_order, s.url, s.api, s.search_text, s.search_name
           FROM jsonb_to_recordset($2::jsonb)
             AS s(id text, category text, kind text, name_vi text, name_en text,
                  description_vi text, description_en text, icon text, assurance text,
                  agency_vi text, agency_en text, status text, keywords text[],
                  sort_order integer, url text, api text, search_text text,
                  search_name text)
           ON CONFLICT (jurisdiction, id) DO UPDATE
           SET category = EXCLUDED.category, kind = EXCLUDED.kind,
               name_vi = EXCLUDED.name_vi, name_en = EXCLUDED.name_en,
               description_vi = EXCLUDED.description_vi,
               description_en = EXCLUDED.description_en, icon = EXCLUDED.icon,
               assurance = EXCLUDED.assurance, agency_vi = EXCLUDED.agency_vi,
               agency_en = EXCLUDED.agency_en, status = EXCLUDED.status,
               keywords = EXCLUDED.keywords, sort_order = EXCLUDED.sort_order,
               url = EXCLUDED.url, api = EXCLUDED.api, search_text = EXCLUDED.search_text,
               search_name = EXCLUDED.search_name"#,
        file.jurisdiction,
        serde_json::to_value(&file.services)?
    )
    .execute(&mut *tx)
    .await?;

    let service_ids: Vec<String> = file.services.iter().map(|s| s.id.clone()).collect();
    let category_ids: Vec<String> = file.categories.iter().map(|c| c.id.clone()).collect();
    sqlx::query!(
        "DELETE FROM services WHERE jurisdiction = $1 AND id <> ALL($2)",
        file.jurisdiction,
        &service_ids
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM categories WHERE jurisdiction = $1 AND id <> ALL($2)",
        file.jurisdiction,
        &category_ids
    )
    .execute(&mut *tx)
    .await?;
    // Delivered at commit: every catalogue process drops its cached responses.
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        crate::cache::CHANGED_CHANNEL,
        file.jurisdiction
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        services = file.services.len(),
        categories = file.categories.len(),
        "catalogue seeded"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogues_are_valid() {
        for (name, text) in BUILT_IN {
            let file = CatalogueFile::parse(name, text).unwrap();
            assert!(file.services.len() >= 45, "{name} has about 50 services");
        }
    }

    #[test]
    fn a_service_in_an_unknown_category_is_refused() {
        let text = r#"
            jurisdiction = "x"
            name_vi = "X"
            name_en = "X"
            categories = []
            [[services]]
            id = "a"
            category = "nowhere"
            kind = "native"
            name_vi = "A"
            name_en = "A"
            description_vi = "A"
            description_en = "A"
            icon = "a"
            assurance = "anonymous"
            agency_vi = "A"
            agency_en = "A"
            status = "published"
            order = 1
        "#;
        let error = CatalogueFile::parse("x.toml", text).unwrap_err();
        assert!(error.to_string().contains("unknown category nowhere"));
    }

    /// A screen of the app that opens no API would promise what does not work.
    #[test]
    fn a_published_native_service_names_its_api_and_a_coming_one_none() {
        let file = |status: &str, api: &str| {
            format!(
                r#"
                jurisdiction = "x"
                name_vi = "X"
                name_en = "X"
                [[categories]]
                id = "c"
                name_vi = "C"
                name_en = "C"
                icon = "c"
                order = 1
                [[services]]
                id = "a"
                category = "c"
                kind = "lookup"
                name_vi = "A"
                name_en = "A"
                description_vi = "A"
                description_en = "A"
                icon = "a"
                assurance = "basic"
                agency_vi = "A"
                agency_en = "A"
                status = "{status}"
                order = 1
                {api}
                "#
            )
        };
        let parse = |status, api| CatalogueFile::parse("x.toml", &file(status, api));
        assert!(parse("published", r#"api = "/v1/a""#).is_ok());
        assert!(parse("coming_soon", "").is_ok());
        let unbacked = parse("published", "").unwrap_err().to_string();
        assert!(unbacked.contains("names no api"), "{unbacked}");
        let promised = parse("coming_soon", r#"api = "/v1/a""#)
            .unwrap_err()
            .to_string();
        assert!(
            promised.contains("coming_soon yet names an api"),
            "{promised}"
        );
        let elsewhere = parse("published", r#"api = "https://a.example""#).unwrap_err();
        assert!(elsewhere.to_string().contains("cannot open api"));
    }
}
