//! LVM: `lvs --reportformat json` (one call per volume group, `LC_ALL=C` from the runner),
//! `lvcreate --snapshot` and `lvremove`. Device paths are `/dev/VG/LV`, as LVM makes them.
//!
//! Report format (lvm2 2.03.16, `--units b --nosuffix`): every value is a JSON string, empty
//! when it does not apply (`origin` of a plain LV, `data_percent` of a non-snapshot):
//! ```text
//!   {
//!       "report": [
//!           {
//!               "lv": [
//!                   {"lv_name":"tools", "vg_name":"backup", "lv_attr":"owi-a-s---", ...},
//!                   ...
//!               ]
//!           }
//!       ]
//!   }
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::process::{Cmd, Output};

pub const FIELDS: &str = "lv_name,vg_name,lv_attr,lv_size,origin,lv_path";
/// With the snapshots' fill, for reports only (it costs LVM a status query per snapshot).
pub const FILL_FIELDS: &str = "lv_name,vg_name,lv_attr,lv_size,origin,data_percent,lv_path";

#[derive(Debug, Clone, PartialEq)]
pub struct Lv {
    pub name: String,
    pub vg: String,
    pub attr: String,
    pub size: u64,
    /// The origin LV of a snapshot.
    pub origin: Option<String>,
    /// Snapshot fill (COW space used), percent.
    pub data_percent: Option<f64>,
    pub path: PathBuf,
}

impl Lv {
    /// lv_attr char 6: 'o' when the device is open (mounted, or held by a process).
    pub fn open(&self) -> bool {
        self.attr.as_bytes().get(5) == Some(&b'o')
    }
    pub fn is_snapshot(&self) -> bool {
        self.attr.starts_with('s') || self.attr.starts_with('S')
    }
}

/// `lvs` for the given volume groups (one process, whatever their number).
pub fn lvs_cmd(vgs: &[&str]) -> Cmd {
    lvs_fields_cmd(vgs, FIELDS)
}

/// `lvs` with `data_percent`.
pub fn lvs_fill_cmd(vgs: &[&str]) -> Cmd {
    lvs_fields_cmd(vgs, FILL_FIELDS)
}

fn lvs_fields_cmd(vgs: &[&str], fields: &str) -> Cmd {
    let mut argv: Vec<String> = [
        "lvs",
        "--reportformat",
        "json",
        "--units",
        "b",
        "--nosuffix",
        "-o",
        fields,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(vgs.iter().map(|s| s.to_string()));
    Cmd::probe(argv)
}

#[derive(Deserialize)]
struct Report {
    report: Vec<Section>,
}

#[derive(Deserialize)]
struct Section {
    #[serde(default)]
    lv: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    lv_name: String,
    vg_name: String,
    #[serde(default)]
    lv_attr: String,
    #[serde(default)]
    lv_size: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    data_percent: String,
    #[serde(default)]
    lv_path: String,
}

pub fn parse_lvs(text: &str) -> Result<Vec<Lv>> {
    let r: Report = serde_json::from_str(text.trim())
        .with_context(|| format!("unexpected `lvs --reportformat json` output: {text:?}"))?;
    let mut out = Vec::new();
    for row in r.report.into_iter().flat_map(|s| s.lv) {
        let size = row.lv_size.trim().parse::<u64>().with_context(|| {
            format!(
                "lvs: size {:?} of {}/{} is not a number of bytes",
                row.lv_size, row.vg_name, row.lv_name
            )
        })?;
        let data_percent = match row.data_percent.trim() {
            "" => None,
            p => Some(p.parse::<f64>().with_context(|| {
                format!(
                    "lvs: data_percent {p:?} of {}/{} is not a number",
                    row.vg_name, row.lv_name
                )
            })?),
        };
        out.push(Lv {
            path: if row.lv_path.is_empty() {
                dev_path(&row.vg_name, &row.lv_name)
            } else {
                PathBuf::from(row.lv_path)
            },
            origin: Some(row.origin).filter(|o| !o.is_empty()),
            name: row.lv_name,
            vg: row.vg_name,
            attr: row.lv_attr,
            size,
            data_percent,
        });
    }
    Ok(out)
}

/// Parse a finished `lvs` run: a failure (unknown VG: exit 5) is an error naming it.
pub fn parse_lvs_output(cmd: &Cmd, out: &Output) -> Result<Vec<Lv>> {
    if !out.success() {
        bail!("`{cmd}` failed ({}): {}", out.ending(), out.complaint());
    }
    parse_lvs(&out.stdout)
}

pub fn find<'a>(lvs: &'a [Lv], vg: &str, lv: &str) -> Option<&'a Lv> {
    lvs.iter().find(|l| l.vg == vg && l.name == lv)
}

pub fn dev_path(vg: &str, lv: &str) -> PathBuf {
    Path::new("/dev").join(vg).join(lv)
}

/// `lvcreate --snapshot --name NAME --size SIZE VG/ORIGIN` (or `--extents N%ORIGIN`).
pub fn snapshot_cmd(vg: &str, origin: &str, name: &str, size: &str) -> Vec<String> {
    let mut argv: Vec<String> = ["lvcreate", "--snapshot", "--name", name]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if size.ends_with("%ORIGIN") {
        argv.push("--extents".into());
    } else {
        argv.push("--size".into());
    }
    argv.push(size.into());
    argv.push(format!("{vg}/{origin}"));
    argv
}

/// `lvremove -f VG/LV`: without -f lvremove asks on a terminal.
pub fn remove_cmd(vg: &str, lv: &str) -> Vec<String> {
    vec!["lvremove".into(), "-f".into(), format!("{vg}/{lv}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Row layout as lvm2 prints it (RHEL 9 "Configuring and managing logical volumes",
    // "Displaying LVM command output in JSON format"), with --units b --nosuffix values.
    const SAMPLE: &str = r#"  {
      "report": [
          {
              "lv": [
                  {"lv_name":"tools", "vg_name":"backup", "lv_attr":"owi-a-s---", "lv_size":"33554432", "origin":"", "data_percent":"", "lv_path":"/dev/backup/tools"},
                  {"lv_name":"tools-mount", "vg_name":"backup", "lv_attr":"swi-aos---", "lv_size":"8388608", "origin":"tools", "data_percent":"12.50", "lv_path":"/dev/backup/tools-mount"}
              ]
          }
      ]
  }
"#;

    #[test]
    fn parses_rows() {
        let l = parse_lvs(SAMPLE).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].size, 33554432);
        assert!(!l[0].is_snapshot() && !l[0].open());
        assert_eq!(l[1].origin.as_deref(), Some("tools"));
        assert_eq!(l[1].data_percent, Some(12.5));
        assert!(l[1].is_snapshot() && l[1].open());
        assert_eq!(
            find(&l, "backup", "tools-mount").unwrap().path,
            Path::new("/dev/backup/tools-mount")
        );
    }

    #[test]
    fn empty_report_and_garbage() {
        let empty = "  {\n      \"report\": [\n          {\n              \"lv\": [\n              ]\n          }\n      ]\n  }\n";
        assert!(parse_lvs(empty).unwrap().is_empty());
        assert!(parse_lvs("  Volume group \"x\" not found").is_err());
        let bad = SAMPLE.replace("\"33554432\"", "\"32.00m\"");
        assert!(
            parse_lvs(&bad)
                .unwrap_err()
                .to_string()
                .contains("not a number of bytes")
        );
    }

    #[test]
    fn argv() {
        assert_eq!(
            snapshot_cmd("vd", "tools", "tools-snap", "2G"),
            [
                "lvcreate",
                "--snapshot",
                "--name",
                "tools-snap",
                "--size",
                "2G",
                "vd/tools"
            ]
        );
        assert_eq!(
            snapshot_cmd("vd", "tools", "s", "20%ORIGIN")[4..6],
            ["--extents", "20%ORIGIN"]
        );
        assert_eq!(remove_cmd("vd", "s"), ["lvremove", "-f", "vd/s"]);
    }
}
