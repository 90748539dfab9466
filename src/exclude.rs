//! The known list (RULES.md §4): users, email domains and address ranges whose requests
//! the requester wants left out, e.g. their own staff and office.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ipnetwork::IpNetwork;

use crate::directory::Directory;

/// The rule that took a request out. When several match, the first in this order
/// counts: user, then domain, then IP (RULES.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rule {
    User,
    Domain,
    Ip,
}

impl Rule {
    pub(crate) const ALL: [Rule; 3] = [Rule::User, Rule::Domain, Rule::Ip];
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Exclusions {
    /// Lower-cased usernames.
    pub users: Vec<String>,
    /// Lower-cased domains, without a leading `@` or dot.
    pub domains: Vec<String>,
    pub networks: Vec<IpNetwork>,
    user_set: HashSet<String>,
    /// Which entries matched a record in scope, whichever rule then took it out: an
    /// entry that matched nothing is likely a typo, and the engineer is told.
    matched: Arc<Matched>,
}

#[derive(Debug, Default)]
struct Matched {
    users: Vec<AtomicBool>,
    domains: Vec<AtomicBool>,
    networks: Vec<AtomicBool>,
}

fn flags(n: usize) -> Vec<AtomicBool> {
    (0..n).map(|_| AtomicBool::new(false)).collect()
}

impl Exclusions {
    pub(crate) fn new(users: Vec<String>, domains: Vec<String>, networks: Vec<IpNetwork>) -> Self {
        let users: Vec<String> = users
            .iter()
            .map(|u| u.trim().trim_start_matches('@').to_lowercase())
            .collect();
        let domains: Vec<String> = domains
            .iter()
            .map(|d| d.trim().trim_start_matches(['@', '.']).to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        let user_set = users.iter().cloned().collect();
        let matched = Arc::new(Matched {
            users: flags(users.len()),
            domains: flags(domains.len()),
            networks: flags(networks.len()),
        });
        Exclusions {
            users,
            domains,
            networks,
            user_set,
            matched,
        }
    }

    /// The entries that matched no record in scope: the number of accounts, the
    /// domains and the ranges.
    pub(crate) fn matched_nothing(&self) -> (usize, Vec<String>, Vec<String>) {
        let missed = |flags: &[AtomicBool], i: usize| !flags[i].load(Ordering::Relaxed);
        let m = &self.matched;
        let users = (0..self.users.len())
            .filter(|&i| missed(&m.users, i))
            .count();
        let domains = (0..self.domains.len())
            .filter(|&i| missed(&m.domains, i))
            .map(|i| self.domains[i].clone())
            .collect();
        let networks = (0..self.networks.len())
            .filter(|&i| missed(&m.networks, i))
            .map(|i| self.networks[i].to_string())
            .collect();
        (users, domains, networks)
    }

    /// The entries that matched no record in scope, as the flags that name them.
    pub(crate) fn unmatched(&self) -> Vec<String> {
        let missed = |flags: &[AtomicBool], i: usize| !flags[i].load(Ordering::Relaxed);
        let m = &self.matched;
        let users = (0..self.users.len())
            .filter(|&i| missed(&m.users, i))
            .map(|i| format!("--exclude-user {}", self.users[i]));
        let domains = (0..self.domains.len())
            .filter(|&i| missed(&m.domains, i))
            .map(|i| format!("--exclude-domain {}", self.domains[i]));
        let networks = (0..self.networks.len())
            .filter(|&i| missed(&m.networks, i))
            .map(|i| format!("--exclude-ip {}", self.networks[i]));
        users.chain(domains).chain(networks).collect()
    }

    /// The rule that excludes a request by this user from this address, if any.
    pub(crate) fn rule_for(
        &self,
        dir: &Directory,
        user_id: Option<u64>,
        username: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Option<Rule> {
        let user = user_id
            .and_then(|id| dir.user_by_id(id))
            .or_else(|| username.and_then(|name| dir.user_by_username(name)));
        // Every rule is tried, so that each entry that matches is known to match.
        let mut named = false;
        if !self.user_set.is_empty() {
            let names = username
                .map(str::to_lowercase)
                .into_iter()
                .chain(user.map(|u| u.username.to_lowercase()));
            for name in names {
                if let Some(i) = self.users.iter().position(|u| *u == name) {
                    self.matched.users[i].store(true, Ordering::Relaxed);
                    named = true;
                }
            }
        }
        // Not `any`: every matching domain is marked, not only the first.
        let mut by_domain = false;
        for e in user.iter().flat_map(|u| &u.emails) {
            by_domain |= self.domain_matches(e);
        }
        let mut by_ip = false;
        if let Some(ip) = ip {
            for (i, n) in self.networks.iter().enumerate() {
                if n.contains(ip) {
                    self.matched.networks[i].store(true, Ordering::Relaxed);
                    by_ip = true;
                }
            }
        }
        match (named, by_domain, by_ip) {
            (true, ..) => Some(Rule::User),
            (_, true, _) => Some(Rule::Domain),
            (.., true) => Some(Rule::Ip),
            _ => None,
        }
    }

    /// The email's domain is an excluded domain or a subdomain of one.
    pub(crate) fn domain_matches(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_lowercase();
        let mut any = false;
        for (i, d) in self.domains.iter().enumerate() {
            let matches = domain == *d
                || (domain.len() > d.len()
                    && domain.ends_with(d.as_str())
                    && domain.as_bytes()[domain.len() - d.len() - 1] == b'.');
            if matches {
                self.matched.domains[i].store(true, Ordering::Relaxed);
                any = true;
            }
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        Directory::from_slice(
            br#"{"users":[
              {"id":1,"username":"alice","email":"alice@acme.example"},
              {"id":2,"username":"carol","email":"carol@contractor.example","emails":["c@eu.acme.example"]},
              {"id":3,"username":"erin","email":"erin@notacme.example"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn rules_and_their_order() {
        let d = dir();
        let ex = Exclusions::new(
            vec!["Alice".into()],
            vec!["@ACME.example".into()],
            vec![
                "203.0.113.0/24".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
        );
        let office: IpAddr = "203.0.113.9".parse().unwrap();
        let elsewhere: IpAddr = "198.51.100.1".parse().unwrap();
        // alice matches all three rules: user comes first.
        assert_eq!(
            ex.rule_for(&d, Some(1), None, Some(office)),
            Some(Rule::User)
        );
        // carol's secondary email is in a subdomain.
        assert_eq!(
            ex.rule_for(&d, Some(2), None, Some(office)),
            Some(Rule::Domain)
        );
        assert_eq!(
            ex.rule_for(&d, None, Some("CAROL"), None),
            Some(Rule::Domain)
        );
        // notacme.example is not a subdomain of acme.example.
        assert_eq!(ex.rule_for(&d, Some(3), None, Some(elsewhere)), None);
        assert_eq!(ex.rule_for(&d, Some(3), None, Some(office)), Some(Rule::Ip));
        assert_eq!(
            ex.rule_for(&d, None, None, Some("2001:db8::5".parse().unwrap())),
            Some(Rule::Ip)
        );
        assert_eq!(ex.rule_for(&d, None, None, None), None);
        // A username the directory does not know can still be named.
        assert_eq!(ex.rule_for(&d, None, Some("alice"), None), Some(Rule::User));
    }

    #[test]
    fn entries_that_matched_nothing_are_named() {
        let d = dir();
        let ex = Exclusions::new(
            vec!["nosuchuser".into(), "alice".into()],
            vec!["acme.exmaple".into(), "acme.example".into()],
            vec![
                "203.0.113.0/24".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
        );
        assert_eq!(ex.unmatched().len(), 6);
        // alice is taken out by the user rule; her domain and address match as well.
        ex.rule_for(&d, Some(1), None, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(
            ex.unmatched(),
            [
                "--exclude-user nosuchuser",
                "--exclude-domain acme.exmaple",
                "--exclude-ip 10.0.0.0/8"
            ]
        );
        // A clone shares what was matched (the reading threads hold clones).
        let copy = ex.clone();
        copy.domain_matches("x@acme.exmaple");
        assert_eq!(ex.unmatched().len(), 2);
    }
}
