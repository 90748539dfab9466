//! The GitLab instance the team works with, and namespaces given as its addresses.

use std::path::Path;

use crate::error::{Error, Result};

use super::TeamConfig;

/// The GitLab instance the team works with, and where that was said: the host a
/// `--namespace` given as an address must be on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    url: String,
    source: String,
}

impl Instance {
    pub(super) fn from_env() -> Option<Instance> {
        let url = std::env::var("GITLAB_URL").ok()?;
        (!url.trim().is_empty()).then(|| Instance {
            url,
            source: "GITLAB_URL".into(),
        })
    }

    pub(super) fn from_team(path: Option<&Path>, team: &TeamConfig) -> Option<Instance> {
        let url = team.gitlab_url.clone().filter(|u| !u.trim().is_empty())?;
        let file = path.map_or("the team configuration".into(), |p| p.display().to_string());
        Some(Instance {
            url,
            source: format!("gitlab_url in {file}"),
        })
    }

    /// The instance's host and port.
    fn authority(&self) -> Option<(String, u16)> {
        let url = self.url.trim();
        match url.split_once("://") {
            Some((scheme, rest)) => host_and_port(scheme, rest),
            None => host_and_port("https", url),
        }
    }
}

/// The host (lower-case, without a final dot) and port of the address after
/// `scheme://`, the port being the scheme's own when none is written.
fn host_and_port(scheme: &str, rest: &str) -> Option<(String, u16)> {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None if scheme.eq_ignore_ascii_case("http") => 80,
        None => 443,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some((host, port))
}

/// A `--namespace` as a path: a group's or project's address copied from the browser
/// (`https://gitlab.example.com/acme/platform/-/issues`, `.../groups/acme`) gives its
/// path (`acme/platform`, `acme`). An address is `http` or `https`, and, when the
/// team's GitLab instance is known (`instance`), on that instance: a group of another
/// instance is not in the directory, whatever its path (a usage error, exit 2).
pub(crate) fn namespace_path(given: &str, instance: Option<&Instance>) -> Result<String> {
    let given = given.trim();
    let path = match given.split_once("://") {
        Some((scheme, rest)) => {
            if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
                return Err(Error::Usage(format!(
                    "--namespace {given}: {scheme}:// is not the address of a group or \
                     project; give the namespace's path (acme/platform), or its address in \
                     the browser (https://…)"
                )));
            }
            check_instance(given, scheme, rest, instance)?;
            rest.split_once('/').map_or("", |(_, path)| path)
        }
        None => given,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.split("/-/").next().unwrap_or_default();
    let path = path.trim_matches('/');
    let path = match given.contains("://") {
        true => path.strip_prefix("groups/").unwrap_or(path),
        false => path,
    };
    Ok(path.trim_end_matches(".git").to_owned())
}

/// `fetch directory --namespace`: a path, or a browser address on the instance `url`
/// that `fetch` reads, as its path; never an address sent to the API as a path.
pub(crate) fn namespace_on(given: &str, url: &str) -> Result<String> {
    let instance = Instance {
        url: url.to_owned(),
        source: format!("the instance fetch reads ({url})"),
    };
    namespace_path(given, Some(&instance))
}

/// An address given as `--namespace` must be on the team's instance, when it is known.
fn check_instance(
    given: &str,
    scheme: &str,
    rest: &str,
    instance: Option<&Instance>,
) -> Result<()> {
    let Some(instance) = instance else {
        return Ok(());
    };
    let theirs = instance.authority().ok_or_else(|| {
        Error::Usage(format!(
            "{} is not the address of a GitLab instance, so --namespace {given} cannot be \
             checked against it: correct it, or give the namespace's path",
            instance.source
        ))
    })?;
    let named = host_and_port(scheme, rest);
    // The same host by http and https is the same instance.
    let same = named.as_ref().is_some_and(|(host, port)| {
        *host == theirs.0
            && (*port == theirs.1 || (matches!(*port, 80 | 443) && matches!(theirs.1, 80 | 443)))
    });
    if same {
        return Ok(());
    }
    let host = named.map_or_else(|| "no host".to_owned(), |(host, _)| host);
    Err(Error::Usage(format!(
        "--namespace {given} is an address on {host}, but the team's GitLab instance is \
         {} ({}): give the namespace's path, or its address on {}",
        theirs.0, instance.source, theirs.0
    )))
}

/// The instance `fetch` reads: `--gitlab-url`, else `GITLAB_URL`, else `gitlab_url` in
/// the team configuration. A bare host name means `https://` that host.
pub(crate) fn gitlab_url(flag: Option<&str>) -> Result<String> {
    let from_env = std::env::var("GITLAB_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let url = match flag.map(str::to_owned).or(from_env) {
        Some(url) => url,
        None => TeamConfig::find(None)?.1.gitlab_url.ok_or_else(|| {
            Error::Usage(
                "name the GitLab instance: --gitlab-url, GITLAB_URL or gitlab_url in \
                 logbrief.toml"
                    .into(),
            )
        })?,
    };
    let url = url.trim();
    Ok(if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_from_browser_addresses() {
        for (given, path) in [
            ("acme/platform", "acme/platform"),
            ("https://gitlab.example.com/acme/platform", "acme/platform"),
            (
                "https://gitlab.example.com/acme/platform/api/-/issues?x=1",
                "acme/platform/api",
            ),
            (
                "https://gitlab.example.com/groups/acme/-/group_members",
                "acme",
            ),
            (
                "http://gitlab.example.com/acme/web/site.git",
                "acme/web/site",
            ),
            (" https://gitlab.example.com/acme/ ", "acme"),
        ] {
            assert_eq!(namespace_path(given, None).unwrap(), path, "{given}");
        }
        // On the team's instance, an address must be on it, by http or https; any
        // other scheme is never a namespace's address.
        let ours = Instance {
            url: "gitlab.example.com".into(),
            source: "gitlab_url in logbrief.toml".into(),
        };
        for given in [
            "https://gitlab.example.com/acme/platform",
            "http://GITLAB.example.com./acme/platform",
            "https://gitlab.example.com:443/acme/platform",
            "acme/platform",
        ] {
            assert_eq!(
                namespace_path(given, Some(&ours)).unwrap(),
                "acme/platform",
                "{given}"
            );
        }
        for given in [
            "https://gitlab.other.example/acme/platform",
            "https://gitlab.example.com.evil.example/acme/platform",
            "https://gitlab.example.com@evil.example/acme/platform",
            "https://gitlab.example.com:8443/acme/platform",
            "ftp://gitlab.example.com/acme/platform",
        ] {
            let err = namespace_path(given, Some(&ours)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{given}");
        }
        assert!(namespace_path("ftp://gitlab.example.com/acme", None).is_err());
    }
}
