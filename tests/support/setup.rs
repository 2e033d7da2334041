//! What the service tests serve: a rules folder with two versions, a
//! snapshot whose restorable members were deleted relative to now, a tokens
//! file, and [`Setup`] tying them to a started [`Server`].

use std::path::Path;

use sha2::{Digest, Sha256};

use super::server::Server;

/// A token of the tokens file: (name, secret, scopes, tenants).
pub type TokenSpec<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str]);

/// Writes a `--tokens` file holding the sha256 of each secret.
pub fn write_tokens(path: &Path, tokens: &[TokenSpec]) {
    let mut yaml = String::from("tokens:\n");
    for (name, secret, scopes, tenants) in tokens {
        let digest: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        yaml.push_str(&format!(
            "  - name: {name}\n    sha256: {digest}\n    scopes: [{}]\n    tenants: [{}]\n",
            list(scopes),
            list(tenants)
        ));
    }
    std::fs::write(path, yaml).expect("write tokens file");
}

/// A snapshot file: the test fixture plus tenants whose members were deleted
/// relative to now, so that restores (decided at the server's clock) pass on
/// any date. `live`: pro, 10 seats with 8 used, admin `l_admin`, plain member
/// `l_user`; deleted `l_a`, `l_b`, `l_c` (a day ago), `l_old` (40 days ago,
/// outside the 30-day window). `race`: pro, 50 seats with 49 used, admin
/// `r_admin`, deleted `r_00`…`r_19` (a day ago).
pub fn write_live_snapshot(path: &Path) {
    let now = chrono::Utc::now();
    let ago = |days: i64| {
        (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut yaml = std::fs::read_to_string(super::fixture("directory.yaml")).expect("fixture");
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    let deleted = |id: &str, days: i64| {
        format!(
            "      - {{ id: {id}, deleted_at: {}, reason: removed_by_admin, deletion: completed }}\n",
            ago(days)
        )
    };
    yaml.push_str(
        "  - id: live\n    plan: pro\n    seats: { total: 10, used: 8 }\n    members:\n      - { id: l_admin, roles: [primary_admin] }\n      - { id: l_user, roles: [] }\n    deleted_members:\n",
    );
    for id in ["l_a", "l_b", "l_c"] {
        yaml.push_str(&deleted(id, 1));
    }
    yaml.push_str(&deleted("l_old", 40));
    yaml.push_str(
        "  - id: race\n    plan: pro\n    seats: { total: 50, used: 49 }\n    members:\n      - { id: r_admin, roles: [primary_admin] }\n    deleted_members:\n",
    );
    for i in 0..20 {
        yaml.push_str(&deleted(&format!("r_{i:02}"), 1));
    }
    std::fs::write(path, yaml).expect("write snapshot");
}

/// `restorectl import --from SNAPSHOT --to URL`, asserting success.
pub fn import(snapshot: &Path, url: &str) {
    let (code, _, err) =
        super::restorectl(&["import", "--from", snapshot.to_str().unwrap(), "--to", url]);
    assert_eq!(code, 0, "import into {url}: {err}");
}

/// A rules folder: the default policy 1.0.0, and a 2.0.0 with a 60-day
/// window that takes effect only in 2999 (so 1.0.0 stays in force on any
/// date a test runs; pin 2.0.0 or shadow it to see the difference).
pub fn write_rules(dir: &Path) {
    let v1 = std::fs::read_to_string(
        super::root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"),
    )
    .unwrap();
    let v2 = v1
        .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2999-01-01T00:00:00Z",
        )
        .replace("restore_window: 30d ", "restore_window: 60d ");
    assert!(
        v2.contains("2999-01-01") && v2.contains("restore_window: 60d"),
        "v2 edits applied"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("default-restore.v1.yaml"), v1).unwrap();
    std::fs::write(dir.join("default-restore.v2.yaml"), v2).unwrap();
}

/// A third version, in force since 2025 (so it replaces 1.0.0 now).
pub fn v3_text() -> String {
    std::fs::read_to_string(super::root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
        .unwrap()
        .replace("version: \"1.0.0\"", "version: \"3.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2025-01-01T00:00:00Z",
        )
}

/// Tokens of [`Setup`]: secrets sent as `Bearer` tokens.
pub const ADMIN: &str = "admin-secret-0123456789";
pub const DECIDE: &str = "decide-secret-0123456789";
pub const RESTORE: &str = "restore-secret-0123456789";
/// `decide`, bound to tenant `acme`.
pub const ACME_DECIDE: &str = "acme-decide-secret-0123456789";
/// `restore`, bound to tenant `acme`.
pub const ACME_RESTORE: &str = "acme-restore-secret-0123456789";

/// A scratch folder with the rules of [`write_rules`], the snapshot of
/// [`write_live_snapshot`] imported into SQLite, and a tokens file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub rules: String,
    pub snapshot: std::path::PathBuf,
    /// `sqlite:…` with the snapshot imported.
    pub sqlite: String,
    /// `memory:…` of the snapshot.
    pub memory: String,
    pub tokens: String,
}

impl Setup {
    pub fn new() -> Setup {
        Self::with_sqlite(true)
    }

    /// Without the SQLite import (for tests on memory: or PostgreSQL).
    pub fn without_sqlite() -> Setup {
        Self::with_sqlite(false)
    }

    fn with_sqlite(sqlite: bool) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules");
        write_rules(&rules);
        let snapshot = dir.path().join("directory.yaml");
        write_live_snapshot(&snapshot);
        let db = format!("sqlite:{}", dir.path().join("directory.db").display());
        if sqlite {
            import(&snapshot, &db);
        }
        let tokens = dir.path().join("tokens.yaml");
        write_tokens(
            &tokens,
            &[
                ("ops-admin", ADMIN, &["admin"], &["*"]),
                ("billing", DECIDE, &["decide"], &["*"]),
                ("helpdesk", RESTORE, &["restore"], &["*"]),
                ("acme-portal", ACME_DECIDE, &["decide"], &["acme"]),
                ("acme-helpdesk", ACME_RESTORE, &["restore"], &["acme"]),
            ],
        );
        Setup {
            rules: rules.display().to_string(),
            memory: format!("memory:{}", snapshot.display()),
            snapshot,
            sqlite: db,
            tokens: tokens.display().to_string(),
            dir,
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `--rules … --directory URL --no-watch` plus `extra`.
    pub fn serve(&self, directory: &str, extra: &[&str]) -> Server {
        let mut args = vec![
            "--rules",
            &self.rules,
            "--directory",
            directory,
            "--no-watch",
        ];
        args.extend_from_slice(extra);
        Server::start(&args)
    }

    /// As [`Setup::serve`], with `--tokens`.
    pub fn serve_with_tokens(&self, directory: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--tokens", self.tokens.as_str()];
        args.extend_from_slice(extra);
        self.serve(directory, &args)
    }

    /// `restorectl ARGS… --rules RULES --directory URL`: (code, stdout, stderr).
    pub fn cli(&self, directory: &str, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--rules", &self.rules, "--directory", directory]);
        super::restorectl(&all)
    }
}

/// 32 lowercase hex digits (a 128-bit decision id).
pub fn is_decision_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
