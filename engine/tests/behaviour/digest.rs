//! Known-answer tests for the rule digest: `sha256:` and the lowercase hex
//! of SHA-256 over the file's exact bytes. The expected values are the
//! published test vectors (FIPS 180-2 "abc", the empty input) and
//! `sha256sum` output, written here literally, so a digest function that
//! agrees only with itself fails.

use restore_engine::load::{digest, load_policy_file};

#[test]
fn digest_of_known_inputs() {
    assert_eq!(
        &*digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        &*digest(b"abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // `printf 'format: restore-rules/v1\n' | sha256sum`
    assert_eq!(
        &*digest(b"format: restore-rules/v1\n"),
        "sha256:828dbe7146d869563af0bbe997a7263173adf1409cd65053eef02386e5a5ca11"
    );
}

/// A decision records the digest of the file's bytes as read, comments and
/// all: a one-byte edit gives another digest.
#[test]
fn a_loaded_policy_carries_the_digest_of_its_exact_bytes() {
    let text = crate::support::default_rules_text();
    let policy = load_policy_file("default.yaml", &text).unwrap();
    assert_eq!(policy.digest, digest(text.as_bytes()));
    let edited = format!("{text}# a comment\n");
    let other = load_policy_file("default.yaml", &edited).unwrap();
    assert_ne!(other.digest, policy.digest);
    assert_eq!(other.digest, digest(edited.as_bytes()));
}
