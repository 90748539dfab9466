//! A requester verified against the directory (RULES.md §3): each failed check its own
//! [`Refusal`], and a suggestion when a path given is near one the requester owns.

use crate::error::Refusal;

use super::{Directory, Node, OWNER, User, is_paid, is_within};

/// A requester who passed every check, and the part of the directory they may hear about.
#[derive(Debug, Clone)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub struct Verified {
    pub(crate) user_id: u64,
    pub(crate) username: String,
    pub(crate) emails: Vec<String>,
    pub(crate) name: Option<String>,
    /// The namespaces or projects whose subtrees are in scope, sorted by path.
    pub(crate) scope: Vec<Node>,
    /// Lower-cased paths of `scope`, for segment-wise containment tests.
    scope_paths: Vec<String>,
}

impl Verified {
    /// Whether `node` lies in one of the scope's subtrees (per path segment).
    pub(crate) fn contains(&self, dir: &Directory, node: Node) -> bool {
        let path = dir.path_of(node).to_lowercase();
        self.scope_paths.iter().any(|root| is_within(&path, root))
    }

    pub(crate) fn scope_paths<'d>(&self, dir: &'d Directory) -> Vec<&'d str> {
        self.scope.iter().map(|&n| dir.path_of(n)).collect()
    }
}

/// Verifies `email` as a requester and works out the scope (RULES.md §3).
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn verify(
    dir: &Directory,
    email: &str,
    narrow: &[String],
) -> std::result::Result<Verified, Refusal> {
    let wanted = email.trim().to_lowercase();
    let matches: Vec<&User> = dir
        .users
        .iter()
        .filter(|u| u.emails.contains(&wanted))
        .collect();
    let user = match matches.as_slice() {
        [] => {
            // No close address is suggested: a look-alike of the requester's address
            // is another person's, and the engineer would be handed it.
            return Err(Refusal::NoUser {
                email: email.to_owned(),
            });
        }
        [one] => *one,
        many => {
            return Err(Refusal::SeveralUsers {
                email: email.to_owned(),
                count: many.len(),
            });
        }
    };

    let mut owned: Vec<usize> = dir
        .members
        .iter()
        .filter(|m| m.user_id == user.id && m.access_level >= OWNER)
        .map(|m| dir.namespace_by_id[&m.namespace_id])
        .collect();
    owned.sort_unstable();
    owned.dedup();
    if owned.is_empty() {
        return Err(Refusal::NotOwner {
            email: email.to_owned(),
        });
    }
    let paid: Vec<usize> = owned
        .iter()
        .copied()
        .filter(|&ns| is_paid(dir.effective_plan(ns)))
        .collect();
    if paid.is_empty() {
        let owned = owned
            .iter()
            .map(|&ns| {
                format!(
                    "{} (plan: {})",
                    dir.namespaces[ns].full_path,
                    dir.effective_plan(ns).unwrap_or("none")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Refusal::NoPaidPlan {
            email: email.to_owned(),
            owned,
        });
    }

    let mut scope = scope_of(dir, &paid, narrow)?;
    scope.sort_by_key(|&n| dir.path_of(n).to_lowercase());
    scope.dedup();
    let scope_paths = scope
        .iter()
        .map(|&n| dir.path_of(n).to_lowercase())
        .collect();
    Ok(Verified {
        user_id: user.id,
        username: user.username.clone(),
        emails: user.emails.clone(),
        name: user.name.clone(),
        scope,
        scope_paths,
    })
}

/// The namespaces in scope: the outermost of the paid namespaces the requester owns,
/// or the `--namespace` paths within them.
fn scope_of(
    dir: &Directory,
    paid: &[usize],
    narrow: &[String],
) -> std::result::Result<Vec<Node>, Refusal> {
    let owned_paths: Vec<String> = paid
        .iter()
        .map(|&ns| dir.namespaces[ns].full_path.to_lowercase())
        .collect();
    let mut scope: Vec<Node> = Vec::new();
    if narrow.is_empty() {
        // A subgroup of another owned namespace adds nothing: keep only the outermost.
        for (p, &ns) in owned_paths.iter().zip(paid) {
            if !owned_paths
                .iter()
                .any(|other| other != p && is_within(p, other))
            {
                scope.push(Node::Namespace(ns));
            }
        }
        return Ok(scope);
    }
    for wanted in narrow {
        let lower = wanted.trim().trim_matches('/').to_lowercase();
        let Some(node) = dir.node_by_path(&lower) else {
            return Err(Refusal::UnknownNamespace {
                path: wanted.clone(),
                suggestion: suggest(dir, &lower, &owned_paths),
            });
        };
        let current = dir.path_of(node).to_lowercase();
        if !owned_paths.iter().any(|root| is_within(&current, root)) {
            return Err(Refusal::OutOfScope {
                path: wanted.clone(),
                scope: paid
                    .iter()
                    .map(|&ns| dir.namespaces[ns].full_path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        scope.push(node);
    }
    Ok(scope)
}

/// The in-scope path closest to a mistyped one, if any is close enough to be a typo.
fn suggest(dir: &Directory, wanted: &str, owned: &[String]) -> Option<String> {
    // A browser address without its scheme (`gitlab.com/acme/web`): the path after
    // the host, when the requester owns it.
    if let Some((host, rest)) = wanted.split_once('/')
        && host.contains('.')
        && dir.node_by_path(rest).is_some()
        && owned.iter().any(|root| is_within(rest, root))
    {
        return Some(format!("{rest}, or the address https://{wanted}"));
    }
    let mut best: Option<(usize, &str)> = None;
    for ns in &dir.namespaces {
        candidates(&ns.full_path, wanted, owned, &mut best);
    }
    for p in &dir.projects {
        candidates(&p.path, wanted, owned, &mut best);
    }
    best.map(|(_, p)| p.to_owned())
}

fn candidates<'a>(
    path: &'a str,
    wanted: &str,
    owned: &[String],
    best: &mut Option<(usize, &'a str)>,
) {
    let lower = path.to_lowercase();
    if !owned.iter().any(|root| is_within(&lower, root)) {
        return;
    }
    let d = strsim::levenshtein(&lower, wanted);
    if d <= 3.max(wanted.len() / 4) && best.is_none_or(|(bd, _)| d < bd) {
        *best = Some((d, path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::model::tests::dir;

    #[test]
    fn verifies_by_primary_or_secondary_email_case_insensitively() {
        let d = dir();
        for email in [
            "alice@acme.example",
            "ALICE@acme.EXAMPLE",
            "a@alice.example",
        ] {
            let v = verify(&d, email, &[]).unwrap();
            assert_eq!(v.username, "alice");
            assert_eq!(v.scope_paths(&d), ["acme"]);
        }
    }

    #[test]
    fn every_refusal_names_its_check() {
        let d = dir();
        let refuse = |email: &str, ns: &[&str]| {
            let ns: Vec<String> = ns.iter().map(|s| s.to_string()).collect();
            verify(&d, email, &ns).unwrap_err()
        };
        assert!(matches!(
            refuse("nobody@x.example", &[]),
            Refusal::NoUser { .. }
        ));
        // A typo one edit away names no other address: it would be another person's.
        let typo = refuse("alice@acme.exmple", &[]).to_string();
        assert!(
            typo.starts_with("no user in the directory has the email alice@acme.exmple;"),
            "{typo}"
        );
        assert!(!typo.contains("alice@acme.example"), "{typo}");
        assert!(matches!(
            refuse("same@dup.example", &[]),
            Refusal::SeveralUsers { count: 2, .. }
        ));
        assert!(matches!(
            refuse("bob@acme.example", &[]),
            Refusal::NotOwner { .. }
        ));
        assert!(matches!(
            refuse("frank@hobby.example", &[]),
            Refusal::NoPaidPlan { .. }
        ));
        assert!(matches!(
            refuse("olga@oldco.example", &[]),
            Refusal::NoPaidPlan { .. }
        ));
        assert_eq!(
            refuse("alice@acme.example", &["acme/platfrom"]),
            Refusal::UnknownNamespace {
                path: "acme/platfrom".into(),
                suggestion: Some("acme/platform".into())
            }
        );
        assert!(matches!(
            refuse("alice@acme.example", &["acme-corp"]),
            Refusal::OutOfScope { .. }
        ));
        // A subgroup owner may not widen the scope to the parent group.
        assert!(matches!(
            refuse("ian@acme.example", &["acme"]),
            Refusal::OutOfScope { .. }
        ));
    }

    #[test]
    fn narrowing_accepts_projects_and_former_paths() {
        let d = dir();
        let v = verify(&d, "alice@acme.example", &["ACME/handbook".into()]).unwrap();
        assert_eq!(v.scope_paths(&d), ["acme/docs"]);
    }
}
