//! Projects and the exports nfs-manage renders for them.
//!
//! A project is one YAML file, `projects_dir/NAME.yaml` (files with any other ending, like
//! `NAME.yaml.disabled`, are ignored):
//!
//! ```yaml
//! name: tools                       # must match the file name
//! gid: 50380                        # the project's group (getent group project-tools)
//! volume: tools                     # one of the cluster config's volumes
//! path: shared/tools                # under the volume's mountpoint (default shared/NAME)
//! options: [rw, sync, no_subtree_check, root_squash]   # the default
//! fsid: 50380                       # default: the gid, so file handles survive failover
//! clients: [192.0.2.0/24]           # static addresses or CIDRs
//! clients_command: [/usr/local/bin/project-ips, tools]  # argv; stdout: a JSON list of addresses
//! ```
//!
//! Loading is as strict as the cluster config: unknown keys and bad values are errors that
//! name FILE:LINE:COLUMN (exit 78). Checks across files (duplicate GIDs, paths or fsids) are
//! safety refusals (exit 3), because they are what a sync must never act on.
//!
//! Rendering: one exports file per project, `exports_dir/project-NAME.exports`, and one for the
//! cluster config's `public:` list, `exports_dir/public.exports`. Every client gets its own line
//! with its options spelled out (`\` continuations), so a file diffs and verifies per client.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, Config, Positions, Problem};
use crate::error::Error;
use crate::tools::exportfs::{self, Export};

pub const PUBLIC_FILE: &str = "public.exports";
pub const PROJECT_PREFIX: &str = "project-";
pub const EXPORTS_SUFFIX: &str = ".exports";

pub fn default_options() -> Vec<String> {
    ["rw", "sync", "no_subtree_check", "root_squash"]
        .map(String::from)
        .to_vec()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub name: String,
    pub gid: u32,
    pub volume: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default = "default_options")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsid: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients_command: Option<Vec<String>>,
}

/// A loaded, validated project.
#[derive(Debug, Clone)]
pub struct Project {
    pub file: PathBuf,
    pub spec: ProjectFile,
    /// The exported directory: the volume's mountpoint joined with `path`.
    pub export_path: PathBuf,
    pub fsid: u32,
    /// The options as exportfs takes them, fsid included: `rw,sync,…,fsid=50380`.
    pub options: String,
    /// Static clients, normalised (see [`config::parse_client`]).
    pub clients: Vec<String>,
}

impl Project {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn exports_file(&self, cfg: &Config) -> PathBuf {
        project_exports_file(cfg, self.name())
    }
}

pub fn project_exports_file(cfg: &Config, name: &str) -> PathBuf {
    cfg.nfs
        .exports_dir
        .join(format!("{PROJECT_PREFIX}{name}{EXPORTS_SUFFIX}"))
}

pub fn project_file(cfg: &Config, name: &str) -> PathBuf {
    cfg.projects_dir.join(format!("{name}.yaml"))
}

impl ProjectFile {
    /// The YAML written by enable-project and import.
    pub fn to_yaml(&self) -> String {
        let mut s = format!(
            "# Project {}: exported by `nfs-manage exports sync`.\n",
            self.name
        );
        s.push_str(&yaml_serde::to_string(self).expect("a project serializes"));
        s
    }

    pub fn rel_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| Path::new("shared").join(&self.name))
    }

    /// Semantic checks against the cluster config; key paths for [`Positions`].
    pub fn validate(&self, cfg: &Config, stem: Option<&str>) -> Vec<Problem> {
        let mut p = Vec::new();
        config::check_name(&mut p, "name", &self.name, "a project name");
        if let Some(stem) = stem
            && stem != self.name
        {
            p.push(Problem::new(
                "name",
                format!(
                    "{:?} does not match the file name {stem}.yaml; expected name: {stem}",
                    self.name
                ),
            ));
        }
        if self.gid == 0 {
            p.push(Problem::new(
                "gid",
                "0 is root's group; expected the project's own GID",
            ));
        }
        if !cfg.volumes.iter().any(|v| v.name == self.volume) {
            let names: Vec<&str> = cfg.volumes.iter().map(|v| v.name.as_str()).collect();
            p.push(Problem::new(
                "volume",
                format!(
                    "{:?} is not a volume of this cluster (expected one of: {})",
                    self.volume,
                    names.join(", ")
                ),
            ));
        }
        if let Some(path) = &self.path {
            let s = path.to_string_lossy();
            let clean = !s.is_empty()
                && !s.ends_with('/')
                && !s.contains("//")
                && !s.starts_with(char::is_whitespace)
                && !s.ends_with(char::is_whitespace)
                && path.components().all(|c| matches!(c, Component::Normal(_)))
                && !s.chars().any(|c| c.is_control() || c == '\\');
            if !clean {
                p.push(Problem::new(
                    "path",
                    format!("{s:?} is not a clean relative path under the volume (expected like shared/NAME: no '/', '.', '..' or spaces at its ends, no control characters, no '\\' — exportfs cannot read one back)"),
                ));
            }
        }
        config::check_export_options(&mut p, "options", &self.options);
        if self.fsid == Some(0) {
            p.push(Problem::new(
                "fsid",
                "fsid 0 is the NFSv4 pseudo-root; expected another number",
            ));
        }
        for (j, c) in self.clients.iter().enumerate() {
            if config::parse_client(c).is_none() {
                p.push(Problem::new(
                    format!("clients[{j}]"),
                    format!("{c:?} is not a client: expected an address or a CIDR like 192.0.2.0/24 (public exports go in the cluster config)"),
                ));
            } else if let Some(why) = too_wide(&cfg.exports, c) {
                p.push(Problem::new(format!("clients[{j}]"), why));
            }
        }
        match &self.clients_command {
            Some(argv) if argv.is_empty() || argv[0].is_empty() || argv[0].starts_with('-') => p
                .push(Problem::new(
                    "clients_command",
                    "expected the command as a list, like [/usr/local/bin/project-ips, NAME]",
                )),
            None if self.clients.is_empty() => p.push(Problem::new(
                "clients",
                "expected clients or clients_command (a project with neither exports nothing)",
            )),
            _ => {}
        }
        p
    }

    /// Build the validated form; call only after [`ProjectFile::validate`] found nothing.
    pub fn project(&self, cfg: &Config, file: PathBuf) -> Project {
        let vol = cfg
            .volumes
            .iter()
            .find(|v| v.name == self.volume)
            .expect("validated volume");
        let fsid = self.fsid.unwrap_or(self.gid);
        let mut options = self.options.join(",");
        if !options.is_empty() {
            options.push(',');
        }
        options.push_str(&format!("fsid={fsid}"));
        let mut clients: Vec<String> = self
            .clients
            .iter()
            .filter_map(|c| config::parse_client(c))
            .collect();
        clients.sort();
        clients.dedup();
        Project {
            file,
            spec: self.clone(),
            export_path: vol.mountpoint.join(self.rel_path()),
            fsid,
            options,
            clients,
        }
    }
}

/// Every project of `projects_dir`, in name order, and the refusals across them.
#[derive(Debug, Default)]
pub struct Projects {
    pub list: Vec<Project>,
    /// Duplicate GIDs, export paths or fsids, nested paths: a sync refuses them (exit 3).
    pub conflicts: Vec<String>,
    /// Files that do not load ([`load_all`] only; [`load`] fails instead).
    pub invalid: Vec<Invalid>,
}

impl Projects {
    pub fn get(&self, name: &str) -> Option<&Project> {
        self.list.iter().find(|p| p.name() == name)
    }
}

/// Parse one project file. `Error::Config` (exit 78) names FILE:LINE:COLUMN.
pub fn parse_file(cfg: &Config, path: &Path, text: &str) -> Result<Project, Error> {
    let file = path.display().to_string();
    let spec: ProjectFile =
        yaml_serde::from_str(text).map_err(|e| Error::Config(config::yaml_error(&file, &e)))?;
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".yaml"));
    let mut problems = config::nul_problems(text);
    problems.extend(spec.validate(cfg, stem));
    if !problems.is_empty() {
        return Err(Error::Config(config::render_problems(
            &file,
            &Positions::of(text),
            &problems,
        )));
    }
    Ok(spec.project(cfg, path.to_path_buf()))
}

/// Load `projects_dir/*.yaml` (a missing directory holds no projects). Every bad file is
/// reported at once (exit 78).
pub fn load(cfg: &Config) -> Result<Projects, Error> {
    let all = load_all(cfg)?;
    if !all.invalid.is_empty() {
        let errors: Vec<&str> = all.invalid.iter().map(|i| i.error.as_str()).collect();
        return Err(Error::Config(errors.join("\n")));
    }
    Ok(all)
}

/// Like [`load`], but a bad project file does not stop the others: it is listed in
/// `invalid` (what `exports sync` keeps as it is, like a project whose clients failed).
pub fn load_all(cfg: &Config) -> Result<Projects, Error> {
    let files = list_files(cfg)?;
    // Each file is read and checked on its own: shared out over the CPUs.
    let parsed = crate::engine::parallel::map(&files, |f| load_file(cfg, f));
    let mut list = Vec::with_capacity(files.len());
    let mut invalid = Vec::new();
    for (f, parsed) in files.into_iter().zip(parsed) {
        match parsed {
            Ok(p) => list.push(p),
            Err(error) => invalid.push(Invalid {
                name: f
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: f,
                error,
            }),
        }
    }
    Ok(finish(cfg, list, invalid))
}

/// The project files of `projects_dir` (`*.yaml`), sorted; a missing directory has none.
pub fn list_files(cfg: &Config) -> Result<Vec<PathBuf>, Error> {
    let dir = &cfg.projects_dir;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Error::Config(format!(
                "{}: cannot list the projects directory: {e}",
                dir.display()
            )));
        }
    };
    files.sort();
    Ok(files)
}

/// Read and check one project file; the error names the file (and FILE:LINE:COLUMN).
pub fn load_file(cfg: &Config, f: &Path) -> Result<Project, String> {
    crate::engine::parallel::read_small(f)
        .map_err(|e| format!("{}: cannot read: {e}", f.display()))
        .and_then(|text| parse_file(cfg, f, &text).map_err(|e| e.to_string()))
}

/// The loaded projects in name order, with the refusals across them.
pub fn finish(cfg: &Config, mut list: Vec<Project>, invalid: Vec<Invalid>) -> Projects {
    list.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let conflicts = conflicts_of(cfg, &list);
    Projects {
        list,
        conflicts,
        invalid,
    }
}

/// A project file that does not load; `name` is its file name without `.yaml`.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub name: String,
    pub file: PathBuf,
    pub error: String,
}

/// Why a client is wider than `exports.widest_ipv4_prefix`/`widest_ipv6_prefix` allow
/// (a project never exports to the world: that is what `public:` is for).
pub fn too_wide(limits: &config::ExportsConfig, client: &str) -> Option<String> {
    let net: ipnet::IpNet = match client.parse::<std::net::IpAddr>() {
        Ok(a) => ipnet::IpNet::from(a),
        Err(_) => client.parse().ok()?,
    };
    let (widest, key) = match net {
        ipnet::IpNet::V4(_) => (limits.widest_ipv4_prefix, "exports.widest_ipv4_prefix"),
        ipnet::IpNet::V6(_) => (limits.widest_ipv6_prefix, "exports.widest_ipv6_prefix"),
    };
    (net.prefix_len() < widest).then(|| {
        format!(
            "{client} is wider than /{widest} ({key}); a project is never exported that widely (world-wide exports belong in `public:`)"
        )
    })
}

/// Duplicate GIDs, export paths and fsids among `list` and the public exports.
pub fn conflicts_of(cfg: &Config, list: &[Project]) -> Vec<String> {
    // Who holds an export path or fsid; described only when there is a conflict (thousands of
    // projects, almost never one).
    #[derive(Clone, Copy)]
    enum Holder<'a> {
        Public(&'a str),
        Project(&'a Project),
    }
    let name = |h: Holder<'_>| match h {
        Holder::Public(n) => format!("public export {n}"),
        Holder::Project(p) => format!("project {}", p.name()),
    };
    let mut out = Vec::new();
    let mut gids: HashMap<u32, &str> = HashMap::with_capacity(list.len());
    let mut paths: HashMap<&Path, Holder<'_>> = HashMap::with_capacity(list.len());
    let mut fsids: HashMap<u32, Holder<'_>> = HashMap::with_capacity(list.len());
    for x in &cfg.public {
        paths.insert(&x.path, Holder::Public(&x.name));
        fsids.insert(x.fsid, Holder::Public(&x.name));
    }
    if !cfg.exports.allow_nested {
        let all: Vec<(&Path, Holder<'_>)> = cfg
            .public
            .iter()
            .map(|x| (x.path.as_path(), Holder::Public(&x.name)))
            .chain(
                list.iter()
                    .map(|p| (p.export_path.as_path(), Holder::Project(p))),
            )
            .collect();
        let described = |h: Holder<'_>| match h {
            Holder::Project(p) => format!("{} ({})", name(h), p.file.display()),
            Holder::Public(_) => name(h),
        };
        let paths: Vec<&Path> = all.iter().map(|(p, _)| *p).collect();
        for (o, i) in crate::config::nesting::nested_pairs(&paths) {
            let ((outer, a), (inner, b)) = (all[o], all[i]);
            out.push(format!(
                "{} ({}) is inside {} ({}): the outer export would also hand out the inner one's files under other options; set exports.allow_nested: true in the cluster config if that is intended",
                inner.display(),
                described(b),
                outer.display(),
                described(a),
            ));
        }
    }
    for p in list {
        if let Some(first) = gids.insert(p.spec.gid, p.name()) {
            out.push(format!(
                "duplicate GID {}: projects {first} and {} ({}); each project needs its own group",
                p.spec.gid,
                p.name(),
                p.file.display()
            ));
        }
        let me = Holder::Project(p);
        if let Some(first) = paths.insert(&p.export_path, me) {
            out.push(format!(
                "{} is exported by both {} and {}",
                p.export_path.display(),
                name(first),
                name(me)
            ));
        }
        if let Some(first) = fsids.insert(p.fsid, me) {
            out.push(format!(
                "fsid {} is used by both {} and {}; each export needs its own",
                p.fsid,
                name(first),
                name(me)
            ));
        }
    }
    out
}

/// One client line of an exports file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub path: PathBuf,
    pub client: String,
    pub options: String,
}

impl Entry {
    pub fn key(&self) -> (&Path, &str) {
        (&self.path, &self.client)
    }
}

impl From<Export> for Entry {
    fn from(e: Export) -> Entry {
        Entry {
            path: e.path,
            client: e.client,
            options: e.options,
        }
    }
}

/// A path as an exports file spells it: characters the file format gives a meaning to
/// (blanks, quotes, `#`, `\`, parentheses, control characters) as exports(5) octal escapes,
/// `\040` for a space. [`exportfs::parse_exports`] decodes them, so the path reads back exactly.
pub fn escape_path(p: &Path) -> String {
    let s = p.display().to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii()
            && (c.is_ascii_whitespace() || c.is_ascii_control() || "\"#\\()".contains(c))
        {
            out.push_str(&format!("\\{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// An exports file: a header, then one export with one client per line.
pub fn render(header: &str, exports: &[(&Path, &str, &[String])]) -> String {
    let mut s =
        format!("# {header}\n# Written by nfs-manage; `nfs-manage exports sync` replaces it.\n");
    for (path, options, clients) in exports {
        if clients.is_empty() {
            continue;
        }
        s.push_str(&escape_path(path));
        for c in clients.iter() {
            s.push_str(&format!(" \\\n    {c}({options})"));
        }
        s.push('\n');
    }
    s
}

pub fn render_project(p: &Project, clients: &[String]) -> String {
    render(
        &format!(
            "project {} (gid {}, volume {})",
            p.name(),
            p.spec.gid,
            p.spec.volume
        ),
        &[(&p.export_path, &p.options, clients)],
    )
}

/// The options of a public export as exportfs takes them, fsid included.
pub fn public_options(x: &config::PublicExport) -> String {
    let mut o = x.options.join(",");
    if !o.is_empty() {
        o.push(',');
    }
    o.push_str(&format!("fsid={}", x.fsid));
    o
}

pub fn public_clients(x: &config::PublicExport) -> Vec<String> {
    let mut c: Vec<String> = x
        .clients
        .iter()
        .map(|c| {
            if c == "*" {
                c.clone()
            } else {
                config::parse_client(c).unwrap_or_else(|| c.clone())
            }
        })
        .collect();
    c.sort();
    c.dedup();
    c
}

/// `public.exports`, or `None` when the config has no public exports.
pub fn render_public(cfg: &Config) -> Option<String> {
    if cfg.public.is_empty() {
        return None;
    }
    let opts: Vec<String> = cfg.public.iter().map(public_options).collect();
    let clients: Vec<Vec<String>> = cfg.public.iter().map(public_clients).collect();
    let exports: Vec<(&Path, &str, &[String])> = cfg
        .public
        .iter()
        .zip(&opts)
        .zip(&clients)
        .map(|((x, o), c)| (x.path.as_path(), o.as_str(), c.as_slice()))
        .collect();
    Some(render(
        "public exports (cluster config `public:`)",
        &exports,
    ))
}

/// The most a `clients_command` may print: a list of addresses is small; more is garbage.
pub const MAX_CLIENTS_OUTPUT: usize = 1 << 20;

/// Parse a `clients_command`'s output: a JSON list of addresses (or CIDRs), none wider than
/// the configured limits, at most [`MAX_CLIENTS_OUTPUT`] bytes.
pub fn parse_clients_output(
    stdout: &str,
    limits: &config::ExportsConfig,
) -> Result<Vec<String>, String> {
    if stdout.len() > MAX_CLIENTS_OUTPUT {
        return Err(format!(
            "it printed {} bytes, more than the {MAX_CLIENTS_OUTPUT} a list of addresses may take",
            stdout.len()
        ));
    }
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).map_err(|e| {
        let mut shown: String = stdout.trim().chars().take(80).collect();
        if shown.is_empty() {
            shown = "nothing".into();
        }
        format!("its output is not JSON ({e}): {shown:?}")
    })?;
    let items = v
        .as_array()
        .ok_or_else(|| format!("expected a JSON list of addresses, got {}", kind(&v)))?;
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        match it.as_str().and_then(config::parse_client) {
            Some(c) => {
                if let Some(why) = too_wide(limits, &c) {
                    return Err(format!("{why}: refused"));
                }
                out.push(c)
            }
            None => return Err(format!("{it} in its output is not an address or a CIDR")),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The exports files nfs-manage manages in `exports_dir`, and the other files there.
#[derive(Debug, Default)]
pub struct Current {
    /// Managed file → its text.
    pub files: BTreeMap<PathBuf, String>,
    /// Managed file → its entries (empty for a file that does not parse; see `unreadable`).
    pub entries: BTreeMap<PathBuf, Vec<Entry>>,
    pub unreadable: Vec<String>,
    /// Files that are not ours (reported, never touched).
    pub stray: Vec<PathBuf>,
}

pub fn is_managed_name(name: &str) -> bool {
    name == PUBLIC_FILE
        || (name.starts_with(PROJECT_PREFIX)
            && name.ends_with(EXPORTS_SUFFIX)
            && name.len() > PROJECT_PREFIX.len() + EXPORTS_SUFFIX.len())
}

pub fn read_current(exports_dir: &Path) -> anyhow::Result<Current> {
    let mut cur = Current::default();
    let rd = match std::fs::read_dir(exports_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cur),
        Err(e) => anyhow::bail!("cannot list {}: {e}", exports_dir.display()),
    };
    let mut managed = Vec::new();
    for e in rd {
        let e = e?;
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_managed_name(&name) || !e.file_type()?.is_file() {
            // Our own temp files from an interrupted write are not strays worth a warning.
            if !name.starts_with(".nfs-manage.") {
                cur.stray.push(path);
            }
            continue;
        }
        managed.push(path);
    }
    // Read and parsed on every CPU; collected in order, so the notes read the same each run.
    managed.sort();
    let read = crate::engine::parallel::map(&managed, |path| {
        let text = crate::engine::parallel::read_small(path)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        let entries = exportfs::parse_exports(&path.display().to_string(), &text)
            .map(|x| x.into_iter().map(Entry::from).collect::<Vec<_>>())
            .map_err(|err| format!("{err:#}"));
        Ok::<_, String>((text, entries))
    });
    for (path, got) in managed.into_iter().zip(read) {
        let (text, entries) = match got {
            Err(unreadable) => {
                cur.unreadable.push(unreadable);
                (String::new(), Vec::new())
            }
            Ok((text, Err(unparsable))) => {
                cur.unreadable.push(unparsable);
                (text, Vec::new())
            }
            Ok((text, Ok(entries))) => (text, entries),
        };
        cur.files.insert(path.clone(), text);
        cur.entries.insert(path, entries);
    }
    cur.stray.sort();
    Ok(cur)
}

/// What one sync wants: each managed file's new text (`None`: remove it) and the entries.
/// Borrows from the projects, the config and the current files (`'a`): at thousands of
/// projects the per-address list is tens of thousands of entries, not worth copying.
#[derive(Debug, Default)]
pub struct Desired<'a> {
    pub files: BTreeMap<PathBuf, Option<String>>,
    pub entries: Vec<Entry>,
    /// Export paths of projects whose clients could not be read: left exactly as they are.
    pub kept_paths: BTreeSet<&'a Path>,
    /// One (path, address) per client address (netgroups expanded): what the shrink guard
    /// counts.
    pub members: Vec<Member<'a>>,
    /// The managed netgroups (`exports.layout: netgroup`): group → its addresses.
    pub groups: BTreeMap<String, Vec<String>>,
}

/// One client of an export as an address: (export path, client).
pub type Member<'a> = (&'a Path, &'a str);

/// Each file's entries with every `@group` of `groups` replaced by one member per address: the
/// clients as addresses, whichever layout wrote them.
pub fn expand<'a>(
    entries: &'a BTreeMap<PathBuf, Vec<Entry>>,
    groups: &'a BTreeMap<String, Vec<String>>,
) -> BTreeMap<&'a Path, Vec<Member<'a>>> {
    entries
        .iter()
        .map(|(file, list)| {
            let mut out = Vec::with_capacity(list.len());
            for e in list {
                match e.client.strip_prefix('@').and_then(|g| groups.get(g)) {
                    Some(members) => {
                        out.extend(members.iter().map(|m| (e.path.as_path(), m.as_str())))
                    }
                    None => out.push((e.path.as_path(), e.client.as_str())),
                }
            }
            (file.as_path(), out)
        })
        .collect()
}

/// The changes that take the live exports (etab) from what they are to what is wanted.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// `exportfs -o OPTIONS client:path …`, grouped by option string.
    pub export: BTreeMap<String, Vec<(String, PathBuf)>>,
    /// `exportfs -u client:path …`.
    pub unexport: Vec<Entry>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.export.is_empty() && self.unexport.is_empty()
    }

    pub fn exported(&self) -> usize {
        self.export.values().map(Vec::len).sum()
    }
}

/// Compare the wanted entries with etab. Entries of `managed_paths` in etab that are not
/// wanted are withdrawn; entries of other paths (other files, by hand) are not ours to touch,
/// and neither are the kept paths of projects whose clients could not be read.
pub fn diff(
    wanted: &[Entry],
    etab: &[Export],
    managed_paths: &BTreeSet<&Path>,
    kept: &BTreeSet<&Path>,
) -> Changes {
    let live: HashMap<(&Path, &str), &str> = etab
        .iter()
        .map(|e| ((e.path.as_path(), e.client.as_str()), e.options.as_str()))
        .collect();
    let mut ch = Changes::default();
    let mut want_keys: std::collections::HashSet<(&Path, &str)> =
        std::collections::HashSet::with_capacity(wanted.len());
    for w in wanted {
        want_keys.insert(w.key());
        if kept.contains(w.path.as_path()) {
            continue;
        }
        let ok = live
            .get(&w.key())
            .is_some_and(|have| exportfs::options_match(&w.options, have));
        if !ok {
            ch.export
                .entry(w.options.clone())
                .or_default()
                .push((w.client.clone(), w.path.clone()));
        }
    }
    for e in etab {
        if managed_paths.contains(e.path.as_path())
            && !kept.contains(e.path.as_path())
            && !want_keys.contains(&(e.path.as_path(), e.client.as_str()))
        {
            ch.unexport.push(Entry::from(e.clone()));
        }
    }
    ch.unexport.sort();
    ch
}

/// A project directory: a directory owned by group `gid` with the setgid bit.
pub struct ProjectDir {
    pub path: PathBuf,
    pub gid: u32,
}

impl crate::engine::check::Check<crate::context::Ctx> for ProjectDir {
    fn check(
        &self,
        _ctx: &crate::context::Ctx,
        _out: &crate::process::Output,
    ) -> anyhow::Result<crate::engine::check::Verdict> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (path, gid) = (&self.path, self.gid);
        Ok(match std::fs::metadata(path) {
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(m) if !m.is_dir() => Err(format!("{} is not a directory", path.display())),
            Ok(m) if m.gid() != gid => Err(format!(
                "{} has group {}, expected {gid}",
                path.display(),
                m.gid()
            )),
            Ok(m) if m.permissions().mode() & 0o2000 == 0 => Err(format!(
                "{} lacks the setgid bit (mode {:o})",
                path.display(),
                m.permissions().mode() & 0o7777
            )),
            Ok(_) => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "\
cluster: t
nodes: { a: { address: 192.0.2.6 } }
volumes:
  - { name: tools, device: /dev/loop0, mountpoint: /srv/tools, fstype: ext4 }
  - { name: misc, device: /dev/loop1, mountpoint: /srv/misc, fstype: ext4 }
public:
  - { name: scratch, path: /srv/misc/scratch, options: [rw, sync, no_subtree_check], fsid: 7 }
";

    fn cfg() -> Config {
        Config::parse(Path::new("c.yaml"), CLUSTER).unwrap()
    }

    #[test]
    fn a_project_file_with_defaults() {
        let p = parse_file(
            &cfg(),
            Path::new("/p/tools.yaml"),
            "name: tools\ngid: 50380\nvolume: tools\nclients: [192.0.2.9, 192.0.2.0/24, 192.0.2.9/32]\n",
        )
        .unwrap();
        assert_eq!(p.export_path, Path::new("/srv/tools/shared/tools"));
        assert_eq!(p.fsid, 50380);
        assert_eq!(p.options, "rw,sync,no_subtree_check,root_squash,fsid=50380");
        assert_eq!(p.clients, ["192.0.2.0/24", "192.0.2.9"]);
        let text = render_project(&p, &p.clients);
        let back = exportfs::parse_exports("x", &text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].client, "192.0.2.9");
        assert_eq!(back[1].options, p.options);
    }

    #[test]
    fn project_errors_name_file_line_and_column() {
        let e = parse_file(
            &cfg(),
            Path::new("/p/x.yaml"),
            "name: x\ngid: 5\nvolume: tools\nclients: [192.0.2.9]\nclient: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("/p/x.yaml:5:1: unknown field `client`"),
            "{e}"
        );
        let e = parse_file(
            &cfg(),
            Path::new("/p/x.yaml"),
            "name: y\ngid: 5\nvolume: home\npath: ../etc\noptions: [\"rw,sync\"]\nclients: [\"*\", 192.0.2.9]\n",
        )
        .unwrap_err()
        .to_string();
        for want in [
            "/p/x.yaml:1:7: name: \"y\" does not match the file name x.yaml",
            "/p/x.yaml:3:9: volume: \"home\" is not a volume of this cluster (expected one of: tools, misc)",
            "/p/x.yaml:4:7: path:",
            "/p/x.yaml:5:11: options[0]:",
            "/p/x.yaml:6:11: clients[0]: \"*\" is not a client",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = parse_file(
            &cfg(),
            Path::new("/p/x.yaml"),
            "name: x\ngid: 5\nvolume: tools\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected clients or clients_command"), "{e}");
    }

    #[test]
    fn conflicts_across_files() {
        let c = cfg();
        let a = parse_file(
            &c,
            Path::new("/p/a.yaml"),
            "name: a\ngid: 7\nvolume: misc\nclients: [192.0.2.1]\n",
        )
        .unwrap();
        let b = parse_file(
            &c,
            Path::new("/p/b.yaml"),
            "name: b\ngid: 7\nvolume: misc\npath: scratch\nclients: [192.0.2.1]\n",
        )
        .unwrap();
        let found = conflicts_of(&c, &[a, b]);
        assert!(
            found
                .iter()
                .any(|m| m.starts_with("duplicate GID 7: projects a and b")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|m| m
                == "/srv/misc/scratch is exported by both public export scratch and project b"),
            "{found:?}"
        );
        assert!(
            found.iter().any(
                |m| m.starts_with("fsid 7 is used by both public export scratch and project a")
            ),
            "{found:?}"
        );
    }

    #[test]
    fn clients_output() {
        let lim = config::ExportsConfig::default();
        assert_eq!(
            parse_clients_output(
                "[\"192.0.2.10\", \"192.0.2.9\", \"192.0.2.10\", \"2001:db8::1\"]\n",
                &lim
            )
            .unwrap(),
            ["192.0.2.10", "192.0.2.9", "2001:db8::1"]
        );
        assert_eq!(
            parse_clients_output("[]", &lim).unwrap(),
            Vec::<String>::new()
        );
        assert!(
            parse_clients_output("<html>401 Unauthorized</html>", &lim)
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            parse_clients_output("{\"a\": 1}", &lim)
                .unwrap_err()
                .contains("an object")
        );
        assert!(
            parse_clients_output("[\"host.example\"]", &lim)
                .unwrap_err()
                .contains("not an address")
        );
        assert!(
            parse_clients_output("", &lim)
                .unwrap_err()
                .contains("nothing")
        );
    }

    #[test]
    fn diff_touches_only_what_changed() {
        let e = |p: &str, c: &str, o: &str| Export {
            path: p.into(),
            client: c.into(),
            options: o.into(),
        };
        let full = "rw,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,fsid=5,anonuid=65534,anongid=65534,sec=sys,rw,root_squash,no_all_squash";
        let etab = vec![
            e("/srv/a", "192.0.2.1", full),
            e("/srv/a", "192.0.2.2", full),
            e("/srv/b", "192.0.2.3", &full.replace("fsid=5", "fsid=6")),
            e("/srv/other", "192.0.2.4", full),
            e("/srv/kept", "192.0.2.5", full),
        ];
        let w = |p: &str, c: &str, o: &str| Entry {
            path: p.into(),
            client: c.into(),
            options: o.into(),
        };
        let wanted = vec![
            w("/srv/a", "192.0.2.1", "rw,sync,no_subtree_check,fsid=5"),
            w("/srv/b", "192.0.2.3", "rw,async,no_subtree_check,fsid=6"),
            w("/srv/b", "192.0.2.8", "rw,async,no_subtree_check,fsid=6"),
        ];
        let managed: BTreeSet<&Path> = ["/srv/a", "/srv/b", "/srv/kept"].map(Path::new).into();
        let kept: BTreeSet<&Path> = [Path::new("/srv/kept")].into();
        let ch = diff(&wanted, &etab, &managed, &kept);
        assert_eq!(ch.unexport, [w("/srv/a", "192.0.2.2", full)]);
        assert_eq!(
            ch.export.get("rw,async,no_subtree_check,fsid=6").unwrap(),
            &[
                ("192.0.2.3".to_string(), PathBuf::from("/srv/b")),
                ("192.0.2.8".to_string(), PathBuf::from("/srv/b"))
            ]
        );
        assert_eq!(ch.export.len(), 1);
    }

    #[test]
    fn nested_exports_are_refused_unless_allowed() {
        let c = cfg();
        let outer = parse_file(
            &c,
            Path::new("/p/a.yaml"),
            "name: a\ngid: 70\nvolume: tools\npath: shared\nclients: [192.0.2.1]\n",
        )
        .unwrap();
        let inner = parse_file(
            &c,
            Path::new("/p/b.yaml"),
            "name: b\ngid: 71\nvolume: tools\npath: shared/b\nclients: [192.0.2.1]\n",
        )
        .unwrap();
        let found = conflicts_of(&c, &[outer.clone(), inner.clone()]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("/srv/tools/shared/b (project b (/p/b.yaml)) is inside /srv/tools/shared (project a (/p/a.yaml))"),
            "{found:?}"
        );
        // A project below a public export is nested too.
        let under_public = parse_file(
            &c,
            Path::new("/p/d.yaml"),
            "name: d\ngid: 72\nvolume: misc\npath: scratch/d\nclients: [192.0.2.1]\n",
        )
        .unwrap();
        assert!(conflicts_of(&c, &[under_public])[0].contains("(public export scratch)"));
        let mut allowed = c.clone();
        allowed.exports.allow_nested = true;
        assert!(conflicts_of(&allowed, &[outer, inner]).is_empty());
    }

    #[test]
    fn projects_are_never_exported_to_the_world() {
        let c = cfg();
        let lim = &c.exports;
        for wide in ["0.0.0.0/0", "::/0", "10.0.0.0/8", "2001:db8::/32"] {
            let e = parse_clients_output(&format!("[\"{wide}\"]"), lim).unwrap_err();
            assert!(
                e.contains("wider than") && e.contains("refused"),
                "{wide}: {e}"
            );
        }
        assert!(parse_clients_output("[\"*\"]", lim).is_err());
        assert_eq!(
            parse_clients_output("[\"10.1.0.0/16\", \"2001:db8:1::/48\"]", lim).unwrap(),
            ["10.1.0.0/16", "2001:db8:1::/48"]
        );
        let big = format!("[{}\"192.0.2.1\"]", " ".repeat(MAX_CLIENTS_OUTPUT));
        assert!(
            parse_clients_output(&big, lim)
                .unwrap_err()
                .contains("more than")
        );
        let e = parse_file(
            &c,
            Path::new("/p/x.yaml"),
            "name: x\ngid: 5\nvolume: tools\nclients: [0.0.0.0/0]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/p/x.yaml:4:11: clients[0]: 0.0.0.0/0 is wider than /16"),
            "{e}"
        );
    }

    #[test]
    fn project_options_are_checked_against_exportfs() {
        let e = parse_file(
            &cfg(),
            Path::new("/p/x.yaml"),
            "name: x\ngid: 5\nvolume: tools\noptions: [rw, no_subtree_ch-ck]\nclients: [192.0.2.9]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/p/x.yaml:4:15: options[1]: \"no_subtree_ch-ck\" is not an export option exportfs accepts (did you mean no_subtree_check?)"),
            "{e}"
        );
    }

    #[test]
    fn paths_with_characters_the_exports_file_escapes_read_back_exactly() {
        let c = cfg();
        for rel in [
            "shared/a\"b",
            "shared/a b",
            "shared/x#y",
            "shared/t(1)",
            "shared/ü",
        ] {
            let yaml = format!(
                "name: p\ngid: 5\nvolume: tools\npath: {}\nclients: [192.0.2.9]\n",
                serde_json::to_string(rel).unwrap()
            );
            let p = parse_file(&c, Path::new("/p/p.yaml"), &yaml).unwrap();
            let text = render_project(&p, &p.clients);
            let back = exportfs::parse_exports("x", &text).unwrap();
            assert_eq!(back.len(), 1, "{rel}: {text}");
            assert_eq!(back[0].path, p.export_path, "{rel}: {text}");
        }
        // exportfs decodes \NNN twice: a backslash cannot be written, so it is refused.
        let e = parse_file(
            &c,
            Path::new("/p/p.yaml"),
            "name: p\ngid: 5\nvolume: tools\npath: 'shared/a\\040b'\nclients: [192.0.2.9]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("path:") && e.contains("'\\'"), "{e}");
    }

    #[test]
    fn a_bad_project_file_does_not_hide_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cfg();
        c.projects_dir = dir.path().to_path_buf();
        std::fs::write(
            dir.path().join("good.yaml"),
            "name: good\ngid: 5\nvolume: tools\nclients: [192.0.2.9]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.yaml"),
            "name: bad\ngid: 6\nvolume: tools\noptions: [rw, no_subtree_ch-ck]\nclients: [192.0.2.9]\n",
        )
        .unwrap();
        let all = load_all(&c).unwrap();
        assert_eq!(all.list.len(), 1);
        assert_eq!(all.invalid.len(), 1);
        assert_eq!(all.invalid[0].name, "bad");
        assert!(all.invalid[0].error.contains("no_subtree_ch-ck"));
        assert!(load(&c).is_err());
    }
}
