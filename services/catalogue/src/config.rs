//! The catalogue's section of the configuration (`[catalogue]`).

use std::path::PathBuf;

use platform::config::Section;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// Jurisdiction served when a request names none.
    pub default_jurisdiction: String,
    /// Jurisdiction data files loaded into the database at start; defaults to the ones
    /// shipped in the binary.
    pub seed_files: Vec<PathBuf>,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            default_jurisdiction: "hue".to_owned(),
            seed_files: Vec::new(),
        }
    }
}

impl Section for CatalogueConfig {
    const KEY: &'static str = "catalogue";
}
