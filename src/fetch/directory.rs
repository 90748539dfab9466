//! `logbrief fetch directory`: the directory of RULES.md §2.2 for one group, read from
//! the API: the group and its ancestors (the root carries the plan), its descendant
//! groups and projects, its members with their access levels, and the emails of
//! those members that the token may see.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::client::{Client, OnWait, encode_segment};
use crate::directory::file;
use crate::error::{Error, FetchError, Result};

#[derive(Debug, Deserialize)]
struct ApiNamespace {
    id: u64,
    full_path: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    parent_id: Option<u64>,
    /// Shown only to the group's Owners and to administrators.
    #[serde(default)]
    plan: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiMember {
    id: u64,
    username: String,
    #[serde(default)]
    name: Option<String>,
    access_level: u32,
    /// `active`, `blocked`, `awaiting`…: only an active member has the access.
    #[serde(default)]
    state: Option<String>,
    /// `YYYY-MM-DD`: the access ends that day.
    #[serde(default)]
    expires_at: Option<String>,
    /// Shown to administrators, and to Owners for their enterprise users.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiUser {
    username: String,
    #[serde(default)]
    name: Option<String>,
    /// The primary email: shown to administrators.
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    public_email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiEmail {
    email: String,
    #[serde(default)]
    confirmed_at: Option<String>,
}

/// What a fetch found, in numbers, for the engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// The group's root path, and its plan when the token may see it.
    pub root: String,
    pub plan: Option<String>,
    /// Members left out because they are not active or their access has expired.
    pub inactive: usize,
    pub groups: usize,
    pub projects: usize,
    pub users: usize,
    pub users_with_email: usize,
    pub members: usize,
    /// The directory, as JSON.
    pub json: Vec<u8>,
}

/// The most entries (groups, projects and memberships together) a directory may hold:
/// far beyond any group's, and small enough to hold and write (a few hundred MB).
pub(crate) const MAX_ENTRIES: usize = 500_000;

/// The most ancestors a group may have: GitLab nests groups 20 deep at most.
const MAX_ANCESTORS: usize = 100;

/// A list past what is left of the budget, said as the directory's limit.
fn whole_budget(e: Error) -> Error {
    match e {
        Error::Fetch {
            source: FetchError::TooLarge { route, .. },
            kept,
        } => Error::Fetch {
            source: FetchError::TooLarge {
                route,
                most: MAX_ENTRIES,
            },
            kept,
        },
        other => other,
    }
}

/// The route of a namespace, by id or encoded path.
fn namespace_url(client: &Client, id: &str) -> String {
    client.url(&format!("/namespaces/{id}"))
}

/// Reads the directory of the group at `path`.
pub(crate) fn fetch(
    client: &Client,
    path: &str,
    on_step: &dyn Fn(&str),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    on_step("the group");
    let group: ApiNamespace = client
        .get(&namespace_url(client, &encode_segment(path)), on_wait)?
        .body;
    if group.kind.as_deref() == Some("user") {
        return Err(Error::Usage(format!(
            "{path} is a personal namespace; fetch directory reads groups"
        )));
    }
    let (mut namespaces, root_id) = ancestors(client, &group, on_step, on_wait)?;
    let group_id = group.id;
    namespaces.insert(group.id, out_namespace(group));

    // Every list is held until the file is written, within one budget of entries.
    let mut budget = MAX_ENTRIES.saturating_sub(namespaces.len() + 1);
    on_step("descendant groups");
    let descendants: Vec<ApiNamespace> = client.get_all(
        &client.url(&format!(
            "/groups/{group_id}/descendant_groups?all_available=true&order_by=id&sort=asc&per_page=100"
        )),
        budget,
        on_wait,
    )
    .map_err(whole_budget)?;
    budget -= descendants.len();
    on_step("projects");
    let mut projects: Vec<file::Project> = client
        .get_all(
            &client.url(&format!(
                "/groups/{group_id}/projects?include_subgroups=true&with_shared=false\
             &order_by=id&sort=asc&per_page=100"
            )),
            budget,
            on_wait,
        )
        .map_err(whole_budget)?;
    budget -= projects.len();

    // Everyone with access to each group, inherited and shared access included.
    on_step("members");
    let groups: Vec<u64> = std::iter::once(group_id)
        .chain(descendants.iter().map(|g| g.id))
        .collect();
    let Members {
        members,
        known,
        inactive,
    } = members(client, &groups, budget, on_wait).map_err(whole_budget)?;
    let users = users(client, &known, on_step, on_wait)?;
    for g in descendants {
        namespaces.insert(g.id, out_namespace(g));
    }
    let (root, plan) = match namespaces.get(&root_id) {
        Some(n) => (n.full_path.clone(), n.plan.clone()),
        None => (format!("the root group (id {root_id})"), None),
    };
    projects.sort_by_key(|p| p.id);
    projects.dedup_by_key(|p| p.id);

    let directory = file::Directory {
        namespaces: namespaces.into_values().collect(),
        projects,
        users,
        members,
    };
    Fetched::of(&directory, root, plan, inactive)
}

impl Fetched {
    /// The directory as the file's JSON, its counts, and the root, its plan and the
    /// memberships left out.
    fn of(
        directory: &file::Directory,
        root: String,
        plan: Option<String>,
        inactive: usize,
    ) -> Result<Fetched> {
        let mut json =
            serde_json::to_vec_pretty(directory).map_err(|e| Error::Internal(e.to_string()))?;
        json.push(b'\n');
        Ok(Fetched {
            root,
            plan,
            inactive,
            groups: directory.namespaces.len(),
            projects: directory.projects.len(),
            users: directory.users.len(),
            users_with_email: directory.users.iter().filter(|u| u.email.is_some()).count(),
            members: directory.members.len(),
            json,
        })
    }
}

/// The group's ancestors up to the root, which carries the plan, and the root's id.
/// An ancestor the token may not see ends the climb; its plan is then unknown. A
/// namespace met twice (a loop, or a group its own parent) ends the fetch.
fn ancestors(
    client: &Client,
    group: &ApiNamespace,
    on_step: &dyn Fn(&str),
    on_wait: OnWait<'_>,
) -> Result<(BTreeMap<u64, file::Namespace>, u64)> {
    let mut namespaces = BTreeMap::new();
    let mut root_id = group.id;
    let mut parent = group.parent_id;
    let mut visited = std::collections::HashSet::from([group.id]);
    while let Some(id) = parent {
        if !visited.insert(id) || visited.len() > MAX_ANCESTORS {
            return Err(FetchError::AncestorLoop {
                path: group.full_path.clone(),
                id,
            }
            .into());
        }
        on_step("the group's ancestors");
        root_id = id;
        let url = namespace_url(client, &id.to_string());
        let Some(ancestor) = client.get_if_visible::<ApiNamespace>(&url, on_wait)? else {
            break;
        };
        // The namespace asked for is the one answered: an ancestor that claims another
        // id would let a loop go unseen.
        if ancestor.id != id {
            return Err(FetchError::AncestorLoop {
                path: group.full_path.clone(),
                id: ancestor.id,
            }
            .into());
        }
        parent = ancestor.parent_id;
        namespaces.insert(ancestor.id, out_namespace(ancestor));
    }
    Ok((namespaces, root_id))
}

/// The active members of some groups.
struct Members {
    members: Vec<file::Member>,
    /// Each member once, by user id.
    known: BTreeMap<u64, ApiMember>,
    /// Left out: not active, or their access has expired.
    inactive: usize,
}

/// Everyone with access to each of `groups` (`members/all`: inherited and shared
/// access included), blocked, awaiting and expired memberships left out.
fn members(client: &Client, groups: &[u64], most: usize, on_wait: OnWait<'_>) -> Result<Members> {
    let today = chrono::Utc::now().date_naive();
    let mut found = Members {
        members: Vec::new(),
        known: BTreeMap::new(),
        inactive: 0,
    };
    for &namespace_id in groups {
        let url = client.url(&format!("/groups/{namespace_id}/members/all?per_page=100"));
        let left = most.saturating_sub(found.members.len());
        let list: Vec<ApiMember> = client.get_all(&url, left, on_wait)?;
        for m in list {
            let active = m.state.as_deref().is_none_or(|s| s == "active");
            let expired = m
                .expires_at
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .is_some_and(|d| d <= today);
            if !active || expired {
                found.inactive += 1;
                continue;
            }
            found.members.push(file::Member {
                namespace_id,
                user_id: m.id,
                access_level: m.access_level,
            });
            found.known.entry(m.id).or_insert(m);
        }
    }
    found.members.sort_by_key(|m| (m.namespace_id, m.user_id));
    found.members.dedup_by_key(|m| (m.namespace_id, m.user_id));
    Ok(found)
}

/// Each member as a user of the directory, with the emails the token may see.
fn users(
    client: &Client,
    known: &BTreeMap<u64, ApiMember>,
    on_step: &dyn Fn(&str),
    on_wait: OnWait<'_>,
) -> Result<Vec<file::User>> {
    let mut users = Vec::with_capacity(known.len());
    // Secondary emails are visible to administrators only: after one refusal, the
    // token is not an administrator's and the other users are not asked for them.
    let mut emails_visible = true;
    for (i, (id, member)) in known.iter().enumerate() {
        on_step(&format!("users {}/{}", i + 1, known.len()));
        let user: Option<ApiUser> =
            client.get_if_visible(&client.url(&format!("/users/{id}")), on_wait)?;
        let secondary: Vec<ApiEmail> = if emails_visible {
            let url = client.url(&format!("/users/{id}/emails"));
            let got = client.get_if_visible(&url, on_wait)?;
            emails_visible = got.is_some();
            got.unwrap_or_default()
        } else {
            Vec::new()
        };
        let filled = |e: &Option<String>| e.clone().filter(|e| !e.trim().is_empty());
        let email = user
            .as_ref()
            .and_then(|u| filled(&u.email))
            .or_else(|| filled(&member.email))
            .or_else(|| user.as_ref().and_then(|u| filled(&u.public_email)));
        // An unconfirmed email proves nothing about who owns it.
        let emails = secondary
            .into_iter()
            .filter(|e| e.confirmed_at.is_some())
            .map(|e| e.email)
            .filter(|e| email.as_ref().is_none_or(|p| !p.eq_ignore_ascii_case(e)))
            .collect();
        let (username, name) = match user {
            Some(u) => (u.username, u.name),
            None => (member.username.clone(), member.name.clone()),
        };
        users.push(file::User {
            id: *id,
            username,
            name,
            email,
            emails,
        });
    }

    Ok(users)
}

fn out_namespace(n: ApiNamespace) -> file::Namespace {
    file::Namespace {
        id: n.id,
        full_path: n.full_path,
        kind: Some("group".to_owned()),
        // Only a root's plan counts (RULES.md §2.2); a subgroup's would repeat it.
        plan: if n.parent_id.is_none() { n.plan } else { None },
        parent_id: n.parent_id,
    }
}
