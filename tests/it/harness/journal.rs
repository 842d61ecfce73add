//! The journal a host's runs wrote, and checks of step order against a plan.

use serde_json::Value;

use super::*;

impl Host {
    pub fn journal(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.dir.path().join("journal.jsonl")) {
            Ok(t) => t
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The parallel group and lane of an `up`/`down` step id (see `Step::parallel`).
fn group_lane(id: &str) -> Option<(&'static str, &str)> {
    let (kind, rest) = id.split_once(':')?;
    let group = match kind {
        "drbd-up" | "promote" => "drbd",
        "mkdir" | "mount" => "mount",
        "unexport" => "unexport",
        "kill" | "umount" => "umount",
        "demote" => "demote",
        _ => return None,
    };
    Some((group, rest))
}

/// Journal order against plan order: steps of one parallel group may finish in any order, but
/// a lane keeps its order and nothing crosses a group's boundary.
#[track_caller]
pub fn assert_order(actual: &[String], expected: &[&str]) {
    let mut a: Vec<&str> = actual.iter().map(String::as_str).collect();
    let mut e = expected.to_vec();
    a.sort();
    e.sort();
    assert_eq!(a, e, "the same steps ran");
    let pos = |id: &str| actual.iter().position(|x| x == id).unwrap();
    for (i, x) in expected.iter().enumerate() {
        for y in &expected[i + 1..] {
            let (gx, gy) = (group_lane(x), group_lane(y));
            let parallel =
                matches!((gx, gy), (Some((g1, l1)), Some((g2, l2))) if g1 == g2 && l1 != l2);
            assert!(
                parallel || pos(x) < pos(y),
                "{x} must come before {y}: {actual:?}"
            );
        }
    }
}
