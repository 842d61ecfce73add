//! `nfs-manage fleet`: the layout of every cluster (`fleet.yaml`, see [`crate::config::fleet`]).
//!
//! - `render`: the cluster.yaml each node derives from the layout, written or checked;
//! - `status`: every node of every cluster asked at once (its `status --json` over ssh);
//! - `place`: the volume with the most headroom under its target for a new project.
//!
//! `where` and `client-config` read the same layout (see their modules).

mod render;
mod status;

use std::time::Duration;

use anyhow::Result;

use crate::cli::{FleetCommand, Global};
use crate::config::Config;
use crate::config::fleet::{DEFAULT_FLEET, Layout, Source};
use crate::engine::runner::Runner;
use crate::error::Error;
use crate::tools::etcd;

pub use status::{NodeReport, config_arg, gather};

pub fn dispatch(global: &Global, cmd: &FleetCommand) -> Result<()> {
    match cmd {
        FleetCommand::Render(args) => render::run(global, args),
        FleetCommand::Status(args) => status::run(global, args),
        FleetCommand::Place(args) => status::place(global, args),
    }
}

/// The runner of the fleet commands: they read (the layout from etcd, the nodes' status)
/// and write only local files.
pub fn runner(global: &Global) -> Runner {
    Runner::new(
        false,
        global.verbose,
        Duration::from_secs(30),
        Duration::from_secs(300),
    )
    .with_packages(crate::tools::package_of)
}

/// Read the layout from its source. Where there is no layout file at the default place, the
/// cluster config (`--config`) is a fleet of one, so every fleet command also works on a
/// site that has a single hand-written cluster config.
pub fn load(global: &Global, runner: &Runner) -> Result<Layout> {
    let source = Source::parse(&global.fleet)?;
    match &source {
        Source::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => Ok(Layout::parse(&source.name(), &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && global.fleet == DEFAULT_FLEET => {
                let text = std::fs::read_to_string(&global.config).map_err(|e2| {
                    Error::Config(format!(
                        "{DEFAULT_FLEET}: no fleet layout ({e}), and the cluster config {} cannot be read either: {e2}; pass --fleet FILE",
                        global.config.display()
                    ))
                })?;
                let cfg = Config::parse(&global.config, &text)?;
                Ok(Layout::single(cfg, &global.config, &text))
            }
            Err(e) => Err(Error::Config(format!(
                "{}: cannot read the fleet layout: {e}",
                path.display()
            ))
            .into()),
        },
        Source::Etcd { endpoints, key } => {
            let out = runner.run(&etcd::get_cmd(endpoints, Duration::from_secs(10), key))?;
            let got = etcd::parse_get(&out, key).map_err(|e| {
                Error::Config(format!(
                    "{}: cannot read the fleet layout from etcd ({}): {e:#}",
                    source.name(),
                    endpoints.join(",")
                ))
            })?;
            let Some(kv) = got.kv else {
                return Err(Error::Config(format!(
                    "{}: etcd ({}) has no fleet layout under this key; store one with `etcdctl put {key} < fleet.yaml`",
                    source.name(),
                    endpoints.join(",")
                ))
                .into());
            };
            Ok(Layout::parse(&source.name(), &kv.value)?)
        }
    }
}

/// This host's node name: `--node`, else the short host name.
pub fn this_host(global: &Global) -> Result<String> {
    if let Some(n) = &global.node {
        return Ok(n.clone());
    }
    let host = nix::unistd::gethostname()
        .map_err(|e| Error::Config(format!("cannot read this host's name: {e}")))?;
    Ok(host
        .to_string_lossy()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string())
}
