//! /etc/netgroup (netgroup(5)) and the `netgroup:` line of /etc/nsswitch.conf: reading,
//! and rendering the block of groups nfs-manage manages.
//!
//! rpc.mountd admits a client of an `@group` export when glibc's `innetgr(group, address)`
//! says so; with `netgroup: files` glibc reads /etc/netgroup on every call (no cache), so a
//! rewritten file is what the next upcall sees. Lines outside the managed block belong to
//! the operator and are kept byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const NETGROUP: &str = "/etc/netgroup";
pub const NSSWITCH: &str = "/etc/nsswitch.conf";

pub const BEGIN: &str =
    "# BEGIN nfs-manage: project netgroups (`nfs-manage exports sync` rewrites this block)";
pub const END: &str = "# END nfs-manage";

/// /etc/netgroup split into the operator's text and nfs-manage's groups.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NetgroupFile {
    /// Text before the managed block (or the whole file when there is none).
    pub before: String,
    /// Text after the managed block.
    pub after: String,
    /// Managed group → its member hosts (addresses), in file order.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Groups defined in the operator's text.
    pub foreign: Vec<String>,
}

/// Read /etc/netgroup's text. Refused (with file:line and what was expected): a BEGIN without
/// END or the reverse, two blocks, a managed line that is not `NAME (host,,) …`, a group defined
/// twice, or an operator line ending in `\` just before the block (it would swallow the
/// block's first line).
pub fn parse(text: &str) -> Result<NetgroupFile, String> {
    let mut f = NetgroupFile::default();
    let mut state = 0; // 0 before, 1 inside, 2 after
    let mut continued = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let bare = line.trim_end_matches('\n');
        match (state, bare.trim()) {
            (0, t) if t == BEGIN.trim() || t.starts_with("# BEGIN nfs-manage") => {
                if continued {
                    return Err(format!(
                        "{NETGROUP}:{}: the line before the nfs-manage block ends in '\\', so glibc would join the block's first line to it",
                        n - 1
                    ));
                }
                state = 1;
            }
            (1, t) if t == END => state = 2,
            (1, t) if t.is_empty() || t.starts_with('#') => {}
            (1, t) => {
                let (name, members) = parse_group_line(t)
                    .map_err(|why| format!("{NETGROUP}:{n}: in the nfs-manage block: {why}"))?;
                if f.groups.insert(name.clone(), members).is_some() {
                    return Err(format!(
                        "{NETGROUP}:{n}: netgroup {name} is defined twice in the nfs-manage block"
                    ));
                }
            }
            (2, t) if t.starts_with("# BEGIN nfs-manage") => {
                return Err(format!(
                    "{NETGROUP}:{n}: a second nfs-manage block (expected one)"
                ));
            }
            (s, t) if (s == 0 || s == 2) && t == END => {
                return Err(format!(
                    "{NETGROUP}:{n}: {END:?} without the block's BEGIN line"
                ));
            }
            (s, t) => {
                // The operator's text: remember which groups it defines (not continuations).
                if !continued
                    && !t.is_empty()
                    && !t.starts_with('#')
                    && let Some(name) = t.split_ascii_whitespace().next()
                {
                    f.foreign.push(name.to_string());
                }
                continued = bare.ends_with('\\');
                if s == 0 {
                    f.before.push_str(line);
                } else {
                    f.after.push_str(line);
                }
            }
        }
    }
    if state == 1 {
        return Err(format!(
            "{NETGROUP}: the nfs-manage block has no {END:?} line (expected the file to end the block)"
        ));
    }
    if let Some(dup) = f.foreign.iter().find(|g| f.groups.contains_key(*g)) {
        return Err(format!(
            "{NETGROUP}: netgroup {dup} is defined both by the operator and in the nfs-manage block; rename or remove the operator's"
        ));
    }
    Ok(f)
}

/// `NAME (host,,) (host,,) …` → (NAME, hosts). Only plain host triples: nfs-manage writes no
/// users, domains or nested groups.
fn parse_group_line(t: &str) -> Result<(String, Vec<String>), String> {
    let mut words = t.splitn(2, char::is_whitespace);
    let name = words.next().unwrap_or_default().to_string();
    if !valid_name(&name) {
        return Err(format!(
            "{name:?} is not a netgroup name (expected letters, digits, '-', '_' or '.')"
        ));
    }
    let mut members = Vec::new();
    for tok in words.next().unwrap_or_default().split_ascii_whitespace() {
        let host = tok
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(",,)"))
            .filter(|h| !h.is_empty() && !h.contains([',', '(', ')']))
            .ok_or_else(|| format!("{tok:?} in group {name}: expected a triple (HOST,,)"))?;
        members.push(host.to_string());
    }
    Ok((name, members))
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The whole file with the managed block holding `groups` (the operator's text as it was).
/// An empty set of groups removes the block.
pub fn render(f: &NetgroupFile, groups: &BTreeMap<String, Vec<String>>) -> String {
    let mut s = f.before.clone();
    if !groups.is_empty() {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(BEGIN);
        s.push('\n');
        for (name, members) in groups {
            s.push_str(name);
            for m in members {
                let _ = write!(s, " ({m},,)");
            }
            s.push('\n');
        }
        s.push_str(END);
        s.push('\n');
    }
    s.push_str(&f.after);
    s
}

/// Why `netgroup:` in nsswitch.conf would not make glibc answer from /etc/netgroup, or None.
/// `files` must come first: a source before it (nis, ldap, sss) could answer, or fail, first.
pub fn nsswitch_problem(text: &str) -> Option<String> {
    let line = text.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or_default().trim();
        l.strip_prefix("netgroup:")
    });
    match line.map(|l| l.split_ascii_whitespace().collect::<Vec<_>>()) {
        None => Some(format!(
            "{NSSWITCH} has no netgroup: line (glibc then asks NIS, not {NETGROUP}); expected `netgroup: files`"
        )),
        Some(v) if v.first() == Some(&"files") => None,
        Some(v) => Some(format!(
            "{NSSWITCH} says `netgroup: {}`; expected `files` first, so that rpc.mountd answers from {NETGROUP}",
            v.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_operators_text() {
        let text = format!(
            "# ops\nadmins (bastion1,,) \\\n  (bastion2,,)\n\n{BEGIN}\nproject-a (192.0.2.1,,) (192.0.2.2,,)\nproject-b (192.0.2.9,,)\n{END}\ntail (h,,)\n"
        );
        let f = parse(&text).unwrap();
        assert_eq!(f.foreign, ["admins", "tail"]);
        assert_eq!(f.groups["project-a"], ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(render(&f, &f.groups), text);
        let mut g = f.groups.clone();
        g.remove("project-b");
        let out = render(&f, &g);
        assert!(
            !out.contains("project-b") && out.ends_with("tail (h,,)\n"),
            "{out}"
        );
        // No groups: no block.
        assert_eq!(
            render(&f, &BTreeMap::new()),
            "# ops\nadmins (bastion1,,) \\\n  (bastion2,,)\n\ntail (h,,)\n"
        );
        // A file without a block gets one at its end.
        let f = parse("x (h,,)").unwrap();
        assert_eq!(
            render(&f, &g),
            format!("x (h,,)\n{BEGIN}\nproject-a (192.0.2.1,,) (192.0.2.2,,)\n{END}\n")
        );
    }

    #[test]
    fn broken_files_are_refused_with_the_line() {
        let e = parse(&format!("{BEGIN}\nproject-a (192.0.2.1,,)\n")).unwrap_err();
        assert!(e.contains("no \"# END nfs-manage\" line"), "{e}");
        let e = parse(&format!("{BEGIN}\nproject-a 192.0.2.1\n{END}\n")).unwrap_err();
        assert!(
            e.starts_with("/etc/netgroup:2:") && e.contains("(HOST,,)"),
            "{e}"
        );
        let e = parse(&format!("{END}\n")).unwrap_err();
        assert!(e.contains("without the block's BEGIN"), "{e}");
        let e = parse(&format!("a (h,,) \\\n{BEGIN}\n{END}\n")).unwrap_err();
        assert!(
            e.starts_with("/etc/netgroup:1:") && e.contains("ends in '\\'"),
            "{e}"
        );
        let e = parse(&format!(
            "project-a (h,,)\n{BEGIN}\nproject-a (h,,)\n{END}\n"
        ))
        .unwrap_err();
        assert!(e.contains("both by the operator"), "{e}");
        let e = parse(&format!("{BEGIN}\n{END}\n{BEGIN}\n{END}\n")).unwrap_err();
        assert!(e.contains("second nfs-manage block"), "{e}");
    }

    #[test]
    fn nsswitch_needs_files_first() {
        assert_eq!(
            nsswitch_problem("passwd: files\nnetgroup:   files nis # x\n"),
            None
        );
        assert!(
            nsswitch_problem("netgroup: nis\n")
                .unwrap()
                .contains("`netgroup: nis`")
        );
        assert!(nsswitch_problem("netgroup: sss files\n").is_some());
        assert!(
            nsswitch_problem("passwd: files\n#netgroup: files\n")
                .unwrap()
                .contains("no netgroup: line")
        );
    }
}
