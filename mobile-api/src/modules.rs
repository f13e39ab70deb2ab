//! Which modules a process runs is data (after Grafana Mimir's `modules.go`): every service is
//! a value its crate exports (`platform::service::Service`), listed once in `SERVICES`; a
//! target names modules or groups of them, and expanding a target list yields every module
//! once, dependencies first. Adding a service is its crate and one line in `SERVICES`.

use std::fmt;

use platform::config::SectionSpec;
use platform::service::Service;

/// Every service of Citizen, in the order `--help` lists them.
pub static SERVICES: &[&Service] = &[
    &catalogue::SERVICE,
    &identity::SERVICE,
    &media::SERVICE,
    &reports::SERVICE,
    &notifications::SERVICE,
    &payments::SERVICE,
    &health::SERVICE,
    &education::SERVICE,
    &administration::SERVICE,
    &environment::SERVICE,
    &alerts::SERVICE,
    &places::SERVICE,
    &mobility::SERVICE,
    &community::SERVICE,
];

/// The configuration sections of every service, for loading a configuration that any target
/// may run with.
pub fn config_sections() -> Vec<SectionSpec> {
    SERVICES
        .iter()
        .filter_map(|service| service.config)
        .collect()
}

/// A part of a process: a service, or one of the parts around them.
#[derive(Debug, Clone, Copy)]
pub enum Module {
    /// Finds or starts PostgreSQL; every service needs it.
    Database,
    Service(&'static Service),
    /// The gateway the app talks to.
    MobileApi,
    /// Stand-ins for outside systems (VNeID, FCM, Web Push, VNPay, MoMo, a bill gateway), for
    /// development and tests.
    Sandbox,
}

impl PartialEq for Module {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Module {}

impl Module {
    pub fn name(self) -> &'static str {
        match self {
            Module::Database => "database",
            Module::Service(service) => service.name,
            Module::MobileApi => "mobile-api",
            Module::Sandbox => "sandbox",
        }
    }

    /// The service, when the module is one.
    pub fn service(self) -> Option<&'static Service> {
        match self {
            Module::Service(service) => Some(service),
            _ => None,
        }
    }

    /// What `--help` says of it.
    pub fn about(self) -> &'static str {
        match self {
            Module::Database => "PostgreSQL, found or started",
            Module::Service(service) => service.about,
            Module::MobileApi => "the gateway the app talks to",
            Module::Sandbox => "stand-ins for outside systems, for development",
        }
    }

    /// Modules that must run in the same process, started first.
    fn needs(self) -> &'static [Module] {
        match self {
            Module::Service(_) => &[Module::Database],
            _ => &[],
        }
    }

    /// Whether `--target` may name it (the database comes in only as a dependency).
    fn targetable(self) -> bool {
        self != Module::Database
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every module, services in registry order.
pub fn all_modules() -> impl Iterator<Item = Module> {
    std::iter::once(Module::Database)
        .chain(SERVICES.iter().map(|service| Module::Service(service)))
        .chain([Module::MobileApi, Module::Sandbox])
}

/// The group `all`: the gateway and every service (the sandbox only where the profile asks).
fn all_group() -> impl Iterator<Item = Module> {
    std::iter::once(Module::MobileApi)
        .chain(SERVICES.iter().map(|service| Module::Service(service)))
}

/// The service called `name`.
pub fn service(name: &str) -> Option<&'static Service> {
    SERVICES
        .iter()
        .copied()
        .find(|service| service.name == name)
}

/// Every name `--target` accepts, for help and error messages.
pub fn target_names() -> Vec<&'static str> {
    std::iter::once("all")
        .chain(all_modules().filter(|m| m.targetable()).map(Module::name))
        .collect()
}

/// Expands a comma list of targets into the modules to start, dependencies before the modules
/// that need them, each once.
pub fn expand(targets: &str) -> anyhow::Result<Vec<Module>> {
    let mut order = Vec::new();
    for name in targets.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let roots: Vec<Module> = if name == "all" {
            all_group().collect()
        } else if let Some(module) = all_modules().find(|m| m.targetable() && m.name() == name) {
            vec![module]
        } else {
            anyhow::bail!(
                "unknown target `{name}`; known targets: {}",
                target_names().join(", ")
            );
        };
        for module in roots {
            visit(module, &mut order);
        }
    }
    if order.is_empty() {
        anyhow::bail!(
            "no target given; known targets: {}",
            target_names().join(", ")
        );
    }
    Ok(order)
}

fn visit(module: Module, order: &mut Vec<Module>) {
    if order.contains(&module) {
        return;
    }
    for needed in module.needs() {
        visit(*needed, order);
    }
    order.push(module);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(modules: &[Module]) -> Vec<&'static str> {
        modules.iter().map(|m| m.name()).collect()
    }

    #[test]
    fn service_names_and_routes_are_unique() {
        let mut names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SERVICES.len());
        let mut prefixes: Vec<&str> = SERVICES
            .iter()
            .flat_map(|s| s.routes.iter().copied())
            .collect();
        let count = prefixes.len();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(prefixes.len(), count, "two services claim one path prefix");
        for service in SERVICES {
            if let Some(section) = service.config {
                assert_eq!(section.key, service.name, "a service's section is its name");
            }
            for called in service.calls {
                assert!(
                    super::service(called).is_some(),
                    "{} calls unknown {called}",
                    service.name
                );
            }
        }
    }

    #[test]
    fn all_expands_to_every_module_once_with_dependencies_first() {
        let modules = expand("all").unwrap();
        assert_eq!(
            names(&modules),
            [
                "mobile-api",
                "database",
                "catalogue",
                "identity",
                "media",
                "reports",
                "notifications",
                "payments",
                "health",
                "education",
                "administration",
                "environment",
                "alerts",
                "places",
                "mobility",
                "community"
            ]
        );
        assert_eq!(expand("catalogue, all,catalogue").unwrap().len(), 16);
    }

    #[test]
    fn a_single_target_brings_only_what_it_needs() {
        assert_eq!(expand("mobile-api").unwrap(), vec![Module::MobileApi]);
        assert_eq!(
            names(&expand("catalogue").unwrap()),
            ["database", "catalogue"]
        );
    }

    #[test]
    fn unknown_and_internal_targets_are_refused_with_the_known_ones() {
        let error = expand("catalog").unwrap_err().to_string();
        assert!(error.contains("unknown target `catalog`"), "{error}");
        assert!(
            error.contains(
                "all, catalogue, identity, media, reports, notifications, payments, health, education, administration, environment, alerts, places, mobility, community, mobile-api, sandbox"
            ),
            "{error}"
        );
        assert!(expand("database").is_err());
    }
}
