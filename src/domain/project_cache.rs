//! A cache of parsed project files, `paths.state/projects.cache`, so that a sync of thousands
//! of projects reads and parses only the files that changed since the last one.
//!
//! Like git's index, each entry is trusted only while its file's stat key — device, inode,
//! size, mtime and ctime in nanoseconds — is exactly the one recorded. An edit changes the
//! ctime even when the size stays and the mtime is set back (`touch -d`), a replaced file
//! (written and renamed in, as enable-project does) has another inode, and a file that is
//! gone or new is simply not, or not yet, in the cache. Three more rules keep the cache from
//! ever deciding what is exported:
//! - a file whose mtime or ctime is less than [`RACY`] before the moment its key was taken is
//!   not recorded: the kernel stamps times from a coarse clock, so a second edit within the
//!   same tick would keep the key (git's "racily clean" entries);
//! - only valid files are recorded, as the spec they parsed to, and a cached spec is checked
//!   against the cluster config again on every load; a file the config now refuses is read
//!   and parsed again, so its error names FILE:LINE:COLUMN exactly as without a cache;
//! - a cache that does not parse, is of another format version or belongs to another
//!   projects directory is ignored (and rewritten by the next sync).
//!
//! The cache is read by `exports sync` and written back only by a sync that is allowed to
//! change things (never by `--dry-run`), only when it changed, atomically (temp + rename).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::projects::{self, Invalid, ProjectFile, Projects};
use crate::config::Config;
use crate::error::Error;

pub const CACHE_FILE: &str = "projects.cache";
const FORMAT_VERSION: u32 = 1;
/// Files changed this recently are not recorded (see the module docs): well above the
/// kernel's timestamp granularity (one clock tick, 1-10 ms).
pub const RACY: Duration = Duration::from_secs(2);

/// What identifies one version of a file: device, inode, size, mtime and ctime (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl StatKey {
    pub fn of(path: &Path) -> std::io::Result<StatKey> {
        let m = std::fs::metadata(path)?;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Ok(StatKey {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: ns(m.mtime(), m.mtime_nsec()),
            ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        })
    }

    /// Whether the file changed less than [`RACY`] before `now` (or in the future).
    fn racy(&self, now: SystemTime) -> bool {
        let now_ns = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let limit = now_ns - RACY.as_nanos() as i128;
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    key: StatKey,
    spec: ProjectFile,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct CacheFile {
    format_version: u32,
    projects_dir: PathBuf,
    /// File name (`NAME.yaml`) → its key and what it parsed to.
    entries: BTreeMap<String, Entry>,
}

/// The cache as a sync leaves it: [`Loaded::save`] writes it back when it changed.
#[derive(Debug)]
pub struct Loaded {
    pub projects: Projects,
    path: PathBuf,
    before: CacheFile,
    after: CacheFile,
    /// How many files were taken from the cache without reading them.
    pub hits: usize,
}

impl Loaded {
    /// Whether the cache on disk differs from what this load found.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }

    /// Write the cache back if it changed (atomically). Never called by a dry run.
    pub fn save(&self) -> anyhow::Result<()> {
        if !self.changed() {
            return Ok(());
        }
        let text = serde_json::to_string(&self.after)?;
        crate::engine::files::write_atomic(&self.path, &text)
    }
}

pub fn cache_path(cfg: &Config) -> PathBuf {
    cfg.paths.state.join(CACHE_FILE)
}

fn read_cache(path: &Path, projects_dir: &Path) -> CacheFile {
    let empty = CacheFile {
        format_version: FORMAT_VERSION,
        projects_dir: projects_dir.to_path_buf(),
        entries: BTreeMap::new(),
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return empty;
    };
    match serde_json::from_str::<CacheFile>(&text) {
        Ok(c) if c.format_version == FORMAT_VERSION && c.projects_dir == projects_dir => c,
        // Unreadable, another version or another directory: rebuilt from the files.
        _ => empty,
    }
}

/// [`projects::load_all`], taking each file whose stat key is unchanged from the cache.
pub fn load_all(cfg: &Config) -> Result<Loaded, Error> {
    load_all_at(cfg, &cache_path(cfg), SystemTime::now())
}

/// `now`: taken before any file is looked at (see [`RACY`]).
fn load_all_at(cfg: &Config, path: &Path, now: SystemTime) -> Result<Loaded, Error> {
    let before = read_cache(path, &cfg.projects_dir);
    let files = projects::list_files(cfg)?;
    // Per file: the project or its error, its stat key, and whether the cache had it.
    let got = crate::engine::parallel::map(&files, |f| {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let key = StatKey::of(f).ok();
        if let Some(key) = key
            && let Some(e) = before.entries.get(name)
            && e.key == key
        {
            let stem = name.strip_suffix(".yaml");
            if e.spec.validate(cfg, stem).is_empty() {
                return (Ok(e.spec.project(cfg, f.clone())), Some(key), true);
            }
        }
        (projects::load_file(cfg, f), key, false)
    });
    let mut after = CacheFile {
        format_version: FORMAT_VERSION,
        projects_dir: cfg.projects_dir.clone(),
        entries: BTreeMap::new(),
    };
    let mut list = Vec::with_capacity(files.len());
    let mut invalid = Vec::new();
    let mut hits = 0;
    for (f, g) in files.into_iter().zip(got) {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match g {
            (Ok(p), _, true) => {
                hits += 1;
                if let Some(e) = before.entries.get(&name) {
                    after.entries.insert(name, e.clone());
                }
                list.push(p);
            }
            (Ok(p), key, false) => {
                if let Some(key) = key.filter(|k| !k.racy(now)) {
                    after.entries.insert(
                        name,
                        Entry {
                            key,
                            spec: p.spec.clone(),
                        },
                    );
                }
                list.push(p);
            }
            (Err(error), ..) => invalid.push(Invalid {
                name: name.strip_suffix(".yaml").unwrap_or(&name).to_string(),
                file: f,
                error,
            }),
        }
    }
    Ok(Loaded {
        projects: projects::finish(cfg, list, invalid),
        path: path.to_path_buf(),
        before,
        after,
        hits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CLUSTER: &str = "\
cluster: t
nodes: { a: { address: 192.0.2.6 } }
volumes:
  - { name: tools, device: /dev/loop0, mountpoint: /srv/tools, fstype: ext4 }
";

    struct Bed {
        _dir: tempfile::TempDir,
        cfg: Config,
        cache: PathBuf,
    }

    fn bed() -> Bed {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::parse(Path::new("c.yaml"), CLUSTER).unwrap();
        cfg.projects_dir = dir.path().join("projects");
        cfg.paths.state = dir.path().join("state");
        std::fs::create_dir_all(&cfg.projects_dir).unwrap();
        let cache = cache_path(&cfg);
        Bed {
            _dir: dir,
            cfg,
            cache,
        }
    }

    fn project(name: &str, gid: u32, client: &str) -> String {
        format!("name: {name}\ngid: {gid}\nvolume: tools\nclients: [{client}]\n")
    }

    /// A load as a sync does it, saved; `now` far enough ahead that no file is racy.
    fn sync(b: &Bed) -> Loaded {
        let later = SystemTime::now() + RACY + Duration::from_secs(1);
        let l = load_all_at(&b.cfg, &b.cache, later).unwrap();
        l.save().unwrap();
        l
    }

    fn clients(l: &Loaded, name: &str) -> Vec<String> {
        l.projects.get(name).unwrap().clients.clone()
    }

    #[test]
    fn unchanged_files_come_from_the_cache() {
        let b = bed();
        for i in 0..3 {
            std::fs::write(
                b.cfg.projects_dir.join(format!("p{i}.yaml")),
                project(&format!("p{i}"), 100 + i, "192.0.2.1"),
            )
            .unwrap();
        }
        let first = sync(&b);
        assert_eq!((first.hits, first.projects.list.len()), (0, 3));
        assert!(b.cache.exists());
        let second = sync(&b);
        assert_eq!((second.hits, second.projects.list.len()), (3, 3));
        assert!(!second.changed());
        // The same projects either way.
        let plain = projects::load_all(&b.cfg).unwrap();
        let names = |p: &Projects| -> Vec<(String, Vec<String>)> {
            p.list
                .iter()
                .map(|p| (p.name().to_string(), p.clients.clone()))
                .collect()
        };
        assert_eq!(names(&second.projects), names(&plain));
    }

    #[test]
    fn an_edit_that_keeps_size_and_mtime_is_seen() {
        let b = bed();
        let f = b.cfg.projects_dir.join("p.yaml");
        std::fs::write(&f, project("p", 100, "192.0.2.1")).unwrap();
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        assert_eq!(clients(&sync(&b), "p"), ["192.0.2.1"]);
        assert_eq!(sync(&b).hits, 1);
        // Same size, the mtime set back as `touch -d` would: only the ctime tells.
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&f, project("p", 100, "192.0.2.2")).unwrap();
        let t = mtime.duration_since(UNIX_EPOCH).unwrap();
        let ts = nix::sys::time::TimeSpec::new(t.as_secs() as i64, t.subsec_nanos() as i64);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &f,
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::FollowSymlink,
        )
        .unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().modified().unwrap(), mtime);
        let l = sync(&b);
        assert_eq!(l.hits, 0);
        assert_eq!(clients(&l, "p"), ["192.0.2.2"]);
    }

    #[test]
    fn added_removed_and_replaced_files_are_seen() {
        let b = bed();
        let dir = &b.cfg.projects_dir;
        std::fs::write(dir.join("a.yaml"), project("a", 100, "192.0.2.1")).unwrap();
        std::fs::write(dir.join("b.yaml"), project("b", 101, "192.0.2.1")).unwrap();
        sync(&b);
        std::fs::remove_file(dir.join("a.yaml")).unwrap();
        std::fs::write(dir.join("c.yaml"), project("c", 102, "192.0.2.1")).unwrap();
        // Replaced by rename, as enable-project writes: another inode.
        std::fs::write(dir.join(".b.tmp"), project("b", 101, "192.0.2.9")).unwrap();
        std::fs::rename(dir.join(".b.tmp"), dir.join("b.yaml")).unwrap();
        let l = sync(&b);
        let names: Vec<&str> = l.projects.list.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(clients(&l, "b"), ["192.0.2.9"]);
        assert_eq!(l.hits, 0);
        assert!(l.changed());
    }

    #[test]
    fn a_corrupt_or_foreign_cache_is_rebuilt() {
        let b = bed();
        std::fs::write(
            b.cfg.projects_dir.join("p.yaml"),
            project("p", 100, "192.0.2.1"),
        )
        .unwrap();
        for junk in [
            "{not json".to_string(),
            String::new(),
            sync(&b)
                .after
                .serialize_with(|c| c.format_version = FORMAT_VERSION + 1),
            sync(&b)
                .after
                .serialize_with(|c| c.projects_dir = PathBuf::from("/elsewhere")),
        ] {
            std::fs::write(&b.cache, &junk).unwrap();
            let l = sync(&b);
            assert_eq!(l.hits, 0, "{junk}");
            assert_eq!(clients(&l, "p"), ["192.0.2.1"]);
            assert_eq!(sync(&b).hits, 1, "rewritten after {junk}");
        }
    }

    #[test]
    fn racy_files_are_not_recorded() {
        let b = bed();
        std::fs::write(
            b.cfg.projects_dir.join("p.yaml"),
            project("p", 100, "192.0.2.1"),
        )
        .unwrap();
        let l = load_all_at(&b.cfg, &b.cache, SystemTime::now()).unwrap();
        assert!(l.after.entries.is_empty());
        assert_eq!(l.projects.list.len(), 1);
    }

    #[test]
    fn a_cached_project_the_config_now_refuses_gets_its_positioned_error() {
        let mut b = bed();
        std::fs::write(
            b.cfg.projects_dir.join("p.yaml"),
            project("p", 100, "192.0.2.1"),
        )
        .unwrap();
        sync(&b);
        b.cfg.volumes[0].name = "other".into();
        let l = sync(&b);
        assert_eq!(l.hits, 0);
        assert_eq!(l.projects.invalid.len(), 1);
        let e = &l.projects.invalid[0].error;
        assert!(
            e.contains("p.yaml:3:9: volume: \"tools\" is not a volume"),
            "{e}"
        );
    }

    impl CacheFile {
        fn serialize_with(&self, f: impl FnOnce(&mut CacheFile)) -> String {
            let mut c = CacheFile {
                format_version: self.format_version,
                projects_dir: self.projects_dir.clone(),
                entries: self.entries.clone(),
            };
            f(&mut c);
            serde_json::to_string(&c).unwrap()
        }
    }
}
