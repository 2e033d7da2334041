//! `restorectl eval-all --output jsonl` writes, line by line, exactly what
//! `serde_json` writes for each decision, over enough members to fill
//! several output chunks, hostile ids included.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use restore_directory::Snapshot;
use restore_engine::decision::Decision;

const AT: &str = "2026-11-24T10:00:00.25Z";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The README's example tenant with its deleted members copied `copies`
/// times under new ids, some of them hostile JSON text.
fn large_tenant(copies: usize) -> (Snapshot, Vec<String>) {
    let mut snapshot = Snapshot::load(&root().join("examples/directory.yaml")).unwrap();
    let tenant = &mut snapshot.tenants[0];
    let originals = std::mem::take(&mut tenant.deleted_members);
    for copy in 0..copies {
        for member in &originals {
            let mut member = member.clone();
            member.id = match copy % 4 {
                0 => format!("{}_{copy:05}", member.id),
                1 => format!("{}_{copy:05} \"q\" \\b\\ é😀", member.id),
                2 => format!("{}_{copy:05}\\u0000\\n", member.id),
                _ => format!("{}_{copy:05}</script>", member.id),
            };
            for items in member.resources.values_mut() {
                for item in items {
                    item.id = format!("{}\\\"{copy}", item.id);
                }
            }
            tenant.deleted_members.push(member);
        }
    }
    let mut ids: Vec<String> = tenant
        .deleted_members
        .iter()
        .map(|m| m.id.clone())
        .collect();
    ids.sort();
    tenant.seats.total += 10 * copies as i64;
    (snapshot, ids)
}

#[test]
fn every_line_is_serde_json_of_its_decision_across_chunks() {
    let (snapshot, ids) = large_tenant(300);
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("directory.yaml");
    std::fs::write(&file, serde_yaml::to_string(&snapshot).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .args(["eval-all", "--rules"])
        .arg(root().join("rules"))
        .arg("--directory")
        .arg(format!("memory:{}", file.display()))
        .args(["--tenant", "acme", "--actor", "u_anna", "--at", AT])
        .output()
        .expect("run restorectl");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Several 256 KiB chunks.
    assert!(out.stdout.len() > 1024 * 1024, "{} bytes", out.stdout.len());
    assert_eq!(out.stdout.last(), Some(&b'\n'));
    let text = std::str::from_utf8(&out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), ids.len());
    let mut allowed = 0;
    for (line, id) in lines.iter().zip(&ids) {
        let decision: Decision = serde_json::from_str(line).unwrap();
        assert_eq!(&decision.member, id);
        assert_eq!(*line, serde_json::to_string(&decision).unwrap());
        allowed += usize::from(decision.allowed);
    }
    assert!(allowed > 0 && allowed < ids.len(), "{allowed} allowed");
}
