//! NFS exports: the exports files we read (`/etc/exports`, `exports_dir/*.exports`), the
//! kernel-side table nfs-utils keeps in `/var/lib/nfs/etab`, and `exportfs` argv.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::unescape_octal;
use crate::process::Cmd;

pub const ETAB: &str = "/var/lib/nfs/etab";
pub const EXPORTS: &str = "/etc/exports";

/// One client entry of one exported path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub path: PathBuf,
    pub client: String,
    pub options: String,
}

/// `/var/lib/nfs/etab`: `path<TAB>client(options)`, paths octal-escaped.
pub fn parse_etab(text: &str) -> Result<Vec<Export>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once('\t').and_then(|(path, rest)| {
            let (client, opts) = rest.split_once('(')?;
            let opts = opts.strip_suffix(')')?;
            Some(Export {
                path: unescape_octal(path).into(),
                client: client.to_string(),
                options: opts.to_string(),
            })
        });
        match parsed {
            Some(e) => out.push(e),
            None => bail!("{ETAB} line {}: unexpected format: {line:?}", n + 1),
        }
    }
    Ok(out)
}

/// The current etab; a missing file means nothing is exported.
pub fn read_etab() -> Result<Vec<Export>> {
    match std::fs::read_to_string(ETAB) {
        Ok(t) => parse_etab(&t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {ETAB}")),
    }
}

/// An exports(5) file: `path [-defaults] client[(opts)] …`, `#` comments, `\` continuations,
/// double-quoted paths. `source` names the file in errors.
pub fn parse_exports(source: &str, text: &str) -> Result<Vec<Export>> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start_line = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = match raw.find('#') {
            Some(i) if !in_quotes(&raw[..i]) => &raw[..i],
            _ => raw,
        };
        if logical.is_empty() {
            start_line = n + 1;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        parse_exports_line(source, start_line, &entry, &mut out)?;
    }
    if !logical.is_empty() {
        parse_exports_line(source, start_line, &logical, &mut out)?;
    }
    Ok(out)
}

fn in_quotes(s: &str) -> bool {
    s.matches('"').count() % 2 == 1
}

fn parse_exports_line(
    source: &str,
    line_no: usize,
    line: &str,
    out: &mut Vec<Export>,
) -> Result<()> {
    // exportfs splits on ASCII blanks only (C isspace): a no-break space is part of a path.
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(());
    }
    let (path, rest) = if let Some(q) = line.strip_prefix('"') {
        let end = q
            .find('"')
            .with_context(|| format!("{source}:{line_no}: unterminated quoted path"))?;
        (q[..end].to_string(), &q[end + 1..])
    } else {
        let end = line
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(line.len());
        (unescape_octal(&line[..end]), &line[end..])
    };
    if !path.starts_with('/') {
        bail!("{source}:{line_no}: export path {path:?} is not absolute");
    }
    let mut defaults = String::new();
    let mut any = false;
    for tok in rest.split_ascii_whitespace() {
        if let Some(d) = tok.strip_prefix('-') {
            defaults = d.to_string();
            continue;
        }
        let (client, opts) = match tok.split_once('(') {
            Some((c, o)) => {
                let o = o
                    .strip_suffix(')')
                    .with_context(|| format!("{source}:{line_no}: unbalanced '(' in {tok:?}"))?;
                (c, o.to_string())
            }
            None => (tok, defaults.clone()),
        };
        // exportfs treats an empty client as "*" (world).
        let client = if client.is_empty() { "*" } else { client };
        out.push(Export {
            path: PathBuf::from(&path),
            client: client.to_string(),
            options: opts,
        });
        any = true;
    }
    if !any {
        // "path" alone exports to the world with default options.
        out.push(Export {
            path: PathBuf::from(&path),
            client: "*".into(),
            options: defaults,
        });
    }
    Ok(())
}

/// The exports nfs-utils would apply with `exportfs -ra`: /etc/exports, then
/// `exports_dir/*.exports` in name order (files with other endings are ignored by exportfs too).
pub fn read_configured(exports_dir: &Path) -> Result<Vec<Export>> {
    let mut out = Vec::new();
    match std::fs::read_to_string(EXPORTS) {
        Ok(t) => out.extend(parse_exports(EXPORTS, &t)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {EXPORTS}")),
    }
    let mut files: Vec<PathBuf> = match std::fs::read_dir(exports_dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "exports"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", exports_dir.display())),
    };
    files.sort();
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        out.extend(parse_exports(&f.display().to_string(), &text)?);
    }
    Ok(out)
}

/// Re-export everything in the exports files (and withdraw what is no longer there).
pub fn reexport_all_cmd() -> Cmd {
    Cmd::change(["exportfs", "-ra"])
}

/// Flush the kernel's export caches (`exportfs -f`): each client's next request makes the
/// kernel ask rpc.mountd again. It does not load etab.
pub fn flush_cmd() -> Cmd {
    Cmd::change(["exportfs", "-f"])
}

/// Withdraw the given entries: `exportfs -u client:path …`.
pub fn unexport_cmd(entries: &[&Export]) -> Cmd {
    let mut argv = vec!["exportfs".to_string(), "-u".into()];
    argv.extend(entries.iter().map(|e| client_arg(&e.client, &e.path)));
    Cmd::change(argv)
}

/// `client:path` as exportfs takes it on its command line; an IPv6 client goes in brackets
/// (exportfs splits at the first ':' otherwise).
pub fn client_arg(client: &str, path: &Path) -> String {
    if client.contains(':') {
        format!("[{client}]:{}", path.display())
    } else {
        format!("{client}:{}", path.display())
    }
}

/// Export (or re-export with new options) entries that share one option string:
/// `exportfs -i -o OPTS client:path …`. Options given this way replace the entry's old ones.
/// `-i` skips reading /etc/exports and exports.d: the entries are named on the command line,
/// and parsing every exports file would cost as much again as loading etab.
pub fn export_cmd(options: &str, entries: &[(&str, &Path)]) -> Cmd {
    let mut argv = vec![
        "exportfs".to_string(),
        "-i".into(),
        "-o".into(),
        options.to_string(),
    ];
    argv.extend(entries.iter().map(|(c, p)| client_arg(c, p)));
    Cmd::change(argv)
}

/// The same export options, read-only: `rw` becomes `ro` (added when neither is given, as
/// exportfs's default is `ro` already but the pause must not depend on a default).
pub fn read_only(options: &str) -> String {
    let mut out: Vec<&str> = options
        .split(',')
        .filter(|o| !o.is_empty())
        .map(|o| if o == "rw" { "ro" } else { o })
        .collect();
    if !out.contains(&"ro") {
        out.insert(0, "ro");
    }
    out.join(",")
}

/// The export options nfs-utils' exportfs accepts (support/nfs/exports.c `parseopts()`, as
/// Debian 12's exportfs 2.6.2 takes them: no `sign_fh`, `xprtsec=` or `reexport=`), without
/// a value.
pub const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "secure",
    "insecure",
    "sync",
    "async",
    "nordirplus",
    "security_label",
    "nohide",
    "hide",
    "crossmnt",
    "nocrossmnt",
    "wdelay",
    "no_wdelay",
    "root_squash",
    "no_root_squash",
    "all_squash",
    "no_all_squash",
    "subtree_check",
    "no_subtree_check",
    "auth_nlm",
    "no_auth_nlm",
    "secure_locks",
    "insecure_locks",
    "acl",
    "no_acl",
    "pnfs",
    "no_pnfs",
    "mountpoint",
    "mp",
];

/// Options with a value, and the form of the value.
pub const VALUE_OPTIONS: &[(&str, &str)] = &[
    ("anonuid", "a number"),
    ("anongid", "a number"),
    ("squash_uids", "a number or a range N-M"),
    ("squash_gids", "a number or a range N-M"),
    ("fsid", "a number, root or a UUID"),
    ("mountpoint", "a path"),
    ("mp", "a path"),
    ("refer", "path@host[+host][:path@host…]"),
    ("replicas", "path@host[+host][:path@host…]"),
    (
        "sec",
        "flavors separated by ':' (sys, krb5, krb5i, krb5p, none, null, unix)",
    ),
];

/// The security flavors exportfs knows (`sec=`).
pub const SEC_FLAVORS: &[&str] = &["krb5", "krb5i", "krb5p", "unix", "sys", "null", "none"];

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_uuid(s: &str) -> bool {
    // exportfs takes 32 hex digits, with or without the usual dashes.
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32
        && hex.chars().all(|c| c.is_ascii_hexdigit())
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn is_fs_location(s: &str) -> bool {
    !s.is_empty()
        && s.split(':').all(|loc| {
            loc.split_once('@').is_some_and(|(path, hosts)| {
                path.starts_with('/')
                    && !hosts.is_empty()
                    && hosts.split('+').all(|h| {
                        !h.is_empty()
                            && h.chars()
                                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
                    })
            })
        })
}

/// Why exportfs would refuse one export option (one item, no commas), or None when it takes
/// it. The message names the nearest option it accepts.
pub fn option_problem(o: &str) -> Option<String> {
    let (key, value) = match o.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (o, None),
    };
    let form = VALUE_OPTIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, f)| *f);
    match (value, form) {
        (None, _) if FLAG_OPTIONS.contains(&key) => None,
        (None, Some(f)) => Some(format!("{key} needs a value: {key}=({f})")),
        (Some(v), Some(f)) => {
            let ok = match key {
                "anonuid" | "anongid" => is_number(v) || v.strip_prefix('-').is_some_and(is_number),
                "squash_uids" | "squash_gids" => match v.split_once('-') {
                    Some((a, b)) => is_number(a) && is_number(b),
                    None => is_number(v),
                },
                "fsid" => v == "root" || is_number(v) || is_uuid(v),
                "mountpoint" | "mp" => v.starts_with('/') && !v.contains([',', '(', ')']),
                "refer" | "replicas" => is_fs_location(v),
                "sec" => !v.is_empty() && v.split(':').all(|f| SEC_FLAVORS.contains(&f)),
                _ => false,
            };
            (!ok).then(|| format!("{o:?}: the value of {key}= must be {f}"))
        }
        (Some(_), None) if FLAG_OPTIONS.contains(&key) => {
            Some(format!("{o:?}: {key} takes no value"))
        }
        _ => Some(format!(
            "{o:?} is not an export option exportfs accepts{}",
            nearest_option(key)
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default()
        )),
    }
}

/// The accepted option spelled most like `word` (edit distance at most a third of it).
fn nearest_option(word: &str) -> Option<String> {
    let names = FLAG_OPTIONS
        .iter()
        .copied()
        .chain(VALUE_OPTIONS.iter().map(|(k, _)| *k));
    let best = names.map(|n| (edit_distance(word, n), n)).min()?;
    (best.0 <= word.chars().count().max(3) / 3 + 1).then(|| {
        if VALUE_OPTIONS.iter().any(|(k, _)| *k == best.1) && !FLAG_OPTIONS.contains(&best.1) {
            format!("{}=", best.1)
        } else {
            best.1.to_string()
        }
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Options that come in pairs, with the one exportfs uses when neither is given
/// (nfs-utils 2.6: the defaults it writes into etab for an entry exported with no options).
const PAIRS: &[(&str, &str, bool)] = &[
    // (option, its opposite, whether `option` is the default)
    ("ro", "rw", true),
    ("sync", "async", true),
    ("wdelay", "no_wdelay", true),
    ("hide", "nohide", true),
    ("nocrossmnt", "crossmnt", true),
    ("secure", "insecure", true),
    ("root_squash", "no_root_squash", true),
    ("no_all_squash", "all_squash", true),
    ("no_subtree_check", "subtree_check", true),
    ("secure_locks", "insecure_locks", true),
    ("acl", "no_acl", true),
    ("no_pnfs", "pnfs", true),
];

/// Does an etab entry's expanded option list say what `wanted` (an exports-file option
/// string) asks for? Each option given must be there, and each paired option not given
/// must be at its default — `exportfs -o` replaces options, so a dropped one must be gone.
pub fn options_match(wanted: &str, etab: &str) -> bool {
    let have: std::collections::HashSet<&str> = etab.split(',').collect();
    let want: Vec<&str> = wanted.split(',').filter(|o| !o.is_empty()).collect();
    fn alias(o: &str) -> &str {
        match o {
            "no_auth_nlm" => "insecure_locks",
            "auth_nlm" => "secure_locks",
            o => o,
        }
    }
    for (opt, opposite, default_first) in PAIRS {
        let given = want
            .iter()
            .rev()
            .map(|o| alias(o))
            .find(|o| o == opt || o == opposite);
        let expect = match given {
            Some(o) => o,
            None if *default_first => opt,
            None => opposite,
        };
        if !have.contains(expect) {
            return false;
        }
    }
    want.iter()
        .map(|o| alias(o))
        .filter(|o| !PAIRS.iter().any(|(a, b, _)| o == a || o == b))
        .all(|o| have.contains(o))
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_only_options() {
        use super::read_only;
        assert_eq!(
            read_only("rw,sync,no_subtree_check,all_squash,anongid=5001"),
            "ro,sync,no_subtree_check,all_squash,anongid=5001"
        );
        assert_eq!(read_only("sync,no_root_squash"), "ro,sync,no_root_squash");
        assert_eq!(read_only("ro,sync"), "ro,sync");
        assert_eq!(read_only(""), "ro");
    }

    use super::*;

    // Written by real `exportfs -ra` (nfs-utils 2.6.2, Debian 12) on this project's test bed;
    // note the tab, the octal-escaped space and the `*` client.
    const ETAB_SAMPLE: &str = "/tmp/ex/a\t192.0.2.7(ro,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,anonuid=65534,anongid=65534,sec=sys,ro,root_squash,no_all_squash)
/tmp/ex/a\t192.0.2.0/24(rw,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,fsid=101,anonuid=65534,anongid=65534,sec=sys,rw,root_squash,no_all_squash)
/tmp/ex/b\\040c\t*(ro,sync,wdelay,hide,nocrossmnt,secure,root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,anonuid=65534,anongid=65534,sec=sys,ro,root_squash,no_all_squash)
";

    #[test]
    fn etab_entries() {
        let e = parse_etab(ETAB_SAMPLE).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].client, "192.0.2.0/24");
        assert!(e[1].options.contains("fsid=101"));
        assert_eq!(e[2].path, Path::new("/tmp/ex/b c"));
        assert_eq!(e[2].client, "*");
        assert!(parse_etab("/x 1.2.3.4(rw)\n").is_err());
    }

    #[test]
    fn exports_file_syntax() {
        let text = "# comment\n/srv/tools 10.0.0.0/8(rw,sync) \\\n   192.0.2.1(ro)  # trailing\n\"/srv/a b\" -ro,sync host1 host2(rw)\n/srv/world\n";
        let e = parse_exports("t.exports", text).unwrap();
        let got: Vec<(String, &str, &str)> = e
            .iter()
            .map(|x| {
                (
                    x.path.display().to_string(),
                    x.client.as_str(),
                    x.options.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/srv/tools".into(), "10.0.0.0/8", "rw,sync"),
                ("/srv/tools".into(), "192.0.2.1", "ro"),
                ("/srv/a b".into(), "host1", "ro,sync"),
                ("/srv/a b".into(), "host2", "rw"),
                ("/srv/world".into(), "*", ""),
            ]
        );
    }

    #[test]
    fn exports_file_errors_name_file_and_line() {
        let e = parse_exports("p.exports", "\nsrv/x *(rw)\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.exports:2:"), "{e}");
        let e = parse_exports("p.exports", "/srv/x *(rw\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unbalanced"), "{e}");
    }

    #[test]
    fn options_match_expanded_etab() {
        let e = parse_etab(ETAB_SAMPLE).unwrap();
        assert!(options_match(
            "rw,sync,no_subtree_check,fsid=101",
            &e[1].options
        ));
        assert!(options_match("rw,fsid=101", &e[1].options));
        // A different fsid, async, or a dropped no_root_squash is a change.
        assert!(!options_match("rw,fsid=102", &e[1].options));
        assert!(!options_match("rw,async,fsid=101", &e[1].options));
        assert!(!options_match("ro", &e[1].options));
        let nrs = e[1].options.replace("root_squash", "no_root_squash");
        assert!(!options_match("rw,fsid=101", &nrs));
        assert!(options_match("rw,no_root_squash,fsid=101", &nrs));
    }

    #[test]
    fn export_argv_brackets_ipv6() {
        assert_eq!(
            export_cmd(
                "rw,fsid=5",
                &[
                    ("192.0.2.7", Path::new("/srv/a")),
                    ("2001:db8::1", Path::new("/srv/a"))
                ]
            )
            .argv,
            [
                "exportfs",
                "-i",
                "-o",
                "rw,fsid=5",
                "192.0.2.7:/srv/a",
                "[2001:db8::1]:/srv/a"
            ]
        );
    }

    #[test]
    fn unexport_argv() {
        let e = parse_etab(ETAB_SAMPLE).unwrap();
        assert_eq!(
            unexport_cmd(&[&e[0], &e[2]]).argv,
            ["exportfs", "-u", "192.0.2.7:/tmp/ex/a", "*:/tmp/ex/b c"]
        );
    }
}
