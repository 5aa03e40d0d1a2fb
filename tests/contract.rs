//! The frontend's tables (`frontend/src/common/contract.json`) are the Rust types' tables: generated from `natsmicro::model::contract`, compared value by value. `UPDATE_CONTRACT=1 cargo test --test contract` rewrites the file.

use serde_json::Value;

const COMMENT: &str = "Generated from the Rust types (src/model/contract.rs) and checked by `cargo test --test contract`; regenerate with `UPDATE_CONTRACT=1 cargo test --test contract`.";

#[test]
fn the_frontend_reads_the_same_tables_as_the_backend() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend/src/common/contract.json");
    let mut want = natsmicro::model::contract::contract();
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        let mut with_comment = serde_json::Map::new();
        with_comment.insert("$comment".into(), Value::from(COMMENT));
        with_comment.extend(want.as_object().cloned().unwrap_or_default());
        let text = serde_json::to_string_pretty(&Value::Object(with_comment)).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut have: Value = serde_json::from_str(&text).unwrap();
    have.as_object_mut().unwrap().remove("$comment");
    want.as_object_mut().unwrap().remove("$comment");
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(
            have.get(key),
            Some(value),
            "{key} differs between Rust and {}",
            path.display()
        );
    }
    assert_eq!(have, want, "keys differ between Rust and {}", path.display());
}
