//! etcdctl (v3 API, `-w json`): argv for `get` and `txn`, and parsers for their JSON.
//!
//! The lock key holds `NODE@SINCE` (SINCE an RFC 3339 UTC time), so `etcdctl get` shows
//! who holds it and since when without any decoding. It is only ever written through
//! `etcdctl txn` whose compare names the value and the `mod_revision` read before, so two
//! writers that read the same state cannot both succeed; the revision of the winning write is
//! the fencing token.
//!
//! Output shapes (etcd 3.4, checked against a real etcd 3.4.23 on the test bed; samples in
//! tests/fixtures/etcd/): keys and values are base64 in JSON; `header.revision` is the store's
//! revision; a `get` of a missing key has no `kvs`; a `txn` whose compare failed exits 0 and
//! has no `succeeded` field (protobuf omits false). `etcdctl txn` of etcd 3.4 does not apply
//! `--command-timeout` (it commits with a background context), so every call here carries the
//! runner's own time limit.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::process::{Cmd, Output};

/// Who holds the lock, as stored in the key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    /// When it was taken (RFC 3339), if the value says.
    pub since: Option<String>,
    /// `FROM>NODE@SINCE`: a failover from FROM to NODE is under way (or was interrupted).
    /// Nobody may come up until it finishes.
    pub moving_from: Option<String>,
}

impl Holder {
    /// The value to store: `NODE@SINCE`.
    pub fn value(node: &str, since: &str) -> String {
        format!("{node}@{since}")
    }

    /// The value while a failover moves the service: `FROM>TO@SINCE`.
    pub fn moving_value(from: &str, to: &str, since: &str) -> String {
        format!("{from}>{to}@{since}")
    }

    /// `NODE@SINCE`, `FROM>NODE@SINCE`, or a bare `NODE` (written by hand).
    pub fn parse(value: &str) -> Result<Holder> {
        let (who, since) = match value.split_once('@') {
            Some((n, s)) => (n, Some(s.to_string())),
            None => (value, None),
        };
        let (from, node) = match who.split_once('>') {
            Some((f, n)) => (Some(f), n),
            None => (None, who),
        };
        let plain = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        if !plain(node) || from.is_some_and(|f| !plain(f)) {
            bail!("the lock value {value:?} does not name a node (expected NODE@TIME)");
        }
        Ok(Holder {
            node: node.to_string(),
            since,
            moving_from: from.map(str::to_string),
        })
    }
}

/// One key as `etcdctl get -w json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

/// The result of a `get`: the store's revision and the key, if it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub revision: i64,
    pub kv: Option<Kv>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult {
    pub succeeded: bool,
    /// The store's revision after the transaction: the new key's mod_revision on success.
    pub revision: i64,
}

/// What a transaction expects to find; the compare of every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The key does not exist (`mod(KEY) = "0"`).
    Absent,
    /// The key has exactly this value and was last written at this revision.
    Is { value: String, mod_revision: i64 },
    /// The key has exactly this value, written by an earlier lock step of the same run at a
    /// revision only known once that step ran (see [`REVISION_OF_EARLIER_STEP`]).
    WrittenEarlier { value: String },
}

/// Stands in the transaction text for the revision an earlier lock step of this run wrote;
/// the engine fills it in right before the step runs.
pub const REVISION_OF_EARLIER_STEP: &str = "<revision written by the earlier lock step>";

/// What a transaction does when its compare holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(String),
    Delete,
}

fn base(endpoints: &[String], timeout: Duration) -> Vec<String> {
    // etcdctl's own timeouts stay under ours, so a dead endpoint is reported by etcdctl
    // ("context deadline exceeded") rather than by our kill.
    let secs = timeout.as_secs_f64();
    let dial = (secs / 2.0).max(0.5);
    vec![
        "etcdctl".into(),
        format!("--endpoints={}", endpoints.join(",")),
        format!("--dial-timeout={}ms", (dial * 1000.0) as u64),
        format!("--command-timeout={}ms", (secs * 1000.0 * 0.8) as u64),
        "-w".into(),
        "json".into(),
    ]
}

/// etcdctl before 3.4 defaults to the v2 API; we only speak v3.
const API: (&str, &str) = ("ETCDCTL_API", "3");

pub fn get_cmd(endpoints: &[String], timeout: Duration, key: &str) -> Cmd {
    let mut argv = base(endpoints, timeout);
    argv.extend(["get".into(), key.to_string()]);
    Cmd::probe(argv)
        .with_env(API.0, API.1)
        .with_timeout(timeout)
}

/// `etcdctl txn`: the request goes on stdin, one section per blank-line-terminated block
/// (compares, then success requests, then failure requests).
pub fn txn_cmd(
    endpoints: &[String],
    timeout: Duration,
    key: &str,
    expect: &Expect,
    write: &Write,
) -> Cmd {
    let mut argv = base(endpoints, timeout);
    argv.push("txn".into());
    Cmd::change(argv)
        .with_env(API.0, API.1)
        .with_stdin(txn_text(key, expect, write))
        .with_timeout(timeout)
}

/// The request text. Keys and values are plain (validated prefix and node names, RFC 3339
/// times), so double quotes need no escaping inside them.
pub fn txn_text(key: &str, expect: &Expect, write: &Write) -> String {
    let compare = match expect {
        Expect::Absent => format!("mod(\"{key}\") = \"0\"\n"),
        Expect::Is {
            value,
            mod_revision,
        } => format!("mod(\"{key}\") = \"{mod_revision}\"\nvalue(\"{key}\") = \"{value}\"\n"),
        Expect::WrittenEarlier { value } => format!(
            "mod(\"{key}\") = \"{REVISION_OF_EARLIER_STEP}\"\nvalue(\"{key}\") = \"{value}\"\n"
        ),
    };
    let op = match write {
        Write::Put(v) => format!("put \"{key}\" \"{v}\"\n"),
        Write::Delete => format!("del \"{key}\"\n"),
    };
    format!("{compare}\n{op}\n\n")
}

/// One line for plans and messages: what the transaction compares and writes.
pub fn describe(expect: &Expect, write: &Write) -> String {
    let c = match expect {
        Expect::Absent => "if the key is absent".to_string(),
        Expect::Is {
            value,
            mod_revision,
        } => format!("if it is still {value} at revision {mod_revision}"),
        Expect::WrittenEarlier { value } => {
            format!("if it is still {value}, as written by the step before")
        }
    };
    let w = match write {
        Write::Put(v) => format!("put {v}"),
        Write::Delete => "delete it".to_string(),
    };
    format!("{w} {c}")
}

#[derive(Deserialize)]
struct JHeader {
    #[serde(default)]
    revision: i64,
}

#[derive(Deserialize)]
struct JKv {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    create_revision: i64,
    #[serde(default)]
    mod_revision: i64,
    #[serde(default)]
    version: i64,
}

#[derive(Deserialize)]
struct JGet {
    header: JHeader,
    #[serde(default)]
    kvs: Vec<JKv>,
}

#[derive(Deserialize)]
struct JTxn {
    header: JHeader,
    #[serde(default)]
    succeeded: bool,
}

fn b64(field: &str, s: &str) -> Result<String> {
    let bytes = STANDARD
        .decode(s)
        .with_context(|| format!("etcdctl printed a {field} that is not base64: {s:?}"))?;
    String::from_utf8(bytes).with_context(|| format!("etcd {field} is not UTF-8"))
}

/// A failed etcdctl call (unreachable endpoints, auth…) is an error naming its complaint,
/// never "no holder".
fn ok_json<'a>(cmd: &str, out: &'a Output) -> Result<&'a str> {
    if !out.success() {
        let said = out.complaint();
        let why = said
            .lines()
            .rfind(|l| l.starts_with("Error:"))
            .unwrap_or(&said)
            .to_string();
        bail!(
            "etcd is unreachable or refused `etcdctl {cmd}` ({}): {why}",
            out.ending()
        );
    }
    Ok(&out.stdout)
}

pub fn parse_get(out: &Output, key: &str) -> Result<Got> {
    let text = ok_json("get", out)?;
    let j: JGet = serde_json::from_str(text.trim()).with_context(|| {
        format!(
            "`etcdctl get -w json` printed something that is not its JSON: {:?}",
            text.trim()
        )
    })?;
    let mut kv = None;
    for k in j.kvs {
        let name = b64("key", &k.key)?;
        if name != key {
            bail!("etcdctl get {key} returned another key: {name}");
        }
        kv = Some(Kv {
            key: name,
            value: b64("value", &k.value)?,
            create_revision: k.create_revision,
            mod_revision: k.mod_revision,
            version: k.version,
        });
    }
    if j.header.revision <= 0 {
        bail!(
            "`etcdctl get -w json` gave no header revision: {:?}",
            text.trim()
        );
    }
    Ok(Got {
        revision: j.header.revision,
        kv,
    })
}

pub fn parse_txn(out: &Output) -> Result<TxnResult> {
    let text = ok_json("txn", out)?;
    let j: JTxn = serde_json::from_str(text.trim()).with_context(|| {
        format!(
            "`etcdctl txn -w json` printed something that is not its JSON: {:?}",
            text.trim()
        )
    })?;
    if j.header.revision <= 0 {
        bail!(
            "`etcdctl txn -w json` gave no header revision: {:?}",
            text.trim()
        );
    }
    Ok(TxnResult {
        succeeded: j.succeeded,
        revision: j.header.revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &str, stderr: &str) -> Output {
        Output::fake(rc, stdout, stderr)
    }

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/etcd")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn get_of_a_held_key() {
        let g = parse_get(
            &out(0, &fixture("get-held.json"), ""),
            "/nfs-manage/test/active",
        )
        .unwrap();
        let kv = g.kv.unwrap();
        assert_eq!(kv.value, "labstore1004@2026-11-21T08:40:12.345Z");
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 2, 1));
        assert_eq!(g.revision, 2);
        let h = Holder::parse(&kv.value).unwrap();
        assert_eq!(h.node, "labstore1004");
        assert_eq!(h.since.as_deref(), Some("2026-11-21T08:40:12.345Z"));
    }

    #[test]
    fn get_of_a_missing_key() {
        let g = parse_get(
            &out(0, &fixture("get-missing.json"), ""),
            "/nfs-manage/test/active",
        )
        .unwrap();
        assert_eq!(g.kv, None);
        assert_eq!(g.revision, 1);
    }

    #[test]
    fn txn_won_and_lost() {
        let won = parse_txn(&out(0, &fixture("txn-succeeded.json"), "")).unwrap();
        assert_eq!(
            won,
            TxnResult {
                succeeded: true,
                revision: 3
            }
        );
        // A failed compare exits 0 and simply has no "succeeded".
        let lost = parse_txn(&out(0, &fixture("txn-failed.json"), "")).unwrap();
        assert!(!lost.succeeded);
    }

    #[test]
    fn unreachable_is_an_error_not_a_free_lock() {
        let e = parse_get(&out(1, "", &fixture("unreachable.stderr")), "/k")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unreachable") && e.contains("context deadline exceeded"),
            "{e}"
        );
        assert!(parse_get(&out(0, "not json", ""), "/k").is_err());
        assert!(
            parse_get(
                &out(
                    0,
                    r#"{"header":{"revision":3},"kvs":[{"key":"!!","value":""}]}"#,
                    ""
                ),
                "/k"
            )
            .is_err()
        );
    }

    #[test]
    fn transaction_text_compares_value_and_revision() {
        let t = txn_text(
            "/p/c/active",
            &Expect::Is {
                value: "a@t".into(),
                mod_revision: 7,
            },
            &Write::Put("b@u".into()),
        );
        assert_eq!(
            t,
            "mod(\"/p/c/active\") = \"7\"\nvalue(\"/p/c/active\") = \"a@t\"\n\nput \"/p/c/active\" \"b@u\"\n\n\n"
        );
        let t = txn_text("/k", &Expect::Absent, &Write::Delete);
        assert_eq!(t, "mod(\"/k\") = \"0\"\n\ndel \"/k\"\n\n\n");
        assert!(Holder::parse("a b@x").is_err());
        let m = Holder::parse(&Holder::moving_value("a1", "b2", "T")).unwrap();
        assert_eq!(
            (
                m.node.as_str(),
                m.moving_from.as_deref(),
                m.since.as_deref()
            ),
            ("b2", Some("a1"), Some("T"))
        );
        assert!(Holder::parse(">b@T").is_err());
        let t = txn_text(
            "/k",
            &Expect::WrittenEarlier {
                value: "a>b@T".into(),
            },
            &Write::Put("b@U".into()),
        );
        assert!(
            t.starts_with(&format!(
                "mod(\"/k\") = \"{REVISION_OF_EARLIER_STEP}\"\nvalue(\"/k\") = \"a>b@T\""
            )),
            "{t}"
        );
        assert_eq!(Holder::parse("labstore1005").unwrap().since, None);
    }
}
