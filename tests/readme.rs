//! The README's rule-file reference names every fact, setting and operator
//! the engine knows, and its test command is the one `.ci/run` runs.

mod support;

use restore_engine::vocabulary::{Fact, Setting};

fn readme() -> String {
    std::fs::read_to_string(support::root().join("README.md")).unwrap()
}

#[test]
fn readme_documents_the_whole_vocabulary() {
    let readme = readme();
    for fact in Fact::ALL {
        assert!(
            readme.contains(&format!("`{}`", fact.name())),
            "README misses fact `{}`",
            fact.name()
        );
    }
    for setting in Setting::ALL {
        assert!(
            readme.contains(&format!("`{}`", setting.name())),
            "README misses setting `{}`",
            setting.name()
        );
    }
    for op in restore_engine::model::Op::ALL {
        assert!(
            readme.contains(&format!("`{}`", op.name())),
            "README misses operator `{}`",
            op.name()
        );
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = readme();
    let ci = std::fs::read_to_string(support::root().join(".ci/run")).unwrap();
    assert!(
        readme.contains("cargo test --workspace "),
        "README test command"
    );
    assert!(ci.contains("\ncargo test --workspace"), ".ci/run runs it");
}
