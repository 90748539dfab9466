//! `logbrief fetch directory`: the directory of SPEC §2.2 for one group, read from
//! the API: the group and its ancestors (the root carries the plan), its descendant
//! groups and projects, its members with their access levels, and the emails of
//! those members that the token may see.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::client::{Client, OnWait, encode_segment};
use crate::error::{Error, Result};

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
struct ApiGroup {
    id: u64,
    full_path: String,
    #[serde(default)]
    parent_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ApiProject {
    id: u64,
    path_with_namespace: String,
}

#[derive(Debug, Deserialize)]
struct ApiMember {
    id: u64,
    access_level: u32,
    /// Shown to administrators, and to Owners for their enterprise users.
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiUser {
    id: u64,
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

#[derive(Debug, Serialize)]
struct OutNamespace {
    id: u64,
    full_path: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<u64>,
}

#[derive(Debug, Serialize)]
struct OutProject {
    id: u64,
    path_with_namespace: String,
}

#[derive(Debug, Serialize)]
struct OutUser {
    id: u64,
    username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    emails: Vec<String>,
}

#[derive(Debug, Serialize)]
struct OutMember {
    namespace_id: u64,
    user_id: u64,
    access_level: u32,
}

/// The directory file's content.
#[derive(Debug, Serialize)]
struct OutDirectory {
    namespaces: Vec<OutNamespace>,
    projects: Vec<OutProject>,
    users: Vec<OutUser>,
    members: Vec<OutMember>,
}

/// What a fetch found, in numbers, for the engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The group's root path, and whether its plan was visible.
    pub root: String,
    pub plan_visible: bool,
    pub groups: usize,
    pub projects: usize,
    pub users: usize,
    pub users_with_email: usize,
    pub members: usize,
    /// The directory, as JSON.
    pub json: Vec<u8>,
}

fn namespace(client: &Client, id: &str, on_wait: OnWait<'_>) -> Result<ApiNamespace> {
    Ok(client
        .get(&client.url(&format!("/namespaces/{id}")), on_wait)?
        .items)
}

/// Reads the directory of the group at `path`.
pub fn fetch(
    client: &Client,
    path: &str,
    on_step: &dyn Fn(&str),
    on_wait: OnWait<'_>,
) -> Result<Fetched> {
    on_step("the group");
    let group = namespace(client, &encode_segment(path), on_wait)?;
    if group.kind.as_deref() == Some("user") {
        return Err(Error::Usage(format!(
            "{path} is a personal namespace; fetch directory reads groups"
        )));
    }
    let mut namespaces = BTreeMap::new();
    let mut parent = group.parent_id;
    let root_id;
    {
        let mut root = group.id;
        while let Some(id) = parent {
            on_step("the group's ancestors");
            let ancestor = namespace(client, &id.to_string(), on_wait)?;
            root = ancestor.id;
            parent = ancestor.parent_id;
            namespaces.insert(ancestor.id, out_namespace(ancestor));
        }
        root_id = root;
    }
    let group_id = group.id;
    namespaces.insert(group.id, out_namespace(group));

    on_step("descendant groups");
    let descendants: Vec<ApiGroup> = client.get_all(
        &client.url(&format!(
            "/groups/{group_id}/descendant_groups?all_available=true&order_by=id&sort=asc&per_page=100"
        )),
        on_wait,
    )?;
    on_step("projects");
    let projects: Vec<ApiProject> = client.get_all(
        &client.url(&format!(
            "/groups/{group_id}/projects?include_subgroups=true&with_shared=false\
             &order_by=id&sort=asc&per_page=100"
        )),
        on_wait,
    )?;

    // Everyone with access to the group, inherited access included, under the group;
    // then the direct members of each descendant group under that group.
    on_step("members");
    let mut members = Vec::new();
    let mut member_emails: BTreeMap<u64, String> = BTreeMap::new();
    let mut take = |namespace_id: u64, list: Vec<ApiMember>| {
        for m in list {
            if let Some(email) = m.email.filter(|e| !e.trim().is_empty()) {
                member_emails.entry(m.id).or_insert(email);
            }
            members.push(OutMember {
                namespace_id,
                user_id: m.id,
                access_level: m.access_level,
            });
        }
    };
    take(
        group_id,
        client.get_all(
            &client.url(&format!("/groups/{group_id}/members/all?per_page=100")),
            on_wait,
        )?,
    );
    for g in &descendants {
        let id = g.id;
        take(
            id,
            client.get_all(
                &client.url(&format!("/groups/{id}/members?per_page=100")),
                on_wait,
            )?,
        );
    }
    members.sort_by_key(|m| (m.namespace_id, m.user_id));
    members.dedup_by_key(|m| (m.namespace_id, m.user_id));

    let mut user_ids: Vec<u64> = members.iter().map(|m| m.user_id).collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let mut users = Vec::with_capacity(user_ids.len());
    for (i, id) in user_ids.iter().enumerate() {
        on_step(&format!("users {}/{}", i + 1, user_ids.len()));
        let user: ApiUser = client
            .get(&client.url(&format!("/users/{id}")), on_wait)?
            .items;
        // Secondary emails are visible to administrators only; an unconfirmed one
        // proves nothing about who owns it.
        let secondary: Vec<ApiEmail> = client
            .get_if_visible(&client.url(&format!("/users/{id}/emails")), on_wait)?
            .unwrap_or_default();
        let email = user
            .email
            .or_else(|| member_emails.get(id).cloned())
            .or(user.public_email)
            .filter(|e| !e.trim().is_empty());
        let emails = secondary
            .into_iter()
            .filter(|e| e.confirmed_at.is_some())
            .map(|e| e.email)
            .filter(|e| email.as_ref().is_none_or(|p| !p.eq_ignore_ascii_case(e)))
            .collect();
        users.push(OutUser {
            id: user.id,
            username: user.username,
            name: user.name,
            email,
            emails,
        });
    }

    for g in &descendants {
        namespaces.insert(
            g.id,
            OutNamespace {
                id: g.id,
                full_path: g.full_path.clone(),
                kind: "group",
                plan: None,
                parent_id: g.parent_id,
            },
        );
    }
    let root = namespaces
        .get(&root_id)
        .map(|n| (n.full_path.clone(), n.plan.is_some()));
    let (root, plan_visible) = root.unwrap_or_default();
    let mut projects: Vec<OutProject> = projects
        .into_iter()
        .map(|p| OutProject {
            id: p.id,
            path_with_namespace: p.path_with_namespace,
        })
        .collect();
    projects.sort_by_key(|p| p.id);
    projects.dedup_by_key(|p| p.id);

    let directory = OutDirectory {
        namespaces: namespaces.into_values().collect(),
        projects,
        users,
        members,
    };
    let mut json =
        serde_json::to_vec_pretty(&directory).map_err(|e| Error::Internal(e.to_string()))?;
    json.push(b'\n');
    Ok(Fetched {
        root,
        plan_visible,
        groups: directory.namespaces.len(),
        projects: directory.projects.len(),
        users: directory.users.len(),
        users_with_email: directory.users.iter().filter(|u| u.email.is_some()).count(),
        members: directory.members.len(),
        json,
    })
}

fn out_namespace(n: ApiNamespace) -> OutNamespace {
    OutNamespace {
        id: n.id,
        full_path: n.full_path,
        kind: "group",
        // Only a root's plan counts (SPEC §2.2); a subgroup's would repeat it.
        plan: if n.parent_id.is_none() { n.plan } else { None },
        parent_id: n.parent_id,
    }
}
