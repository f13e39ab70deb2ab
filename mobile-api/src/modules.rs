//! Which modules a process runs is data: a target names modules or groups of them, and each
//! module names the modules it needs (after Grafana Mimir's `modules.go`). Expanding a target
//! list yields every module once, dependencies first.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    /// Finds or starts PostgreSQL; every service with a schema needs it.
    Database,
    /// The catalogue of city services.
    Catalogue,
    /// Accounts, sign-in, tokens and keys.
    Identity,
    /// Photos: validation, derivatives, geo index.
    Media,
    /// Field reports: routing, workflow, officer queues.
    Reports,
    /// The inbox and pushes to phones.
    Notifications,
    /// Bills and fees paid through VNPay and MoMo, the ledger, reconciliation.
    Payments,
    /// The gateway the app talks to.
    MobileApi,
    /// Stand-ins for outside systems (VNeID, FCM, Web Push, VNPay, MoMo, a bill gateway), for
    /// development and tests.
    Sandbox,
}

struct ModuleSpec {
    module: Module,
    name: &'static str,
    /// Whether `--target` may name it (internal modules come in only as dependencies).
    targetable: bool,
    needs: &'static [Module],
}

const MODULES: &[ModuleSpec] = &[
    ModuleSpec {
        module: Module::Database,
        name: "database",
        targetable: false,
        needs: &[],
    },
    ModuleSpec {
        module: Module::Catalogue,
        name: "catalogue",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::Identity,
        name: "identity",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::Media,
        name: "media",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::Reports,
        name: "reports",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::Notifications,
        name: "notifications",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::Payments,
        name: "payments",
        targetable: true,
        needs: &[Module::Database],
    },
    ModuleSpec {
        module: Module::MobileApi,
        name: "mobile-api",
        targetable: true,
        needs: &[],
    },
    ModuleSpec {
        module: Module::Sandbox,
        name: "sandbox",
        targetable: true,
        needs: &[],
    },
];

/// Groups of modules a target may name.
const GROUPS: &[(&str, &[Module])] = &[(
    "all",
    &[
        Module::MobileApi,
        Module::Identity,
        Module::Catalogue,
        Module::Media,
        Module::Reports,
        Module::Notifications,
        Module::Payments,
    ],
)];

fn spec(module: Module) -> &'static ModuleSpec {
    // Every variant has a row; the test below keeps it so.
    MODULES
        .iter()
        .find(|s| s.module == module)
        .unwrap_or(&MODULES[0])
}

impl Module {
    pub fn name(self) -> &'static str {
        spec(self).name
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every name `--target` accepts, for help and error messages.
pub fn target_names() -> Vec<&'static str> {
    GROUPS
        .iter()
        .map(|(name, _)| *name)
        .chain(MODULES.iter().filter(|s| s.targetable).map(|s| s.name))
        .collect()
}

/// Expands a comma list of targets into the modules to start, dependencies before the modules
/// that need them, each once.
pub fn expand(targets: &str) -> anyhow::Result<Vec<Module>> {
    let mut order = Vec::new();
    for name in targets.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let roots: Vec<Module> = if let Some((_, modules)) = GROUPS.iter().find(|(g, _)| *g == name)
        {
            modules.to_vec()
        } else if let Some(spec) = MODULES.iter().find(|s| s.targetable && s.name == name) {
            vec![spec.module]
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
    for needed in spec(module).needs {
        visit(*needed, order);
    }
    order.push(module);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_has_a_spec() {
        for module in [
            Module::Database,
            Module::Catalogue,
            Module::Identity,
            Module::Media,
            Module::Reports,
            Module::Notifications,
            Module::Payments,
            Module::MobileApi,
            Module::Sandbox,
        ] {
            assert_eq!(spec(module).module, module);
        }
    }

    #[test]
    fn all_expands_to_every_module_once_with_dependencies_first() {
        let modules = expand("all").unwrap();
        assert_eq!(
            modules,
            vec![
                Module::MobileApi,
                Module::Database,
                Module::Identity,
                Module::Catalogue,
                Module::Media,
                Module::Reports,
                Module::Notifications,
                Module::Payments
            ]
        );
        assert_eq!(expand("catalogue, all,catalogue").unwrap().len(), 8);
    }

    #[test]
    fn a_single_target_brings_only_what_it_needs() {
        assert_eq!(expand("mobile-api").unwrap(), vec![Module::MobileApi]);
        assert_eq!(
            expand("catalogue").unwrap(),
            vec![Module::Database, Module::Catalogue]
        );
    }

    #[test]
    fn unknown_and_internal_targets_are_refused_with_the_known_ones() {
        let error = expand("catalog").unwrap_err().to_string();
        assert!(error.contains("unknown target `catalog`"), "{error}");
        assert!(
            error.contains(
                "all, catalogue, identity, media, reports, notifications, payments, mobile-api, sandbox"
            ),
            "{error}"
        );
        assert!(expand("database").is_err());
    }
}
