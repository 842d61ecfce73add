//! The journal: one JSON line per step, appended to `paths.journal`
//! (default `/var/lib/nfs-manage/journal.jsonl`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub run: &'a str,
    pub cluster: &'a str,
    pub node: &'a str,
    pub operator: &'a str,
    pub command: &'a str,
    pub step: &'a str,
    pub title: &'a str,
    pub argv: &'a [String],
    /// Exit code; null when the command was killed or never ran (refused by a guard).
    pub rc: Option<i32>,
    pub duration_ms: u64,
    /// "ok", "failed: …", "refused: …", "not checked" (command failed first).
    pub verify: &'a str,
    pub result: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<&'a str>,
}

impl<'a> Record<'a> {
    /// A record for one step of this run, not yet run: no exit code, "not checked".
    pub fn start(
        journal: &'a Journal,
        settings: &'a super::Settings,
        command: &'a str,
        step: &'a str,
        title: &'a str,
        argv: &'a [String],
    ) -> Record<'a> {
        Record {
            time: now_rfc3339(),
            run: &journal.run_id,
            cluster: &settings.cluster,
            node: &settings.node,
            operator: &journal.operator,
            command,
            step,
            title,
            argv,
            rc: None,
            duration_ms: 0,
            verify: "not checked",
            result: "",
            stderr: None,
        }
    }
}

pub struct Journal {
    path: PathBuf,
    pub run_id: String,
    pub operator: String,
}

impl Journal {
    pub fn new(path: &Path) -> Journal {
        // One id per process, so records written by different parts of one run share it.
        static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let run_id = RUN_ID.get_or_init(|| {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            format!("{}-{}", now.as_secs(), std::process::id())
        });
        Journal {
            path: path.to_path_buf(),
            run_id: run_id.clone(),
            operator: operator(),
        }
    }

    /// Append any serializable record as one line (e.g. a backup's result summary).
    pub fn append_value<T: Serialize>(&self, rec: &T) -> Result<()> {
        self.write_raw(serde_json::to_string(rec)?)
    }

    /// Make sure the journal can be written before anything is changed.
    pub fn open_check(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open the journal {}", self.path.display()))?;
        Ok(())
    }

    pub fn append(&self, rec: &Record<'_>) -> Result<()> {
        let line = serde_json::to_string(rec)?;
        self.write_line(rec, line)
    }

    /// A step record with more fields after the common ones (e.g. rsync's summary).
    pub fn append_with<E: Serialize>(&self, rec: &Record<'_>, extra: &E) -> Result<()> {
        let mut v = serde_json::to_value(rec)?;
        if let (Some(base), serde_json::Value::Object(more)) =
            (v.as_object_mut(), serde_json::to_value(extra)?)
        {
            base.extend(more);
        }
        self.write_line(rec, serde_json::to_string(&v)?)
    }

    fn write_line(&self, rec: &Record<'_>, line: String) -> Result<()> {
        to_system_log(rec);
        self.write_raw(line)
    }

    fn write_raw(&self, mut line: String) -> Result<()> {
        line.push('\n');
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open the journal {}", self.path.display()))?;
        // A write cut short (a full disk, a kill) left a line without its end: start on a
        // line of our own, so a reader skips the torn one instead of gluing ours to it.
        if !ends_with_newline(&f) {
            line.insert(0, '\n');
        }
        // One write per line so concurrent writers (other hosts' tools, a second run after the
        // lock) never interleave inside a line.
        f.write_all(line.as_bytes())
            .with_context(|| format!("cannot write the journal {}", self.path.display()))?;
        Ok(())
    }
}

/// The records in the last `max_bytes` of the journal, oldest first (a partial first line and
/// lines that are not JSON are skipped). Empty when there is no journal.
pub fn tail(path: &Path, max_bytes: u64) -> Vec<serde_json::Value> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if f.seek(SeekFrom::Start(len.saturating_sub(max_bytes)))
        .is_err()
    {
        return Vec::new();
    }
    // Bytes, not a String: the cut may fall inside a multi-byte character.
    let mut bytes = Vec::new();
    if f.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let skip_first = len > max_bytes;
    text.lines()
        .skip(usize::from(skip_first))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(f: &std::fs::File) -> bool {
    use std::os::unix::fs::FileExt;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return true;
    }
    let mut last = [0u8; 1];
    f.read_exact_at(&mut last, len - 1).is_err() || last[0] == b'\n'
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Who ran it: the sudo user when there is one, else the login user, else the uid.
pub fn operator() -> String {
    for var in ["SUDO_USER", "LOGNAME", "USER"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return v;
        }
    }
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The same step, to the systemd journal when that logger is installed (see
/// [`super::logging`]); a no-op otherwise.
fn to_system_log(rec: &Record<'_>) {
    let level = match rec.result {
        "failed" => log::Level::Error,
        "refused" => log::Level::Warn,
        _ => log::Level::Info,
    };
    let rc = rec.rc.map(|r| r.to_string()).unwrap_or_default();
    log::log!(
        level,
        cluster = rec.cluster,
        node = rec.node,
        command = rec.command,
        step = rec.step,
        run = rec.run,
        rc = rc.as_str(),
        result = rec.result;
        "{} {}: {}: {} (verify: {})",
        rec.command,
        rec.step,
        rec.title,
        rec.result,
        rec.verify
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_not_glued_to_the_next_record() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("journal.jsonl");
        std::fs::write(&path, "{\"step\":\"a\"}\n{\"step\":\"tor").unwrap();
        let j = Journal::new(&path);
        j.append_value(&serde_json::json!({"step": "b"})).unwrap();
        j.append_value(&serde_json::json!({"step": "c"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text:?}");
        assert!(serde_json::from_str::<serde_json::Value>(lines[1]).is_err());
        for l in [lines[0], lines[2], lines[3]] {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
        assert!(text.ends_with("\"c\"}\n"));
    }

    #[test]
    fn the_tail_is_read_even_when_it_starts_inside_a_character() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("journal.jsonl");
        let first = "{\"title\":\"é\"}\n";
        std::fs::write(&path, format!("{first}{{\"step\":\"b\"}}\n")).unwrap();
        // The cut falls inside "é" (two bytes): that first, partial line is skipped.
        let len = std::fs::metadata(&path).unwrap().len();
        // Byte 11 is the second byte of "é".
        assert!(!first.is_char_boundary(11));
        let recs = tail(&path, len - 11);
        assert_eq!(recs, [serde_json::json!({"step": "b"})]);
    }
}
