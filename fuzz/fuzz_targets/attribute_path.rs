//! Attribution of arbitrary request paths against a directory with look-alike owners.
//! Whatever the path, a result must be a node whose path the request really names:
//! never `acme` for a path that is not under it once the query is dropped.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logbrief::directory::Directory;
use logbrief::scope;

const DIRECTORY: &str = r#"{
  "namespaces": [
    {"id": 60, "full_path": "acme", "plan": "premium"},
    {"id": 61, "full_path": "acme/platform", "parent_id": 60},
    {"id": 70, "full_path": "acme-corp", "plan": "premium"},
    {"id": 80, "full_path": "acmex", "plan": "premium"}
  ],
  "projects": [
    {"id": 7, "path_with_namespace": "acme/platform/api"},
    {"id": 9, "path_with_namespace": "acme/docs", "former_paths": ["acme/handbook"]},
    {"id": 20, "path_with_namespace": "acme-corp/app"}
  ]
}"#;

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<Directory> = OnceLock::new();
    let dir =
        DIR.get_or_init(|| Directory::from_slice(DIRECTORY.as_bytes()).expect("valid directory"));
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(node) = scope::attribute_path(dir, path) {
        let owner = dir.path_of(node).to_ascii_lowercase();
        let route = path
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // The attributed path's first segment always appears in the routed part, by
        // name or as an id route (`/api/v4/projects/<id>`, `/api/v4/groups/<id>`).
        let top = owner.split('/').next().unwrap_or_default();
        assert!(
            route.contains(top) || route.contains("/api/"),
            "{path:?} -> {owner}"
        );
    }
});
