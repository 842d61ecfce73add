//! A dry run shows the plan the real run carries out: for `up`, `down`, a controlled
//! `failover`, `enable-project`, `exports sync` and `backup run`, the `--dry-run --json` plan
//! and the real run's `--json` report list the same steps in the same order, every step the
//! dry run called pending is done and every step it called already so is left alone, and the
//! journal of the real run holds exactly the steps that ran, in the plan's order (steps of
//! one parallel group in any order among themselves).

use serde_json::{Value, json};

use crate::harness::*;

/// `(id, state)` of every step of a plan or report document.
fn steps(doc: &Value) -> Vec<(String, String)> {
    doc["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {doc:#}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Where `dry` (a dry run's plan), `real` (the real run's report) and `journal` (the
/// records the real run wrote) disagree, in words; `None` when they agree.
fn disagreement(dry: &Value, real: &Value, journal: &[Value]) -> Option<String> {
    let (d, r) = (steps(dry), steps(real));
    let ids = |v: &[(String, String)]| v.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>();
    if ids(&d) != ids(&r) {
        return Some(format!(
            "step lists differ:\n  dry run: {:?}\n  real:    {:?}",
            ids(&d),
            ids(&r)
        ));
    }
    for ((id, ds), (_, rs)) in d.iter().zip(&r) {
        let agrees = matches!(
            (ds.as_str(), rs.as_str()),
            ("pending", "done" | "warning") | ("already", "already")
        );
        if !agrees {
            return Some(format!(
                "step {id}: the dry run said {ds}, the real run ended {rs}"
            ));
        }
    }
    // The journal: one record per step that ran, in the plan's order, where the steps of one
    // run of consecutive same-group steps count as one position.
    let plan = dry["steps"].as_array().unwrap();
    let mut rank = Vec::with_capacity(plan.len());
    for (i, s) in plan.iter().enumerate() {
        let joins = i > 0 && !s["group"].is_null() && s["group"] == plan[i - 1]["group"];
        rank.push(if joins { rank[i - 1] } else { i });
    }
    let ran: Vec<&str> = r
        .iter()
        .filter(|(_, s)| s != "already")
        .map(|(i, _)| i.as_str())
        .collect();
    // A backup run closes with its result record (`backup-result`, no command): not a step.
    let journaled: Vec<&str> = journal
        .iter()
        .map(|j| j["step"].as_str().unwrap())
        .filter(|s| *s != "backup-result")
        .collect();
    let (mut a, mut b) = (ran.clone(), journaled.clone());
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        return Some(format!(
            "the journal does not hold the steps that ran:\n  ran:     {ran:?}\n  journal: {journaled:?}"
        ));
    }
    let at = |id: &str| rank[d.iter().position(|(i, _)| i == id).unwrap()];
    if let Some(w) = journaled.windows(2).find(|w| at(w[0]) > at(w[1])) {
        return Some(format!(
            "the journal has {} after {}, against the plan's order: {journaled:?}",
            w[1], w[0]
        ));
    }
    None
}

/// The records of the run that printed `real`: the new records of `before..` on `h` whose
/// command is the report's (a failover's journal also has the nested `up` it ran).
fn records(h: &Host, before: usize, real: &Value) -> Vec<Value> {
    let command = real["command"].as_str().unwrap();
    let new: Vec<Value> = h.journal().into_iter().skip(before).collect();
    let run = new
        .iter()
        .find(|j| j["command"] == command)
        .map(|j| j["run"].clone());
    new.into_iter()
        .filter(|j| Some(&j["run"]) == run.as_ref())
        .collect()
}

/// Dry run, then the real run, on `h`; asserts they agree and that the real run changed
/// something (a plan of nothing but `already` would prove little).
fn agree(h: &Host, args: &[&str], run: impl Fn(&[&str]) -> Run) {
    let mut dry_args = vec!["--dry-run", "--json"];
    dry_args.extend_from_slice(args);
    let dry = run(&dry_args).json();
    assert_eq!(dry["result"], "dry run", "{args:?}: {dry:#}");
    let before = h.journal().len();
    let mut real_args = vec!["--yes", "--json"];
    real_args.extend_from_slice(args);
    let real = run(&real_args).status(0).json();
    let journal = records(h, before, &real);
    if let Some(why) = disagreement(&dry, &real, &journal) {
        panic!("{args:?}: {why}\ndry run: {dry:#}\nreal run: {real:#}");
    }
    assert!(
        steps(&real).iter().any(|(_, s)| s == "done"),
        "{args:?}: nothing ran: {real:#}"
    );
}

#[test]
fn up_and_down_do_what_their_dry_runs_show() {
    privileged!();
    let h = crate::up::up_host();
    agree(&h, &["up"], |a| h.run(a));
    agree(&h, &["down"], |a| h.run(a));
}

#[test]
fn a_controlled_failover_does_what_its_dry_run_shows() {
    privileged!();
    let p = crate::failover::pair();
    p.a.run(&["up", "--yes"]).status(0);
    agree(&p.b, &["failover"], |a| p.b.run(a));
}

#[test]
fn enable_project_and_exports_sync_do_what_their_dry_runs_show() {
    privileged!();
    let h = Host::new();
    h.enable_exports("");
    h.write_group("root:x:0:\nproject-alpha:x:50100:\n");
    h.activate();
    agree(
        &h,
        &[
            "enable-project",
            "alpha",
            "--volume",
            "misc",
            "--clients",
            "192.0.2.50,192.0.2.51,192.0.2.52,192.0.2.53,192.0.2.54,192.0.2.55",
        ],
        |a| h.run(a),
    );
    // One client of six replaced in the project file (within exports.max_shrink_percent): the
    // sync rewrites the exports file, withdraws the old client and exports the new one.
    let file = h.projects_dir().join("alpha.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("192.0.2.55"), "{text}");
    std::fs::write(&file, text.replace("192.0.2.55", "192.0.2.56")).unwrap();
    agree(&h, &["exports", "sync"], |a| h.run(a));
}

#[test]
fn backup_run_does_what_its_dry_run_shows() {
    privileged!();
    for transport in ["rsync", "bdsync"] {
        let bed = crate::backups::Bed::new(transport);
        agree(bed.host(), &["backup", "run", "tools"], |a| bed.run(a));
    }
}

/// The comparison is not vacuous: a step that only the real run has, a step the real run
/// skipped, a reordering, or a journal record of a step that is not in the plan is caught.
#[test]
fn a_step_added_at_run_time_is_caught() {
    let step = |id: &str, state: &str| json!({ "id": id, "state": state, "group": null });
    let grouped = |id: &str, state: &str, g: &str| json!({ "id": id, "state": state, "group": g });
    let doc = |s: Vec<Value>| json!({ "steps": s });
    let rec = |id: &str| json!({ "step": id });
    let dry = doc(vec![
        step("a", "pending"),
        grouped("m:x", "pending", "m"),
        grouped("m:y", "pending", "m"),
        step("b", "already"),
        step("c", "pending"),
    ]);
    let real = doc(vec![
        step("a", "done"),
        grouped("m:x", "done", "m"),
        grouped("m:y", "done", "m"),
        step("b", "already"),
        step("c", "done"),
    ]);
    // Steps of one group may finish in either order.
    let journal = [rec("a"), rec("m:y"), rec("m:x"), rec("c")];
    assert_eq!(disagreement(&dry, &real, &journal), None);

    let mut extra = real.clone();
    extra["steps"]
        .as_array_mut()
        .unwrap()
        .insert(4, step("surprise", "done"));
    let why = disagreement(&dry, &extra, &journal).expect("an extra step is caught");
    assert!(why.contains("step lists differ"), "{why}");

    let mut skipped = real.clone();
    skipped["steps"][4]["state"] = json!("already");
    let why = disagreement(&dry, &skipped, &journal).expect("a skipped step is caught");
    assert!(why.contains("step c"), "{why}");

    let unplanned = [rec("a"), rec("m:x"), rec("m:y"), rec("surprise"), rec("c")];
    let why = disagreement(&dry, &real, &unplanned).expect("an unplanned record is caught");
    assert!(why.contains("journal does not hold"), "{why}");

    let reordered = [rec("m:x"), rec("a"), rec("m:y"), rec("c")];
    let why = disagreement(&dry, &real, &reordered).expect("a reordering is caught");
    assert!(why.contains("against the plan's order"), "{why}");
}
