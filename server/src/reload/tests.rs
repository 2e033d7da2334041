use super::*;
use crate::test_support::{rules_dir, v2_rules};

fn v1_text() -> String {
    std::fs::read_to_string(rules_dir().join("../tests/fixtures/rules-v1/default-restore.v1.yaml"))
        .unwrap()
}

/// A temporary rules folder holding the default v1 rules.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("default-restore.v1.yaml"), v1_text()).unwrap();
    dir
}

/// The live set as the tests hold it.
#[derive(Clone)]
struct Live(Arc<(Reloader, arc_swap::ArcSwap<PolicySet>)>);

impl Live {
    fn set(&self) -> Arc<PolicySet> {
        self.0 .1.load_full()
    }
    fn r(&self) -> &Reloader {
        &self.0 .0
    }
}

impl LiveRules for Live {
    fn reloader(&self) -> Option<&Reloader> {
        Some(&self.0 .0)
    }
    fn served_files(&self) -> Vec<(String, String)> {
        self.set()
            .policies()
            .iter()
            .map(|p| (p.file().to_owned(), p.digest().to_owned()))
            .collect()
    }
    fn replace(&self, set: PolicySet) {
        self.0 .1.store(Arc::new(set));
    }
}

fn live_with(dir: &Path, required: Option<&str>) -> Live {
    let set = load_rules(dir).unwrap();
    Live(Arc::new((
        Reloader::new(dir.to_owned(), required.map(str::to_owned)),
        arc_swap::ArcSwap::from_pointee(set),
    )))
}

fn live(dir: &Path) -> Live {
    live_with(dir, None)
}

#[tokio::test]
async fn a_good_folder_is_swapped_in_and_listed() {
    let dir = folder();
    let l = live(dir.path());
    let r = l.r();
    let before = l.set();
    std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1_text())).unwrap();
    let listed = reload(&l, Trigger::Api).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(l.set().policies().len(), 2);
    assert_eq!(
        before.policies().len(),
        1,
        "a request holding the old set keeps it"
    );
    let v2 = listed.iter().find(|p| p.version == "2.0.0").unwrap();
    assert!(v2.in_force, "v2 is in force from 2025-01-01");
    assert!(
        !listed
            .iter()
            .find(|p| p.version == "1.0.0")
            .unwrap()
            .in_force
    );
    assert!(v2.digest.starts_with("sha256:"));
    assert!(v2.file.ends_with("v2.yaml"));
    assert_eq!((r.attempts(), r.failures()), (1, 0));
    assert!(r.last_error().is_none() && r.last_successful());
}

#[tokio::test]
async fn a_bad_file_changes_nothing_and_reports_file_line_column_path() {
    let dir = folder();
    let l = live(dir.path());
    let r = l.r();
    let before = l.set();
    let broken =
        v2_rules(&v1_text()).replace("fact: member.deleted_for", "fact: member.deleted_fro");
    std::fs::write(dir.path().join("v2.yaml"), &broken).unwrap();
    let failure = reload(&l, Trigger::Api).await.unwrap_err();
    assert!(Arc::ptr_eq(&before, &l.set()), "the old set keeps serving");
    let e = &failure.errors[0];
    assert!(e.file.ends_with("v2.yaml"), "{e:?}");
    let expected_line = broken
        .lines()
        .position(|l| l.contains("member.deleted_fro"))
        .unwrap()
        + 1;
    assert_eq!(e.line, expected_line);
    assert!(e.column > 0);
    assert!(e.path.starts_with("blockers["), "{e:?}");
    assert_eq!(e.code, "restore::unknown_fact");
    assert!(e.message.contains("member.deleted_fro"), "{e:?}");
    assert_eq!(failure.trigger, Trigger::Api);
    assert_eq!((r.attempts(), r.failures()), (1, 1));
    assert!(!r.last_successful());
    assert_eq!(r.last_error().unwrap().errors, failure.errors);

    // Fixed: the next reload goes through and clears the error.
    std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1_text())).unwrap();
    reload(&l, Trigger::Sighup).await.unwrap();
    assert_eq!(l.set().policies().len(), 2);
    assert!(r.last_error().is_none());
    assert_eq!((r.attempts(), r.failures()), (2, 1));
}

#[tokio::test]
async fn an_oversized_or_binary_file_is_an_error_naming_it() {
    let dir = folder();
    let l = live(dir.path());
    let big = "#".repeat(MAX_RULE_FILE_BYTES as usize + 10);
    std::fs::write(dir.path().join("big.yaml"), big).unwrap();
    std::fs::write(dir.path().join("bin.yml"), [0xff, 0xfe, 0x00]).unwrap();
    let failure = reload(&l, Trigger::Api).await.unwrap_err();
    let files: Vec<&str> = failure.errors.iter().map(|e| e.file.as_str()).collect();
    assert!(files.iter().any(|f| f.ends_with("big.yaml")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with("bin.yml")), "{files:?}");
    assert!(failure.errors.iter().all(|e| e.code == "restore::io"));
    assert!(failure
        .errors
        .iter()
        .any(|e| e.message.contains("larger than")));
    assert!(failure
        .errors
        .iter()
        .any(|e| e.message.contains("not UTF-8")));
    // The error never carries the file's content.
    assert!(failure.errors.iter().all(|e| !e.message.contains("###")));
}

#[tokio::test]
async fn hidden_folders_are_skipped_like_a_configmap_volume() {
    let dir = folder();
    let hidden = dir.path().join("..2026_11_28_data");
    std::fs::create_dir(&hidden).unwrap();
    std::fs::write(hidden.join("default-restore.v1.yaml"), v1_text()).unwrap();
    std::fs::write(dir.path().join(".#default-restore.v1.yaml"), "not: [rules").unwrap();
    let set = load_rules(dir.path()).unwrap();
    assert_eq!(set.policies().len(), 1);
}

#[tokio::test]
async fn an_empty_folder_and_a_dropped_policy_are_errors() {
    let empty = tempfile::tempdir().unwrap();
    let err = load_rules(empty.path()).unwrap_err();
    assert!(err.diagnostics[0].to_string().contains("no rule files"));

    let dir = folder();
    let l = live_with(dir.path(), Some("default-restore"));
    let renamed = v1_text().replace("policy: default-restore", "policy: other");
    std::fs::write(dir.path().join("default-restore.v1.yaml"), renamed).unwrap();
    let failure = reload(&l, Trigger::Api).await.unwrap_err();
    assert!(
        failure.errors[0].message.contains("`default-restore`"),
        "{failure:?}"
    );
    assert_eq!(l.set().policies()[0].name(), "default-restore");
}

/// Polls `cond` for up to 20 s (a bound, not a speed assertion).
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond()
}

#[tokio::test]
async fn the_watch_reloads_after_a_change_and_ignores_its_own_reads() {
    let dir = folder();
    let l = live(dir.path());
    let r = l.r();
    let _guard = spawn_watch(l.clone(), Duration::from_millis(100)).unwrap();
    std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1_text())).unwrap();
    assert!(
        eventually(|| l.set().policies().len() == 2).await,
        "the watch picked up v2"
    );
    let attempts = r.attempts();
    // The reload read every file; those reads must not trigger more reloads.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(r.attempts(), attempts);

    // A broken edit is reported and the set stays.
    std::fs::write(
        dir.path().join("v2.yaml"),
        "format: restore-rules/v1\npolicy: [",
    )
    .unwrap();
    assert!(eventually(|| r.last_error().is_some()).await);
    assert_eq!(l.set().policies().len(), 2);
    assert_eq!(r.last_error().unwrap().trigger, Trigger::Watch);

    // The bad file goes away: the same rules as served, and the error clears.
    std::fs::remove_file(dir.path().join("v2.yaml")).unwrap();
    std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1_text())).unwrap();
    assert!(
        eventually(|| r.last_error().is_none()).await,
        "the fix cleared the error"
    );
    assert!(r.last_successful());
    assert_eq!(l.set().policies().len(), 2);
}

#[tokio::test]
async fn sighup_reloads() {
    let dir = folder();
    let l = live(dir.path());
    let r = l.r();
    let task = spawn_sighup(l.clone()).unwrap();
    std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1_text())).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(eventually(|| r.attempts() == 1).await, "SIGHUP reloaded");
    assert_eq!(l.set().policies().len(), 2);
    task.abort();
}

#[tokio::test]
async fn a_fifo_named_like_a_rule_file_is_an_error_not_a_hang() {
    let dir = folder();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let path = dir.path().to_owned();
    let loaded = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || load_rules(&path)),
    )
    .await
    .expect("reading the rules folder does not block on a FIFO")
    .unwrap();
    let err = loaded.unwrap_err();
    let text = err.diagnostics[0].to_string();
    assert!(text.contains("pipe.yaml"), "{text}");
    assert!(text.contains("not a regular file"), "{text}");
}
