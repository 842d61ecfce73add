//! `nfs-manage check`: a Nagios/Icinga plugin on the same facts and the same status
//! computation as `nfs-manage status` — the verdicts are status's problems, sorted by the
//! check that owns them and by severity, so the two can never disagree.
//!
//! `check backups` (and `all` when backups are configured) gives the verdicts of
//! `backup list` (`commands::backup::state`): it needs no node state, so on a backup host it
//! probes only LVM, the journal and the mount table.
//!
//! Output is one line, `NFS-MANAGE OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata`, and the
//! exit code is the Nagios one (0, 1, 2, 3) and nothing else: a config error, a missing tool or
//! a probe that failed is UNKNOWN (the check could not run), never 78 or 69.

use std::fmt::Write as _;

use anyhow::Result;
use serde::Serialize;

use super::backup::state::{self as backup_state, Survey};
use crate::cli::{CheckArgs, CheckWhat, Expect, Global};
use crate::context::Ctx;
use crate::domain::facts::{Facts, Mode};
use crate::domain::state::{self, Area, Severity, Status};
use crate::error::Error;

/// Nagios states, ordered by precedence when several checks are combined
/// (CRITICAL > WARNING > UNKNOWN > OK, as monitoring-plugins' `max_state_alt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl State {
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    fn of(s: Severity) -> State {
        match s {
            Severity::Unknown => State::Unknown,
            Severity::Warning => State::Warning,
            Severity::Critical => State::Critical,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub state: State,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub state: State,
    /// What is fine, in a few words (shown when everything is OK).
    pub summary: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub command: &'static str,
    pub check: &'static str,
    pub expect: Option<&'static str>,
    pub cluster: Option<String>,
    pub node: Option<String>,
    pub role: Option<&'static str>,
    pub state: State,
    pub exit_code: u8,
    /// The Nagios line, exactly as printed without --json.
    pub line: String,
    pub perfdata: Vec<Perf>,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    pub uom: &'static str,
    /// The warning threshold, when there is one (backup age, snapshot fill).
    pub warn: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Perf {
    fn new(label: impl Into<String>, value: f64, uom: &'static str, max: Option<f64>) -> Perf {
        Perf {
            label: label.into(),
            value,
            uom,
            warn: None,
            min: Some(0.0),
            max,
        }
    }

    fn warn_at(mut self, w: f64) -> Perf {
        self.warn = Some(w);
        self
    }

    /// `label=value[UOM];warn;crit;min;max` (Nagios plugin guidelines, "Performance data").
    fn render(&self) -> String {
        let label = if self
            .label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            self.label.clone()
        } else {
            format!("'{}'", self.label.replace('\'', "''"))
        };
        let num = |v: f64| {
            if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        };
        format!(
            "{label}={}{};{};;{};{}",
            num(self.value),
            self.uom,
            self.warn.map(num).unwrap_or_default(),
            self.min.map(num).unwrap_or_default(),
            self.max.map(num).unwrap_or_default()
        )
    }
}

fn what_name(w: CheckWhat) -> &'static str {
    match w {
        CheckWhat::Drbd => "drbd",
        CheckWhat::Role => "role",
        CheckWhat::ServiceIp => "service-ip",
        CheckWhat::Nfs => "nfs",
        CheckWhat::Exports => "exports",
        CheckWhat::Backups => "backups",
        CheckWhat::All => "all",
    }
}

fn expect_name(e: Expect) -> &'static str {
    match e {
        Expect::Active => "active",
        Expect::Standby => "standby",
    }
}

pub fn run(global: &Global, args: &CheckArgs) -> Result<()> {
    let report = match Ctx::new(global) {
        Ok(ctx) => {
            let backups = (matches!(args.what, CheckWhat::Backups | CheckWhat::All)
                && !ctx.config.backups.is_empty())
            .then(|| backup_state::survey(&ctx));
            if args.what == CheckWhat::Backups {
                evaluate(&ctx, None, backups.as_ref(), args)
            } else {
                match Facts::gather(&ctx, Mode::Strict) {
                    Ok(facts) => evaluate(
                        &ctx,
                        Some(&state::compute(&ctx, &facts)),
                        backups.as_ref(),
                        args,
                    ),
                    Err(e) => unknown(args, Some(&ctx), &format!("cannot probe the node: {e:#}")),
                }
            }
        }
        Err(e) => unknown(args, None, &format!("{e:#}")),
    };
    if global.json {
        crate::output::json(&serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", report.line);
    }
    match report.state {
        State::Ok => Ok(()),
        s => Err(Error::Silent(s.code()).into()),
    }
}

fn unknown(args: &CheckArgs, ctx: Option<&Ctx>, why: &str) -> Report {
    let finding = Finding {
        state: State::Unknown,
        message: why.to_string(),
    };
    let checks = vec![CheckResult {
        name: what_name(args.what),
        state: State::Unknown,
        summary: String::new(),
        findings: vec![finding],
    }];
    finish(
        args,
        ctx.map(|c| (c.config.cluster.clone(), c.node.clone())),
        None,
        checks,
        Vec::new(),
    )
}

/// Turn status (and the backups' state) into verdicts. Pure: the tests feed it statuses
/// directly. `st` is None only for `check backups`, which needs no node state.
pub fn evaluate(
    ctx: &Ctx,
    st: Option<&Status>,
    backups: Option<&Result<Survey>>,
    args: &CheckArgs,
) -> Report {
    let cfg = &ctx.config;
    let wanted: Vec<CheckWhat> = match args.what {
        CheckWhat::All => {
            let mut v = vec![
                CheckWhat::Drbd,
                CheckWhat::Role,
                CheckWhat::ServiceIp,
                CheckWhat::Nfs,
                CheckWhat::Exports,
            ];
            if !cfg.backups.is_empty() {
                v.push(CheckWhat::Backups);
            }
            v
        }
        one => vec![one],
    };
    let mut perf = st.map(perfdata).unwrap_or_default();
    let checks: Vec<CheckResult> = wanted
        .into_iter()
        .map(|w| match (w, st) {
            (CheckWhat::Backups, _) => backups_check(ctx, backups, &mut perf),
            (_, Some(st)) => one_check(st, w, args.expect),
            (_, None) => unreachable!("node checks are evaluated with a status"),
        })
        .collect();
    finish(
        args,
        Some((cfg.cluster.clone(), ctx.node.clone())),
        st.map(|s| s.role),
        checks,
        perf,
    )
}

/// The backups' verdicts are `backup list`'s problems; perfdata: the age of each backup's
/// last successful run (warning at its max_age), its snapshots' fill (warning above 80%),
/// and the open backup mounts.
fn backups_check(ctx: &Ctx, survey: Option<&Result<Survey>>, perf: &mut Vec<Perf>) -> CheckResult {
    let cfg = &ctx.config;
    let (findings, summary) = match survey {
        _ if cfg.backups.is_empty() => (
            vec![Finding {
                state: State::Unknown,
                message: "no backups configured".into(),
            }],
            String::new(),
        ),
        None => unreachable!("surveyed whenever backups are configured"),
        Some(Err(e)) => (
            vec![Finding {
                state: State::Unknown,
                message: format!("cannot read the backups' state: {e:#}"),
            }],
            String::new(),
        ),
        Some(Ok(s)) => {
            for (b, bs) in cfg.backups.iter().zip(&s.backups) {
                if let Some(age) = bs.age(s.now) {
                    perf.push(
                        Perf::new(
                            format!("backup_{}_age", b.name),
                            age.as_secs() as f64,
                            "s",
                            None,
                        )
                        .warn_at(b.max_age.as_secs() as f64),
                    );
                }
                for (what, lv) in [
                    ("presync", bs.presync.as_ref()),
                    ("mount", bs.mount.as_ref().and_then(|m| m.snapshot.as_ref())),
                ] {
                    if let Some(pct) = lv.and_then(|l| l.data_percent) {
                        perf.push(
                            Perf::new(
                                format!("backup_{}_{what}_fill", b.name),
                                pct,
                                "%",
                                Some(100.0),
                            )
                            .warn_at(backup_state::FILL_WARN_PERCENT),
                        );
                    }
                }
            }
            perf.push(Perf::new(
                "backup_mounts",
                s.open_mounts() as f64,
                "",
                Some(cfg.backups.len() as f64),
            ));
            let findings = s
                .problems(&cfg.backups)
                .into_iter()
                .map(|p| Finding {
                    state: State::of(p.severity),
                    message: p.message,
                })
                .collect();
            (findings, s.summary())
        }
    };
    let state = findings.iter().map(|f| f.state).max().unwrap_or(State::Ok);
    CheckResult {
        name: what_name(CheckWhat::Backups),
        state,
        summary,
        findings,
    }
}

fn from_problems(st: &Status, area: Area) -> Vec<Finding> {
    st.problems
        .iter()
        .filter(|p| p.area == area)
        .map(|p| Finding {
            state: State::of(p.severity),
            message: p.message.clone(),
        })
        .collect()
}

fn crit(msg: String) -> Finding {
    Finding {
        state: State::Critical,
        message: msg,
    }
}

fn one_check(st: &Status, what: CheckWhat, expect: Option<Expect>) -> CheckResult {
    let mut findings;
    let summary;
    match what {
        CheckWhat::Drbd => {
            findings = from_problems(st, Area::Drbd);
            let drbd: Vec<_> = st
                .volumes
                .iter()
                .filter_map(|v| v.drbd.as_ref().map(|d| (v, d)))
                .collect();
            for (v, d) in &drbd {
                if d.role == "Unconfigured" {
                    findings.push(crit(format!(
                        "volume {}: DRBD resource {} is not up on this node (not replicating)",
                        v.name, d.resource
                    )));
                }
            }
            summary = if drbd.is_empty() {
                "no DRBD volumes".to_string()
            } else {
                let roles: Vec<String> = drbd
                    .iter()
                    .map(|(v, d)| format!("{} {} {}", v.name, d.role, d.disk))
                    .collect();
                format!("DRBD {}", roles.join(", "))
            };
        }
        CheckWhat::Role => {
            findings = Vec::new();
            match expect {
                Some(e) if st.role != expect_name(e) => findings.push(crit(format!(
                    "role is {}, expected {}",
                    st.role,
                    expect_name(e)
                ))),
                Some(_) => {}
                None => match st.role {
                    "degraded" => {
                        // As bad as the worst of what makes it degraded (a resync is a warning).
                        let worst = st
                            .problems
                            .iter()
                            .map(|p| State::of(p.severity))
                            .max()
                            .unwrap_or(State::Critical)
                            .max(State::Warning);
                        findings.push(Finding {
                            state: worst,
                            message: "role is degraded".into(),
                        });
                    }
                    "down" => {
                        findings.push(crit("role is down: nothing is up on this node".into()))
                    }
                    _ => {}
                },
            }
            summary = format!("role {}", st.role);
        }
        CheckWhat::ServiceIp => {
            findings = from_problems(st, Area::ServiceIp);
            summary = match &st.service_ip {
                None => "no service IP configured".to_string(),
                Some(ip) => {
                    match (expect, ip.present) {
                        (Some(Expect::Active), false) => findings.push(crit(format!(
                            "the service IP {} is not on this node, which should be active",
                            ip.address
                        ))),
                        (Some(Expect::Standby), true) => findings.push(crit(format!(
                            "the service IP {} is on this node, which should be standby: the IP is on the wrong node",
                            ip.address
                        ))),
                        _ => {}
                    }
                    format!(
                        "service IP {} {}",
                        ip.address,
                        if ip.present { "here" } else { "not here" }
                    )
                }
            };
        }
        CheckWhat::Nfs => {
            findings = from_problems(st, Area::Nfs);
            if expect == Some(Expect::Active)
                && !st.nfs.active
                && !findings.iter().any(|f| f.state == State::Critical)
            {
                findings.push(crit(format!(
                    "NFS server {} is {} on this node, which should be active",
                    st.nfs.service,
                    if st.nfs.state.is_empty() {
                        "not running"
                    } else {
                        &st.nfs.state
                    }
                )));
            }
            let mounted = st.volumes.iter().filter(|v| v.mounted).count();
            summary = format!(
                "NFS server {} {}, {mounted}/{} volumes mounted",
                st.nfs.service,
                if st.nfs.active { "active" } else { "inactive" },
                st.volumes.len()
            );
        }
        CheckWhat::Exports => {
            findings = from_problems(st, Area::Exports);
            let exported = st.volumes.iter().filter(|v| v.exported).count();
            summary = format!(
                "{exported}/{} volumes exported, none unmounted",
                st.volumes.len()
            );
        }
        CheckWhat::Backups | CheckWhat::All => unreachable!("handled by evaluate"),
    }
    let state = findings.iter().map(|f| f.state).max().unwrap_or(State::Ok);
    CheckResult {
        name: what_name(what),
        state,
        summary,
        findings,
    }
}

fn perfdata(st: &Status) -> Vec<Perf> {
    let n = st.volumes.len() as f64;
    let count = |f: &dyn Fn(&state::VolumeStatus) -> bool| {
        st.volumes.iter().filter(|v| f(v)).count() as f64
    };
    let mut p = vec![
        Perf::new("volumes", n, "", None),
        Perf::new("mounted", count(&|v| v.mounted), "", Some(n)),
        Perf::new("exported", count(&|v| v.exported), "", Some(n)),
    ];
    let drbd: Vec<_> = st.volumes.iter().filter_map(|v| v.drbd.as_ref()).collect();
    if !drbd.is_empty() {
        let d = drbd.len() as f64;
        p.push(Perf::new(
            "drbd_uptodate",
            drbd.iter().filter(|d| d.disk == "UpToDate").count() as f64,
            "",
            Some(d),
        ));
        p.push(Perf::new(
            "drbd_connected",
            drbd.iter()
                .filter(|d| {
                    !d.peers.is_empty() && d.peers.iter().all(|p| p.connection == "Connected")
                })
                .count() as f64,
            "",
            Some(d),
        ));
    }
    if let Some(ip) = &st.service_ip {
        p.push(Perf::new(
            "service_ip",
            ip.present as u8 as f64,
            "",
            Some(1.0),
        ));
    }
    p.push(Perf::new(
        "nfs_active",
        st.nfs.active as u8 as f64,
        "",
        Some(1.0),
    ));
    for v in &st.volumes {
        for peer in v.drbd.iter().flat_map(|d| &d.peers) {
            if let Some(pct) = peer.sync_percent {
                p.push(Perf::new(
                    format!("sync_{}_{}", v.name, peer.name),
                    pct,
                    "%",
                    Some(100.0),
                ));
            }
        }
    }
    p
}

/// Keep the line one line, and keep `|` for the perfdata separator.
fn clean(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "/")
}

fn finish(
    args: &CheckArgs,
    who: Option<(String, String)>,
    role: Option<&'static str>,
    checks: Vec<CheckResult>,
    perfdata: Vec<Perf>,
) -> Report {
    let state = checks.iter().map(|c| c.state).max().unwrap_or(State::Ok);
    let mut findings: Vec<&Finding> = checks.iter().flat_map(|c| &c.findings).collect();
    // Worst first; the order within one severity is status's (config order).
    findings.sort_by_key(|f| std::cmp::Reverse(f.state));
    let mut summary = match (&who, role) {
        (Some((cluster, node)), Some(role)) => format!("{cluster} on {node} ({role}): "),
        (Some((cluster, node)), None) => format!("{cluster} on {node}: "),
        _ => String::new(),
    };
    if findings.is_empty() {
        let ok: Vec<&str> = checks
            .iter()
            .map(|c| c.summary.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        summary.push_str(&ok.join("; "));
    } else {
        let parts: Vec<String> = findings
            .iter()
            .map(|f| {
                if f.state == state {
                    f.message.clone()
                } else {
                    format!("{}: {}", f.state.word(), f.message)
                }
            })
            .collect();
        summary.push_str(&parts.join("; "));
    }
    let mut line = format!("NFS-MANAGE {} - {}", state.word(), clean(&summary));
    if !perfdata.is_empty() {
        let perf: Vec<String> = perfdata.iter().map(Perf::render).collect();
        let _ = write!(line, " | {}", perf.join(" "));
    }
    let (cluster, node) = who.unzip();
    Report {
        format_version: 1,
        command: "check",
        check: what_name(args.what),
        expect: args.expect.map(expect_name),
        cluster,
        node,
        role,
        state,
        exit_code: state.code(),
        line,
        perfdata,
        checks,
    }
}

/// Whether a command line that clap rejected was meant for `check`: its first word that names
/// a subcommand, skipping the global options, the values of those that take one (taken from
/// the command-line definition, so a new global option cannot be forgotten here) and words
/// that are neither (an unknown option's value).
pub fn is_check_invocation(args: impl Iterator<Item = String>) -> bool {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let takes_value = |word: &str| {
        cli.get_arguments().any(|a| {
            a.get_action().takes_values()
                && (word
                    .strip_prefix("--")
                    .is_some_and(|l| a.get_long() == Some(l))
                    || word
                        .strip_prefix('-')
                        .and_then(|s| s.chars().next().filter(|_| s.chars().count() == 1))
                        .is_some_and(|c| a.get_short() == Some(c)))
        })
    };
    let subcommands: Vec<String> = cli
        .get_subcommands()
        .flat_map(|s| {
            std::iter::once(s.get_name().to_string()).chain(s.get_all_aliases().map(String::from))
        })
        .collect();
    let mut it = args.skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            return it.next().is_some_and(|w| w == "check");
        }
        if a.starts_with('-') && a.len() > 1 {
            if !a.contains('=') && takes_value(&a) {
                it.next();
            }
        } else if subcommands.contains(&a) {
            return a == "check";
        }
    }
    false
}

/// Print a usage error as a Nagios UNKNOWN line; returns the exit code (3).
pub fn usage_unknown(clap_message: &str) -> u8 {
    let first = clap_message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("bad arguments")
        .trim_start_matches("error: ");
    outln!("NFS-MANAGE UNKNOWN - usage: {}", clean(first));
    State::Unknown.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> impl Iterator<Item = String> {
        s.split(' ')
            .map(String::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn finds_the_check_subcommand() {
        assert!(is_check_invocation(argv("nfs-manage check --expect x")));
        assert!(is_check_invocation(argv(
            "nfs-manage --config /etc/c.yaml --node a -v check drbd"
        )));
        assert!(!is_check_invocation(argv(
            "nfs-manage --config check status"
        )));
        assert!(!is_check_invocation(argv("nfs-manage up --bad")));
        // Every global option that takes a value, and words clap could not place.
        assert!(is_check_invocation(argv(
            "nfs-manage --wait-lock xyz check"
        )));
        assert!(is_check_invocation(argv("nfs-manage --bogus value check")));
        assert!(is_check_invocation(argv(
            "nfs-manage --wait-lock=1s -q check --expect x"
        )));
        assert!(!is_check_invocation(argv("nfs-manage --node check status")));
    }

    #[test]
    fn states_combine_as_nagios_expects() {
        assert!(State::Critical > State::Warning);
        assert!(State::Warning > State::Unknown);
        assert!(State::Unknown > State::Ok);
        assert_eq!(
            [State::Ok, State::Warning, State::Critical, State::Unknown].map(State::code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn perfdata_format() {
        assert_eq!(
            Perf::new("mounted", 2.0, "", Some(3.0)).render(),
            "mounted=2;;;0;3"
        );
        assert_eq!(
            Perf::new("sync_misc_peer", 45.5, "%", Some(100.0)).render(),
            "sync_misc_peer=45.50%;;;0;100"
        );
        assert_eq!(Perf::new("a b", 1.0, "", None).render(), "'a b'=1;;;0;");
        assert_eq!(
            Perf::new("backup_tools_age", 3600.0, "s", None)
                .warn_at(129600.0)
                .render(),
            "backup_tools_age=3600s;129600;;0;"
        );
    }

    #[test]
    fn line_stays_one_line_and_keeps_the_pipe_for_perfdata() {
        assert_eq!(clean("a\nb | c"), "a b / c");
    }
}

#[cfg(test)]
mod substring_tests {

    use super::*;

    use crate::tools::ip;

    const CONFIG: &str = "\
cluster: labstore-primary
nodes:
  labstore1004: { address: 10.64.37.6 }
  labstore1005: { address: 10.64.37.7 }
service_ip: { address: 10.64.37.18/24, interface: eth0, announce_to: 10.64.37.1 }
volumes:
  - { name: tools, device: /dev/sdb1, mountpoint: /srv/tools, fstype: ext4 }
";

    fn ctx() -> Ctx {
        crate::context::test_ctx(CONFIG, "labstore1004")
    }

    fn addrs(list: &[&str]) -> ip::Addrs {
        let infos: Vec<String> = list
            .iter()
            .map(|a| {
                let (addr, prefix) = a.split_once('/').unwrap();
                format!(r#"{{"family":"inet","local":"{addr}","prefixlen":{prefix}}}"#)
            })
            .collect();
        ip::parse(&format!(
            r#"[{{"ifindex":2,"ifname":"eth0","addr_info":[{}]}}]"#,
            infos.join(",")
        ))
        .unwrap()
    }

    fn service_ip_check(on_eth0: &[&str]) -> Report {
        let ctx = ctx();
        let facts = Facts {
            addrs: Some(addrs(on_eth0)),
            ..Facts::default()
        };
        let st = state::compute(&ctx, &facts);
        evaluate(
            &ctx,
            Some(&st),
            None,
            &CheckArgs {
                what: CheckWhat::ServiceIp,
                expect: Some(Expect::Active),
            },
        )
    }

    /// The old NRPE check grepped `ip addr` for "10.64.37.1" and so found 10.64.37.18.
    /// Here the gateway-like 10.64.37.1 and a 10.64.37.180 are on eth0, never the service IP.
    #[test]
    fn neighbouring_addresses_are_not_the_service_ip() {
        let r = service_ip_check(&["10.64.37.1/24", "10.64.37.180/24", "10.64.37.181/24"]);
        assert_eq!(r.state, State::Critical, "{}", r.line);
        assert!(
            r.line
                .contains("the service IP 10.64.37.18/24 is not on this node"),
            "{}",
            r.line
        );
        let r = service_ip_check(&["10.64.37.1/24", "10.64.37.18/24"]);
        assert_eq!(r.state, State::Ok, "{}", r.line);
        assert!(
            r.line.contains("service IP 10.64.37.18/24 here"),
            "{}",
            r.line
        );
        // The right address with another prefix is not the configured service IP.
        let r = service_ip_check(&["10.64.37.18/32"]);
        assert_eq!(r.state, State::Critical, "{}", r.line);
        assert!(r.line.contains("is on eth0 as /32"), "{}", r.line);
    }
}
