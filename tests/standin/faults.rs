//! Faults the test asks for in faults.json: fail, or slow down, the Nth matching call.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Deserialize;

use crate::call::Call;
use crate::state::{load, save};

#[derive(Deserialize)]
pub struct Fault {
    #[serde(rename = "match")]
    pub pattern: String,
    #[serde(default)]
    pub nth: u64,
    #[serde(default)]
    pub rc: Option<i32>,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub effect: Effect,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    #[default]
    Skip,
    Apply,
}

/// Counts every matching call per fault (counters keyed by the fault's index in the list) and
/// returns the first fault, in list order, that fires on this call; only that one acts.
pub fn firing_fault(call: &Call) -> Result<Option<Fault>> {
    let faults: Vec<Fault> = load(&call.dir.join("faults.json"))?;
    let counters_path = call.dir.join("fault-counters.json");
    let mut counters: BTreeMap<String, u64> = load(&counters_path)?;
    let mut fired = None;
    let mut matched = false;
    for (i, fault) in faults.into_iter().enumerate() {
        if !call.line.starts_with(&fault.pattern) {
            continue;
        }
        matched = true;
        let n = counters.entry(i.to_string()).or_insert(0);
        *n += 1;
        if fired.is_none() && (fault.nth == 0 || fault.nth == *n) {
            fired = Some(fault);
        }
    }
    if matched {
        save(&counters_path, &counters)?;
    }
    Ok(fired)
}
