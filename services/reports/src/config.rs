//! Reports' section of the configuration (`[reports]`).

use platform::config::Section;
use serde::{Deserialize, Serialize};

/// Field reports.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Imports the demo city `hue` (wards, departments, categories) when it is not there.
    pub seed_demo_jurisdiction: bool,
    /// How often the SLA job looks for reports past their deadline.
    pub sla_check_interval_ms: u64,
    /// Reports one account may file per hour; more are refused with 429 until the hour passes.
    pub max_reports_per_hour: i64,
    /// Open311 requests one client address may make per minute (per process).
    pub open311_requests_per_minute: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            seed_demo_jurisdiction: true,
            sla_check_interval_ms: 60_000,
            max_reports_per_hour: 20,
            open311_requests_per_minute: 300,
        }
    }
}

impl Section for ReportsConfig {
    const KEY: &'static str = "reports";

    fn production_problems(&self) -> Vec<String> {
        if self.seed_demo_jurisdiction {
            vec!["reports.seed_demo_jurisdiction: the demo city is not a city's data".to_owned()]
        } else {
            Vec::new()
        }
    }
}
