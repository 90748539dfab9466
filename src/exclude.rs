//! The known list (SPEC §4): users, email domains and address ranges whose requests
//! the requester wants left out, e.g. their own staff and office.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::directory::Directory;

/// The rule that took a request out. When several match, the first in this order
/// counts: user, then domain, then IP (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    User,
    Domain,
    Ip,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::User, Rule::Domain, Rule::Ip];

    pub fn name(self) -> &'static str {
        match self {
            Rule::User => "user",
            Rule::Domain => "domain",
            Rule::Ip => "ip",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    /// Lower-cased usernames.
    pub users: Vec<String>,
    /// Lower-cased domains, without a leading `@` or dot.
    pub domains: Vec<String>,
    pub networks: Vec<IpNetwork>,
    user_set: HashSet<String>,
}

impl Exclusions {
    pub fn new(users: Vec<String>, domains: Vec<String>, networks: Vec<IpNetwork>) -> Self {
        let users: Vec<String> = users
            .iter()
            .map(|u| u.trim().trim_start_matches('@').to_lowercase())
            .collect();
        let domains = domains
            .iter()
            .map(|d| d.trim().trim_start_matches(['@', '.']).to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        let user_set = users.iter().cloned().collect();
        Exclusions {
            users,
            domains,
            networks,
            user_set,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.domains.is_empty() && self.networks.is_empty()
    }

    /// The rule that excludes a request by this user from this address, if any.
    pub fn rule_for(
        &self,
        dir: &Directory,
        user_id: Option<u64>,
        username: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Option<Rule> {
        let user = user_id
            .and_then(|id| dir.user_by_id(id))
            .or_else(|| username.and_then(|name| dir.user_by_username(name)));
        if !self.user_set.is_empty() {
            let named = username.is_some_and(|n| self.user_set.contains(&n.to_lowercase()))
                || user.is_some_and(|u| self.user_set.contains(&u.username.to_lowercase()));
            if named {
                return Some(Rule::User);
            }
        }
        if let Some(user) = user
            && user.emails.iter().any(|e| self.domain_matches(e))
        {
            return Some(Rule::Domain);
        }
        if let Some(ip) = ip
            && self.networks.iter().any(|n| n.contains(ip))
        {
            return Some(Rule::Ip);
        }
        None
    }

    /// The email's domain is an excluded domain or a subdomain of one.
    pub fn domain_matches(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        let domain = domain.to_lowercase();
        self.domains.iter().any(|d| {
            domain == *d
                || (domain.len() > d.len()
                    && domain.ends_with(d.as_str())
                    && domain.as_bytes()[domain.len() - d.len() - 1] == b'.')
        })
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
}
