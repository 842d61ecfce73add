//! `systemctl`: unit states kept in systemd.json, answered as systemd 252 (Debian 12 252.38)
//! does; `is-active` exits 0 if at least ONE unit is active or reloading
//! (src/systemctl/systemctl-is-active.c check_unit_generic(), and systemctl(1): "Returns an
//! exit code 0 if at least one is active").

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::call::{Call, Out};
use crate::state::{load, save};

#[derive(Serialize, Deserialize, Default)]
pub struct SystemdState {
    #[serde(default)]
    pub units: BTreeMap<String, String>,
}

/// (display name, lookup key): `nginx` and `nginx.service` are the same unit; other unit
/// types keep their suffix.
pub fn unit_names(arg: &str) -> (String, String) {
    const TYPES: &str =
        ".socket .target .mount .automount .timer .path .slice .scope .device .swap";
    if let Some(key) = arg.strip_suffix(".service") {
        (arg.to_string(), key.to_string())
    } else if TYPES.split(' ').any(|t| arg.ends_with(t)) {
        (arg.to_string(), arg.to_string())
    } else {
        (format!("{arg}.service"), arg.to_string())
    }
}

pub fn systemctl(call: &Call) -> Result<Out> {
    let path = call.dir.join("systemd.json");
    let mut state: SystemdState = load(&path)?;
    let quiet = call.args.iter().any(|a| a == "--quiet" || a == "-q");
    let words: Vec<&str> = call
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--quiet" && *a != "-q")
        .collect();
    let Some((&verb, units)) = words.split_first() else {
        return Ok(call.unsupported());
    };
    if units.is_empty() || units.iter().any(|u| u.starts_with('-')) {
        return Ok(call.unsupported());
    }
    let mut out = Out::default();
    match verb {
        "is-active" => {
            // check_unit_generic(): exit 0 if at least one unit is active or reloading.
            let mut any_good = false;
            for u in units {
                let (_, key) = unit_names(u);
                let st = state.units.get(&key).map_or("inactive", String::as_str);
                any_good |= st == "active" || st == "reloading";
                if !quiet {
                    out.stdout.push_str(&format!("{st}\n"));
                }
            }
            out.code = if any_good { 0 } else { 3 };
        }
        "start" | "stop" => {
            let (new, missing) = if verb == "start" {
                ("active", "not found")
            } else {
                ("inactive", "not loaded")
            };
            for u in units {
                let (shown, key) = unit_names(u);
                match state.units.get_mut(&key) {
                    Some(st) => *st = new.to_string(),
                    None => {
                        let msg = format!("Failed to {verb} {shown}: Unit {shown} {missing}.");
                        out = out.err(&msg, 5);
                    }
                }
            }
            save(&path, &state)?;
        }
        _ => return Ok(call.unsupported()),
    }
    Ok(out)
}
