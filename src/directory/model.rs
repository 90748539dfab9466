//! The directory's model: the file's schema, namespaces, projects and users with their
//! paths and ids, ownerships and plans.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::limits::SideFile;

/// GitLab's access level for the Owner role.
pub(crate) const OWNER: u32 = 50;

/// The directory file's schema (RULES.md §2.2), read here and written by `fetch
/// directory`: one definition for both, so that what is written is what is read.
pub(crate) mod file {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize, Serialize)]
    pub(crate) struct Directory {
        #[serde(default)]
        pub(crate) namespaces: Vec<Namespace>,
        #[serde(default)]
        pub(crate) projects: Vec<Project>,
        #[serde(default)]
        pub(crate) users: Vec<User>,
        #[serde(default)]
        pub(crate) members: Vec<Member>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    pub(crate) struct Namespace {
        pub(crate) id: u64,
        pub(crate) full_path: String,
        /// `group` or `user`: written for people reading the file, not read back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) kind: Option<String>,
        /// On top-level namespaces; a subgroup has its root's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) plan: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) parent_id: Option<u64>,
    }

    /// A project, as the file holds it and as the API gives it.
    #[derive(Debug, Deserialize, Serialize)]
    pub(crate) struct Project {
        pub(crate) id: u64,
        pub(crate) path_with_namespace: String,
        /// Paths the project had before a rename: they still name it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) former_paths: Vec<String>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    pub(crate) struct User {
        pub(crate) id: u64,
        pub(crate) username: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) name: Option<String>,
        /// The primary email.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) email: Option<String>,
        /// Confirmed secondary emails.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) emails: Vec<String>,
    }

    #[derive(Debug, Clone, Deserialize, Serialize)]
    pub(crate) struct Member {
        pub(crate) namespace_id: u64,
        pub(crate) user_id: u64,
        pub(crate) access_level: u32,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    pub id: u64,
    pub full_path: String,
    pub plan: Option<String>,
    pub parent_id: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub id: u64,
    pub path: String,
    pub former_paths: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: u64,
    pub username: String,
    pub name: Option<String>,
    /// Primary email first, then the secondary ones; lower-cased.
    pub emails: Vec<String>,
}

/// A namespace or project of the directory, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub enum Node {
    Namespace(usize),
    Project(usize),
}

/// The loaded directory with the look-up tables attribution and exclusion need.
#[derive(Debug)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub struct Directory {
    pub(crate) namespaces: Vec<Namespace>,
    pub(crate) projects: Vec<Project>,
    pub(crate) users: Vec<User>,
    pub(super) members: Vec<file::Member>,
    /// Lower-cased full path (current or former) -> node.
    pub(super) by_path: HashMap<String, Node>,
    pub(super) namespace_by_id: HashMap<u64, usize>,
    pub(super) project_by_id: HashMap<u64, usize>,
    pub(super) user_by_id: HashMap<u64, usize>,
    pub(super) user_by_username: HashMap<String, usize>,
}

impl Directory {
    /// Reads, parses and indexes the directory file at `path`, within its size limit
    /// (see [`crate::limits`]).
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let bytes = SideFile::Directory.read(path)?;
        let invalid = |message| Error::Directory {
            path: path.to_owned(),
            message,
        };
        let raw = Self::parse(&bytes).map_err(invalid)?;
        // The text is done with before the tables are built beside what was parsed.
        drop(bytes);
        Self::build(raw).map_err(invalid)
    }

    /// Parses and indexes a directory; the error is a message without file context.
    #[cfg(any(test, fuzzing))]
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn from_slice(bytes: &[u8]) -> std::result::Result<Self, String> {
        Self::build(Self::parse(bytes)?)
    }

    fn parse(bytes: &[u8]) -> std::result::Result<file::Directory, String> {
        // serde would read a bare array as a struct; a directory is always an object.
        if !bytes.trim_ascii_start().starts_with(b"{") {
            return Err("not a valid directory: expected a JSON object".into());
        }
        serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a valid directory (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }

    fn build(raw: file::Directory) -> std::result::Result<Self, String> {
        let namespaces: Vec<Namespace> = raw.namespaces.into_iter().map(Namespace::from).collect();
        let projects: Vec<Project> = raw.projects.into_iter().map(Project::from).collect();
        let users: Vec<User> = raw.users.into_iter().map(User::from).collect();
        let PathIndex {
            by_path,
            namespace_by_id,
            project_by_id,
        } = index_paths(&namespaces, &projects)?;
        let mut user_by_id = HashMap::new();
        let mut user_by_username = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            if user_by_id.insert(u.id, i).is_some() {
                return Err(format!("user id {} appears twice", u.id));
            }
            user_by_username.insert(u.username.to_lowercase(), i);
        }
        for m in &raw.members {
            if !namespace_by_id.contains_key(&m.namespace_id) {
                return Err(format!(
                    "a member names namespace {}, which is not in the file",
                    m.namespace_id
                ));
            }
        }

        Ok(Directory {
            namespaces,
            projects,
            users,
            members: raw.members,
            by_path,
            namespace_by_id,
            project_by_id,
            user_by_id,
            user_by_username,
        })
    }

    /// The node whose current or former path is exactly `lower_path` (already lower-cased).
    pub(crate) fn node_by_path(&self, lower_path: &str) -> Option<Node> {
        self.by_path.get(lower_path).copied()
    }

    pub(crate) fn project_by_id(&self, id: u64) -> Option<Node> {
        self.project_by_id.get(&id).map(|&i| Node::Project(i))
    }

    pub(crate) fn namespace_by_id(&self, id: u64) -> Option<Node> {
        self.namespace_by_id.get(&id).map(|&i| Node::Namespace(i))
    }

    pub(crate) fn user_by_id(&self, id: u64) -> Option<&User> {
        self.user_by_id.get(&id).map(|&i| &self.users[i])
    }

    pub(crate) fn user_by_username(&self, username: &str) -> Option<&User> {
        self.user_by_username
            .get(&username.to_lowercase())
            .map(|&i| &self.users[i])
    }

    /// The node's current full path, as the directory spells it.
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn path_of(&self, node: Node) -> &str {
        match node {
            Node::Namespace(i) => &self.namespaces[i].full_path,
            Node::Project(i) => &self.projects[i].path,
        }
    }

    /// The top-level namespace above `ns` (itself when it has no parent).
    fn root_of(&self, ns: usize) -> usize {
        let mut current = ns;
        // Parents lead to the top: a file with a cycle is refused when it is loaded.
        while let Some(parent) = self.namespaces[current].parent_id {
            current = self.namespace_by_id[&parent];
        }
        // A subgroup listed without parent_id still has its root in its path.
        let path = &self.namespaces[current].full_path;
        if let Some((top, _)) = path.split_once('/')
            && let Some(Node::Namespace(i)) = self.node_by_path(&top.to_lowercase())
        {
            return i;
        }
        current
    }

    /// The plan that applies to `ns`: its root's.
    /// The namespaces `user_id` is an Owner of, each with its root's plan: what
    /// verified the requester, for the internal note.
    pub(crate) fn ownerships(&self, user_id: u64) -> Vec<Ownership> {
        let mut owned: Vec<Ownership> = self
            .members
            .iter()
            .filter(|m| m.user_id == user_id && m.access_level >= OWNER)
            .filter_map(|m| {
                let &ns = self.namespace_by_id.get(&m.namespace_id)?;
                Some(Ownership {
                    namespace: self.namespaces[ns].full_path.clone(),
                    access_level: m.access_level,
                    plan: self.effective_plan(ns).map(str::to_owned),
                })
            })
            .collect();
        owned.sort();
        owned.dedup();
        owned
    }

    pub(crate) fn effective_plan(&self, ns: usize) -> Option<&str> {
        self.namespaces[self.root_of(ns)].plan.as_deref()
    }

    /// Every personal value the directory holds (usernames, names, emails), for the
    /// privacy guard.
    pub(crate) fn personal_values(&self) -> impl Iterator<Item = (&User, PersonalValue<'_>)> {
        self.users.iter().flat_map(|u| {
            std::iter::once(PersonalValue::Username(u.username.as_str()))
                .chain(u.name.as_deref().map(PersonalValue::Name))
                .chain(u.emails.iter().map(|e| PersonalValue::Email(e.as_str())))
                .map(move |v| (u, v))
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum PersonalValue<'a> {
    Username(&'a str),
    Name(&'a str),
    Email(&'a str),
}

/// The plans a customer pays for (RULES.md §2.2): Premium and Ultimate, the legacy
/// Bronze, Silver and Gold, and a Premium customer's trial of Ultimate. Everything
/// else is not paid: `free`, `default`, the trials of a free namespace
/// (`premium_trial`, `ultimate_trial`), the free programs (`opensource`, `edu`,
/// `startup`, ...) and any plan name not listed here.
pub(super) const PAID_PLANS: &[&str] = &[
    "premium",
    "ultimate",
    "bronze",
    "silver",
    "gold",
    "ultimate_trial_paid_customer",
];

/// True for the plans that make a namespace paid (RULES.md §2.2).
pub(crate) fn is_paid(plan: Option<&str>) -> bool {
    plan.is_some_and(|p| {
        let p = p.trim().to_ascii_lowercase();
        PAID_PLANS.contains(&p.as_str())
    })
}

/// An Owner membership, with the plan of the namespace's top-level group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub(crate) struct Ownership {
    pub namespace: String,
    pub access_level: u32,
    pub plan: Option<String>,
}

impl std::fmt::Display for Ownership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (access level {}; plan of its top-level group: {})",
            self.namespace,
            self.access_level,
            self.plan.as_deref().unwrap_or("none")
        )
    }
}

/// `path` equals `root` or lies below it, compared per segment (`acme` holds
/// `acme/app`, never `acme-corp`). Both are lower-cased already.
pub(crate) fn is_within(path: &str, root: &str) -> bool {
    path == root
        || (path.len() > root.len()
            && path.starts_with(root)
            && path.as_bytes()[root.len()] == b'/')
}

/// Paths (current and former, lower-cased) and ids of namespaces and projects, each
/// once: a file that repeats one, or names a parent it lacks, is refused.
fn index_paths(
    namespaces: &[Namespace],
    projects: &[Project],
) -> std::result::Result<PathIndex, String> {
    let mut namespace_by_id = HashMap::new();
    let mut by_path = HashMap::new();
    for (i, n) in namespaces.iter().enumerate() {
        if namespace_by_id.insert(n.id, i).is_some() {
            return Err(format!("namespace id {} appears twice", n.id));
        }
        if n.full_path.is_empty() {
            return Err(format!("namespace {} has an empty full_path", n.id));
        }
        if by_path
            .insert(n.full_path.to_lowercase(), Node::Namespace(i))
            .is_some()
        {
            return Err(format!("namespace {} repeats a path already used", n.id));
        }
    }
    let mut project_by_id = HashMap::new();
    for (i, p) in projects.iter().enumerate() {
        if project_by_id.insert(p.id, i).is_some() {
            return Err(format!("project id {} appears twice", p.id));
        }
        if p.path.is_empty() || !p.path.contains('/') {
            return Err(format!(
                "project {} has no namespace in path_with_namespace",
                p.id
            ));
        }
        if by_path
            .insert(p.path.to_lowercase(), Node::Project(i))
            .is_some()
        {
            return Err(format!("project {} repeats a path already used", p.id));
        }
    }
    // Former paths never shadow a current path: a path reused by a new project
    // belongs to the new project.
    for (i, p) in projects.iter().enumerate() {
        for former in &p.former_paths {
            by_path
                .entry(former.to_lowercase())
                .or_insert(Node::Project(i));
        }
    }
    for n in namespaces {
        if let Some(parent) = n.parent_id
            && !namespace_by_id.contains_key(&parent)
        {
            return Err(format!(
                "namespace {} names parent {parent}, which is not in the file",
                n.id
            ));
        }
    }
    refuse_parent_cycles(namespaces, &namespace_by_id)?;
    Ok(PathIndex {
        by_path,
        namespace_by_id,
        project_by_id,
    })
}

/// Every namespace's parents must lead up to a top-level namespace: a chain of
/// `parent_id` that comes back to where it started (a namespace its own parent, or
/// several each other's) would put a namespace below itself, so the file is refused,
/// naming the ids in the cycle. Each parent is known already.
fn refuse_parent_cycles(
    namespaces: &[Namespace],
    namespace_by_id: &HashMap<u64, usize>,
) -> std::result::Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        Not,
        OnThisWalk,
        LeadsToTheTop,
    }
    let mut seen = vec![Seen::Not; namespaces.len()];
    let mut walk = Vec::new();
    for start in 0..namespaces.len() {
        walk.clear();
        let mut at = start;
        while seen[at] == Seen::Not {
            seen[at] = Seen::OnThisWalk;
            walk.push(at);
            match namespaces[at].parent_id {
                Some(parent) => at = namespace_by_id[&parent],
                None => break,
            }
        }
        if seen[at] == Seen::OnThisWalk && namespaces[at].parent_id.is_some() {
            let from = walk.iter().position(|&i| i == at).unwrap_or_default();
            let ids: Vec<String> = walk[from..]
                .iter()
                .chain([&at])
                .map(|&i| namespaces[i].id.to_string())
                .collect();
            return Err(match ids.len() {
                2 => format!("namespace {} is its own parent", ids[0]),
                _ => format!(
                    "the parents of namespaces form a cycle ({}, each the parent of the one \
                     before it): a namespace cannot lie below itself",
                    ids.join(" -> ")
                ),
            });
        }
        for &i in &walk {
            seen[i] = Seen::LeadsToTheTop;
        }
    }
    Ok(())
}

/// What [`index_paths`] finds.
struct PathIndex {
    by_path: HashMap<String, Node>,
    namespace_by_id: HashMap<u64, usize>,
    project_by_id: HashMap<u64, usize>,
}

/// A path without slashes at its ends, in the same memory when it has none (a
/// directory may hold millions of paths).
fn trimmed(path: String) -> String {
    match path.starts_with('/') || path.ends_with('/') {
        true => path.trim_matches('/').to_owned(),
        false => path,
    }
}

impl From<file::Namespace> for Namespace {
    fn from(n: file::Namespace) -> Self {
        Namespace {
            id: n.id,
            full_path: trimmed(n.full_path),
            plan: n.plan,
            parent_id: n.parent_id,
        }
    }
}

impl From<file::Project> for Project {
    fn from(p: file::Project) -> Self {
        Project {
            id: p.id,
            path: trimmed(p.path_with_namespace),
            former_paths: p.former_paths.into_iter().map(trimmed).collect(),
        }
    }
}

impl From<file::User> for User {
    /// The primary and secondary emails are one list, lower-cased.
    fn from(u: file::User) -> Self {
        let mut emails: Vec<String> = u
            .email
            .into_iter()
            .chain(u.emails)
            .map(|e| e.trim().to_lowercase())
            .collect();
        emails.retain(|e| !e.is_empty());
        emails.dedup();
        User {
            id: u.id,
            username: u.username,
            name: u.name,
            emails,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Namespace(i) => write!(f, "namespace#{i}"),
            Node::Project(i) => write!(f, "project#{i}"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::directory::verify;

    pub(crate) const DIR: &str = r#"{
      "namespaces": [
        {"id": 60, "full_path": "acme", "kind": "group", "plan": "premium"},
        {"id": 61, "full_path": "acme/platform", "kind": "group", "parent_id": 60},
        {"id": 70, "full_path": "acme-corp", "kind": "group", "plan": "ultimate"},
        {"id": 95, "full_path": "hobby", "kind": "group", "plan": "free"},
        {"id": 96, "full_path": "oldco", "kind": "group", "plan": null}
      ],
      "projects": [
        {"id": 7, "path_with_namespace": "acme/platform/api"},
        {"id": 9, "path_with_namespace": "acme/docs", "former_paths": ["acme/handbook"]}
      ],
      "users": [
        {"id": 1, "username": "alice", "email": "Alice@Acme.example", "emails": ["a@alice.example"]},
        {"id": 2, "username": "bob", "email": "bob@acme.example"},
        {"id": 3, "username": "ian", "email": "ian@acme.example"},
        {"id": 4, "username": "frank", "email": "frank@hobby.example"},
        {"id": 5, "username": "t1", "email": "same@dup.example"},
        {"id": 6, "username": "t2", "emails": ["SAME@dup.example"]},
        {"id": 7, "username": "olga", "email": "olga@oldco.example"}
      ],
      "members": [
        {"namespace_id": 60, "user_id": 1, "access_level": 50},
        {"namespace_id": 60, "user_id": 2, "access_level": 30},
        {"namespace_id": 61, "user_id": 3, "access_level": 50},
        {"namespace_id": 95, "user_id": 4, "access_level": 50},
        {"namespace_id": 96, "user_id": 7, "access_level": 50}
      ]
    }"#;

    pub(crate) fn dir() -> Directory {
        Directory::from_slice(DIR.as_bytes()).unwrap()
    }

    #[test]
    fn paid_plans() {
        for (plan, paid) in [
            (None, false),
            (Some("free"), false),
            (Some("default"), false),
            (Some(""), false),
            (Some("premium"), true),
            (Some("Ultimate"), true),
            (Some("gold"), true),
            (Some("ultimate_trial_paid_customer"), true),
            (Some("ultimate_trial"), false),
            (Some("premium_trial"), false),
            (Some("opensource"), false),
            (Some("edu"), false),
            (Some("startup"), false),
            (Some("enterprise_plus_deluxe"), false),
        ] {
            assert_eq!(is_paid(plan), paid, "{plan:?}");
        }
    }

    #[test]
    fn subgroup_owner_inherits_the_root_plan() {
        let d = dir();
        let v = verify(&d, "ian@acme.example", &[]).unwrap();
        assert_eq!(v.scope_paths(&d), ["acme/platform"]);
        let api = d.node_by_path("acme/platform/api").unwrap();
        let docs = d.node_by_path("acme/docs").unwrap();
        assert!(v.contains(&d, api));
        assert!(!v.contains(&d, docs));
    }

    #[test]
    fn containment_is_per_segment() {
        assert!(is_within("acme/app", "acme"));
        assert!(is_within("acme", "acme"));
        assert!(!is_within("acme-corp/app", "acme"));
        assert!(!is_within("acmex", "acme"));
    }

    #[test]
    fn a_namespace_below_itself_is_refused_naming_the_ids() {
        let with = |namespaces: &str| {
            Directory::from_slice(format!(r#"{{"namespaces":[{namespaces}]}}"#).as_bytes())
        };
        let ns = |id: u64, path: &str, parent: Option<u64>| match parent {
            Some(p) => format!(r#"{{"id":{id},"full_path":"{path}","parent_id":{p}}}"#),
            None => format!(r#"{{"id":{id},"full_path":"{path}"}}"#),
        };
        // (what it guards, the namespaces, the message or Ok)
        let rows: Vec<(&str, Vec<String>, Option<&str>)> = vec![
            (
                "its own parent",
                vec![ns(60, "acme", Some(60))],
                Some("namespace 60 is its own parent"),
            ),
            (
                "two each other's",
                vec![ns(60, "acme", Some(61)), ns(61, "acme/a", Some(60))],
                Some(
                    "the parents of namespaces form a cycle (60 -> 61 -> 60, each the parent \
                     of the one before it): a namespace cannot lie below itself",
                ),
            ),
            (
                "a tree leading into a cycle of three",
                vec![
                    ns(1, "top", None),
                    ns(70, "acme/x/y/z", Some(61)),
                    ns(61, "acme/x", Some(62)),
                    ns(62, "acme/x/y", Some(63)),
                    ns(63, "acme", Some(61)),
                ],
                Some(
                    "the parents of namespaces form a cycle (61 -> 62 -> 63 -> 61, each the \
                     parent of the one before it): a namespace cannot lie below itself",
                ),
            ),
            (
                "a deep tree, children listed before their parents",
                (1..200u64)
                    .rev()
                    .map(|i| ns(i, &format!("n{i}"), (i > 1).then(|| i - 1)))
                    .collect(),
                None,
            ),
        ];
        for (why, namespaces, want) in rows {
            match (with(&namespaces.join(",")), want) {
                (Ok(_), None) => {}
                (Err(message), Some(want)) => assert_eq!(message, want, "{why}"),
                (got, _) => panic!("{why}: {:?}", got.map(|_| ())),
            }
        }
    }

    #[test]
    fn rejects_inconsistent_files() {
        assert!(Directory::from_slice(b"[]").is_err());
        assert!(
            Directory::from_slice(
                br#"{"namespaces":[{"id":1,"full_path":"a"},{"id":1,"full_path":"b"}]}"#
            )
            .is_err()
        );
        assert!(
            Directory::from_slice(
                br#"{"members":[{"namespace_id":1,"user_id":1,"access_level":50}]}"#
            )
            .is_err()
        );
    }
}
