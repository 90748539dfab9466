//! The closed vocabulary of audit actions (RULES.md §8): the only words an audit summary
//! may use to say what happened.
//!
//! An audit event describes its action in text that GitLab assembles from live values:
//! `Added member zed.zulu@elsewhere.example as Developer`, a custom message naming a
//! token or a URL with its password, an event name nobody has seen before. The privacy
//! guard can only recognise values it was told about or that have a telltale shape, so
//! a name that occurs once, in one sentence, would pass it. Instead of checking that
//! text, we never print it: each action is looked up in [`ACTIONS`], and what the table
//! knows is named by the table's own label. Everything else is counted under [`OTHER`].
//! The variable parts of a sentence are matched and dropped, never returned.
//!
//! docs/AUDIT_ACTIONS.md lists the table and says how to extend it; a test keeps the
//! two in step.

use std::sync::LazyLock;

/// What an audit event says about its action, as read from its shape. All optional.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ActionText<'a> {
    /// `event_type` / `event_name` (streaming and newer API events), e.g. "member_created".
    pub event_name: Option<&'a str>,
    /// `details.custom_message` when it is a string (API events), e.g. "Project archived".
    pub custom_message: Option<&'a str>,
    /// legacy `details.add` / `details.remove` / `details.change` with its value: ("add", "user_access"), ("change", "visibility").
    pub change: Option<(&'a str, &'a str)>,
    /// The UI / CSV export's `Action` sentence, e.g. "Changed visibility from Private to Public".
    pub sentence: Option<&'a str>,
}

/// The label under which unknown actions are counted.
pub(crate) const OTHER: &str = "Other changes";

/// A label by its place in [`ACTIONS`] ([`OTHER`] after the last): two bytes where
/// the label takes sixteen, for records kept by the million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Code(u16);

/// The code of a label of the table, or of [`OTHER`] (and of any other text).
pub(crate) fn code(label: &str) -> Code {
    let at = ACTIONS
        .iter()
        .position(|a| a.label == label)
        .unwrap_or(ACTIONS.len());
    Code(u16::try_from(at).expect("fewer than 65,536 actions"))
}

impl Code {
    /// The label the code stands for.
    pub(crate) fn label(self) -> &'static str {
        ACTIONS.get(usize::from(self.0)).map_or(OTHER, |a| a.label)
    }
}

/// Actions that change who can reach what: members and their access, visibility,
/// tokens, keys, and the rules for signing in. A reply names them before routine
/// actions (RULES.md §7).
const ACCESS_CHANGES: &[&str] = &[
    "Added a member",
    "Changed a member's access level",
    "Removed a member",
    "Changed a member's state",
    "Approved a request for instance access",
    "Invited a group to a project",
    "Changed a group's access to a project",
    "Removed a group from a project",
    "Invited a group to a group",
    "Changed a group's access to a group",
    "Removed a group from a group",
    "Transferred a project",
    "Changed visibility",
    "Changed a feature's access level",
    "Changed two-factor authentication rules",
    "Changed the allowed address ranges",
    "Changed the allowed email domains",
    "Added a deploy key",
    "Removed a deploy key",
    "Created a deploy token",
    "Revoked a deploy token",
    "Deleted a deploy token",
    "Created a project access token",
    "Revoked a project access token",
    "Created a group access token",
    "Revoked a group access token",
    "Created a personal access token",
    "Revoked a personal access token",
    "Changed access token settings",
    "Changed CI job token access",
    "Created a cluster agent token",
    "Revoked a cluster agent token",
    "Disabled two-factor authentication",
    "Changed an email address",
    "Added an SSH key",
    "Removed an SSH key",
    "Removed a GPG key",
    "Changed a user's administrator or auditor status",
    "Authorized an OAuth application",
    "Changed SAML single sign-on settings",
    "Changed SAML group links",
    "Changed a SAML identity",
];

/// Whether an action changes access, visibility, members, tokens or keys.
pub(crate) fn changes_access(label: &str) -> bool {
    ACCESS_CHANGES.contains(&label)
}

/// The readable label of an action, or `None` when the table does not know it (counted as "other changes").
///
/// A known event name is the most precise description GitLab gives, so it wins. Names
/// the table does not know, among them the catch-all `audit_operation` GitLab streams
/// custom-message events under, say nothing, and the message, the legacy change and
/// the export's sentence are tried in that order.
pub(crate) fn label(text: &ActionText<'_>) -> Option<&'static str> {
    text.event_name
        .and_then(by_event_name)
        .or_else(|| text.custom_message.and_then(by_sentence))
        .or_else(|| text.change.and_then(|(key, value)| by_change(key, value)))
        .or_else(|| text.sentence.and_then(by_sentence))
}

/// One meaning: its label and every way GitLab writes it.
///
/// Sentences and legacy values are patterns: fixed words, with `…` where GitLab puts a
/// live value (a name, a role, an address). Matching ignores case and runs of
/// whitespace; the first fixed part must start the text, the last must end it when the
/// pattern ends with one, and each `…` stands for at least one character.
#[derive(Debug)]
pub(crate) struct Action {
    pub label: &'static str,
    /// GitLab's event type names (`config/audit_events/types`), snake_case.
    pub events: &'static [&'static str],
    /// Legacy `details` keys with their value pattern: `add`, `remove`, `change`, and
    /// the sign-in keys `with` and `failed_login`. Underscores in a value read as spaces.
    pub changes: &'static [(&'static str, &'static str)],
    /// Custom messages and the UI's action sentences.
    pub sentences: &'static [&'static str],
}

const fn action(
    label: &'static str,
    events: &'static [&'static str],
    changes: &'static [(&'static str, &'static str)],
    sentences: &'static [&'static str],
) -> Action {
    Action {
        label,
        events,
        changes,
        sentences,
    }
}

/// The table. Sentences are tried in this order, so a specific pattern goes before a
/// looser one that would also match it (the tests check that no row hides another).
pub(crate) const ACTIONS: &[Action] = &[
    // Members and access.
    action(
        "Added a member",
        &["member_created"],
        &[("add", "user access")],
        &[
            "Added member … as …",
            "Added user access as …",
            "Added user access",
            "Membership created",
        ],
    ),
    action(
        "Changed a member's access level",
        &["member_updated"],
        &[("change", "access level")],
        &[
            "Changed access level from … to …",
            "Changed access level to …",
            "Membership updated",
        ],
    ),
    action(
        "Removed a member",
        &["member_destroyed"],
        &[("remove", "user access")],
        &[
            "Removed user access",
            "Removed member …",
            "Membership destroyed",
        ],
    ),
    action(
        "Changed a member's state",
        &["change_membership_state"],
        &[],
        &[],
    ),
    action(
        "Approved a request for instance access",
        &["user_approved"],
        &[],
        &["Instance access request approved"],
    ),
    action(
        "Rejected a request for instance access",
        &["user_rejected"],
        &[],
        &["Instance access request rejected"],
    ),
    action(
        "Invited a group to a project",
        &["project_group_link_created"],
        &[("add", "project access")],
        &["Added project group link"],
    ),
    action(
        "Changed a group's access to a project",
        &["project_group_link_updated"],
        &[],
        &[],
    ),
    action(
        "Removed a group from a project",
        &["project_group_link_deleted"],
        &[],
        &["Removed project group link"],
    ),
    action(
        "Invited a group to a group",
        &["group_share_with_group_link_created"],
        &[],
        &[],
    ),
    action(
        "Changed a group's access to a group",
        &["group_share_with_group_link_updated"],
        &[],
        &[],
    ),
    action(
        "Removed a group from a group",
        &["group_share_with_group_link_removed"],
        &[],
        &[],
    ),
    action("Created a custom role", &["member_role_created"], &[], &[]),
    action("Changed a custom role", &["member_role_updated"], &[], &[]),
    action("Deleted a custom role", &["member_role_deleted"], &[], &[]),
    // Groups and projects.
    action(
        "Created a project",
        &["project_created"],
        &[("add", "project")],
        &["Added project"],
    ),
    action(
        "Created a group",
        &["group_created"],
        &[("add", "group")],
        &["Added group"],
    ),
    action(
        "Deleted a project",
        &["project_destroyed"],
        &[("remove", "project")],
        &["Removed project"],
    ),
    action(
        "Deleted a group",
        &["group_destroyed"],
        &[("remove", "group")],
        &["Removed group"],
    ),
    action(
        "Marked a project for deletion",
        &[
            "project_deletion_marked",
            "inactive_project_scheduled_for_deletion",
        ],
        &[],
        &["Project marked for deletion"],
    ),
    action(
        "Marked a group for deletion",
        &["group_deletion_marked"],
        &[],
        &["Group marked for deletion"],
    ),
    action(
        "Restored a project",
        &["project_restored"],
        &[],
        &["Project restored"],
    ),
    action(
        "Restored a group",
        &["group_restored"],
        &[],
        &["Group restored"],
    ),
    action(
        "Archived a project",
        &["project_archived"],
        &[],
        &["Project archived"],
    ),
    action(
        "Unarchived a project",
        &["project_unarchived"],
        &[],
        &["Project unarchived"],
    ),
    action(
        "Transferred a project",
        &["project_namespace_updated"],
        &[("change", "namespace")],
        &["Changed namespace from … to …"],
    ),
    action(
        "Renamed a project or group",
        &["project_name_updated", "group_name_updated"],
        &[("change", "name")],
        &["Changed name from … to …"],
    ),
    action(
        "Changed a project or group path",
        &["project_path_updated", "group_path_updated"],
        &[("change", "path")],
        &["Changed path from … to …"],
    ),
    action(
        "Changed visibility",
        &[
            "project_visibility_level_updated",
            "group_visibility_level_updated",
        ],
        &[("change", "visibility"), ("change", "visibility level")],
        &[
            "Changed visibility from … to …",
            "Changed visibility level from … to …",
        ],
    ),
    action("Imported a project", &["project_imported"], &[], &[]),
    action(
        "Exported a project or group",
        &["project_export_created", "group_export_created"],
        &[],
        &[],
    ),
    action(
        "Downloaded a project export",
        &["project_export_file_download_started"],
        &[],
        &[],
    ),
    action("Forked a project", &["project_fork_operation"], &[], &[]),
    action(
        "Removed a fork relationship",
        &["project_fork_relationship_removed"],
        &[],
        &[],
    ),
    // Settings.
    action(
        "Changed the default branch",
        &[
            "project_default_branch_updated",
            "default_branch_name_updated",
        ],
        &[("change", "default branch")],
        &["Changed default branch from … to …"],
    ),
    action(
        "Changed default branch protection",
        &[],
        &[("change", "default branch protection")],
        &["Changed default branch protection from … to …"],
    ),
    action(
        "Changed the merge method",
        &["project_merge_method_updated"],
        &[("change", "merge method")],
        &["Changed merge method from … to …"],
    ),
    action(
        "Changed merge request approval settings",
        &[
            "allow_author_approval_updated",
            "allow_committer_approval_updated",
            "allow_overrides_to_approver_list_per_merge_request_updated",
            "require_password_to_approve_updated",
            "require_reauthentication_to_approve_updated",
            "retain_approvals_on_push_updated",
            "group_merge_request_approval_setting_created",
            "project_reset_approvals_on_push_updated",
            "project_merge_requests_author_approval_updated",
            "project_merge_requests_disable_committers_approval_updated",
            "project_disable_overriding_approvers_per_merge_request_updated",
            "project_require_password_to_approve_updated",
            "selective_code_owner_removals_updated",
        ],
        &[("change", "prevent merge request approval from …")],
        &["Changed prevent merge request approval from … from … to …"],
    ),
    action(
        "Changed merge request approval rules",
        &[
            "approval_rule_created",
            "update_approval_rules",
            "approval_rule_deleted",
        ],
        &[],
        &[],
    ),
    action(
        "Changed merge request settings",
        &[
            "project_merge_requests_template_updated",
            "project_remove_source_branch_after_merge_updated",
            "project_only_allow_merge_if_all_discussions_are_resolved_updated",
            "project_only_allow_merge_if_pipeline_succeeds_updated",
            "allow_merge_on_skipped_pipeline_updated",
            "project_printing_merge_request_link_enabled_updated",
            "project_resolve_outdated_diff_discussions_updated",
            "project_suggestion_commit_message_updated",
            "merge_commit_template_updated",
            "squash_commit_template_updated",
            "squash_option_updated",
            "project_cicd_merge_pipelines_enabled_updated",
            "project_cicd_merge_trains_enabled_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed a feature's access level",
        &[
            "project_feature_analytics_access_level_updated",
            "project_feature_builds_access_level_updated",
            "project_feature_container_registry_access_level_updated",
            "project_feature_environments_access_level_updated",
            "project_feature_feature_flags_access_level_updated",
            "project_feature_forking_access_level_updated",
            "project_feature_infrastructure_access_level_updated",
            "project_feature_issues_access_level_updated",
            "project_feature_merge_requests_access_level_updated",
            "project_feature_monitor_access_level_updated",
            "project_feature_package_registry_access_level_updated",
            "project_feature_pages_access_level_updated",
            "project_feature_releases_access_level_updated",
            "project_feature_repository_access_level_updated",
            "project_feature_security_and_compliance_access_level_updated",
            "project_feature_snippets_access_level_updated",
            "project_feature_wiki_access_level_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed who can create projects",
        &["group_project_creation_level_updated"],
        &[("change", "project creation level")],
        &["Changed project creation level from … to …"],
    ),
    action(
        "Changed two-factor authentication rules",
        &[
            "group_require_two_factor_authentication_updated",
            "group_two_factor_grace_period_updated",
            "allow_mfa_for_subgroups_updated",
        ],
        &[
            ("change", "require two factor authentication"),
            ("change", "two factor grace period"),
        ],
        &[
            "Changed require two factor authentication from … to …",
            "Changed two factor grace period from … to …",
        ],
    ),
    action(
        "Changed a group setting",
        &[
            "group_lfs_enabled_updated",
            "group_membership_lock_updated",
            "group_mentions_disabled_updated",
            "group_description_updated",
            "group_request_access_enabled_updated",
            "group_repository_size_limit_updated",
            "group_shared_runners_minutes_limit_updated",
            "group_shared_with_group_lock_updated",
            "prevent_forking_outside_group_updated",
            "prevent_sharing_groups_outside_hierarchy_updated",
            "enabled_git_access_protocol_updated",
            "enforce_ssh_certificates_updated",
            "remove_dormant_members_updated",
            "remove_dormant_members_period_updated",
            "seat_control_updated",
            "new_user_signups_cap_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed a project setting",
        &[
            "project_description_updated",
            "project_topics_updated",
            "project_repository_size_limit_updated",
            "project_packages_enabled_updated",
            "project_security_setting_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed email notification settings",
        &[
            "emails_enabled_updated",
            "show_diff_preview_in_email_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed the allowed address ranges",
        &["ip_restrictions_changed"],
        &[],
        &[],
    ),
    action(
        "Changed the allowed email domains",
        &["allowed_email_domain_updated"],
        &[],
        &[],
    ),
    action(
        "Changed push rules",
        &[
            "group_push_rules_author_email_regex_updated",
            "group_push_rules_branch_name_regex_updated",
            "group_push_rules_commit_committer_check_updated",
            "group_push_rules_commit_message_negative_regex_updated",
            "group_push_rules_commit_message_regex_updated",
            "group_push_rules_file_name_regex_updated",
            "group_push_rules_max_file_size_updated",
            "group_push_rules_prevent_secrets_updated",
            "group_push_rules_reject_deny_delete_tag_updated",
            "group_push_rules_reject_member_check_updated",
            "group_push_rules_reject_non_dco_commits_updated",
            "group_push_rules_reject_unsigned_commits_updated",
            "project_push_rules_commit_committer_check_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed an instance setting",
        &["application_setting_updated"],
        &[],
        &[],
    ),
    // Branches, merge requests and the repository.
    action(
        "Protected a branch",
        &["protected_branch_created"],
        &[],
        &["Added protected branch"],
    ),
    action(
        "Unprotected a branch",
        &["protected_branch_removed"],
        &[],
        &["Removed protected branch", "Unprotected branch"],
    ),
    action(
        "Changed a protected branch",
        &[
            "protected_branch_updated",
            "protected_branch_allow_force_push_updated",
            "protected_branch_code_owner_approval_required_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Approved a merge request",
        &["merge_request_approval_operation"],
        &[],
        &["Approved merge request"],
    ),
    action(
        "Merged a merge request",
        &["merge_request_merged"],
        &[],
        &[],
    ),
    action(
        "Deleted a merge request",
        &["delete_merge_request", "merged_merge_request_deleted"],
        &[],
        &[],
    ),
    action(
        "Ran a Git operation",
        &["repository_git_operation"],
        &[],
        &[],
    ),
    action(
        "Started a repository download",
        &[
            "repository_download_operation",
            "public_repository_download_operation",
        ],
        &[],
        &["Repository Download Started"],
    ),
    action(
        "Ran repository housekeeping",
        &["manually_trigger_housekeeping"],
        &[],
        &[],
    ),
    action(
        "Removed files from the repository history",
        &["project_blobs_removal"],
        &[],
        &[],
    ),
    action(
        "Replaced text in the repository history",
        &["project_text_replacement"],
        &[],
        &[],
    ),
    action(
        "Skipped secret push protection",
        &["skip_secret_push_protection"],
        &[],
        &[],
    ),
    action(
        "Changed secret push protection",
        &["group_secret_push_protection_updated"],
        &[],
        &[],
    ),
    // Deploy keys and tokens.
    action(
        "Added a deploy key",
        &["deploy_key_added"],
        &[("add", "deploy key")],
        &["Added deploy key"],
    ),
    action(
        "Removed a deploy key",
        &["deploy_key_removed"],
        &[("remove", "deploy key")],
        &["Removed deploy key"],
    ),
    action(
        "Created a deploy token",
        &["deploy_token_created", "group_deploy_token_created"],
        &[],
        &[
            "Created project deploy token …",
            "Created group deploy token …",
        ],
    ),
    action(
        "Revoked a deploy token",
        &["deploy_token_revoked", "group_deploy_token_revoked"],
        &[],
        &[
            "Revoked project deploy token …",
            "Revoked group deploy token …",
        ],
    ),
    action(
        "Deleted a deploy token",
        &["deploy_token_destroyed", "group_deploy_token_destroyed"],
        &[],
        &[
            "Destroyed project deploy token …",
            "Destroyed group deploy token …",
        ],
    ),
    action(
        "Failed to create a deploy token",
        &[
            "deploy_token_creation_failed",
            "group_deploy_token_creation_failed",
        ],
        &[],
        &[],
    ),
    action(
        "Created a project access token",
        &["project_access_token_created"],
        &[],
        &["Created project access token …"],
    ),
    action(
        "Revoked a project access token",
        &["project_access_token_deleted"],
        &[],
        &["Revoked project access token …"],
    ),
    action(
        "Created a group access token",
        &["group_access_token_created"],
        &[],
        &["Created group access token …"],
    ),
    action(
        "Revoked a group access token",
        &["group_access_token_deleted"],
        &[],
        &["Revoked group access token …"],
    ),
    action(
        "Failed to create or revoke an access token",
        &[
            "project_access_token_creation_failed",
            "project_access_token_deletion_failed",
            "group_access_token_creation_failed",
            "group_access_token_deletion_failed",
        ],
        &[],
        &[],
    ),
    action(
        "Created a personal access token",
        &["personal_access_token_created"],
        &[],
        &["Created personal access token …"],
    ),
    action(
        "Revoked a personal access token",
        &["personal_access_token_revoked"],
        &[],
        &["Revoked personal access token …"],
    ),
    action(
        "Changed access token settings",
        &[
            "disable_personal_access_tokens_updated",
            "resource_access_token_creation_allowed_updated",
            "service_access_tokens_expiration_enforced_updated",
        ],
        &[],
        &[],
    ),
    // CI/CD.
    action(
        "Added a CI variable",
        &["ci_variable_created"],
        &[],
        &["Added ci variable"],
    ),
    action("Changed a CI variable", &["ci_variable_updated"], &[], &[]),
    action(
        "Removed a CI variable",
        &["ci_variable_deleted"],
        &[],
        &["Removed ci variable"],
    ),
    action(
        "Added a group CI variable",
        &["ci_group_variable_created"],
        &[],
        &["Added ci group variable"],
    ),
    action(
        "Changed a group CI variable",
        &["ci_group_variable_updated"],
        &[],
        &[],
    ),
    action(
        "Removed a group CI variable",
        &["ci_group_variable_deleted"],
        &[],
        &["Removed ci group variable"],
    ),
    action(
        "Changed an instance CI variable",
        &[
            "ci_instance_variable_created",
            "ci_instance_variable_updated",
            "ci_instance_variable_deleted",
        ],
        &[],
        &[],
    ),
    action(
        "Changed CI job token access",
        &[
            "secure_ci_job_token_inbound_enabled",
            "secure_ci_job_token_inbound_disabled",
            "secure_ci_job_token_project_added",
            "secure_ci_job_token_project_removed",
            "secure_ci_job_token_group_added",
            "secure_ci_job_token_group_removed",
            "secure_ci_job_token_policies_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Registered a runner",
        &["ci_runner_registered", "ci_runner_created"],
        &[],
        &[],
    ),
    action(
        "Unregistered a runner",
        &["ci_runner_unregistered"],
        &[],
        &[],
    ),
    action(
        "Changed the projects a runner serves",
        &[
            "ci_runner_assigned_to_project",
            "ci_runner_unassigned_from_project",
            "set_runner_associated_projects",
        ],
        &[],
        &[],
    ),
    action("Reset a runner token", &["ci_runner_token_reset"], &[], &[]),
    action(
        "Changed runner registration settings",
        &[
            "runner_registration_enabled_updated",
            "allow_runner_registration_token_updated",
        ],
        &[],
        &[],
    ),
    action("Deleted a pipeline", &["destroy_pipeline"], &[], &[]),
    action(
        "Downloaded a job artifact",
        &["job_artifact_downloaded"],
        &[],
        &[],
    ),
    action(
        "Protected an environment",
        &["environment_protected"],
        &[],
        &[],
    ),
    action(
        "Unprotected an environment",
        &["environment_unprotected"],
        &[],
        &[],
    ),
    action(
        "Changed a protected environment",
        &[
            "protected_environment_updated",
            "protected_environment_approval_rule_added",
            "protected_environment_approval_rule_deleted",
            "protected_environment_approval_rule_updated",
            "protected_environment_deploy_access_level_added",
            "protected_environment_deploy_access_level_deleted",
            "protected_environment_deploy_access_level_updated",
        ],
        &[],
        &[],
    ),
    action("Approved a deployment", &["deployment_approved"], &[], &[]),
    action("Rejected a deployment", &["deployment_rejected"], &[], &[]),
    action("Started a deployment", &["deployment_started"], &[], &[]),
    action("Created a release", &["release_created"], &[], &[]),
    action(
        "Changed a release",
        &["release_updated", "release_milestones_updated"],
        &[],
        &[],
    ),
    action(
        "Deleted a release",
        &["release_deleted_audit_event"],
        &[],
        &[],
    ),
    action(
        "Created a feature flag",
        &["feature_flag_created"],
        &[],
        &[],
    ),
    action(
        "Changed a feature flag",
        &["feature_flag_updated"],
        &[],
        &[],
    ),
    action(
        "Deleted a feature flag",
        &["feature_flag_deleted"],
        &[],
        &[],
    ),
    action(
        "Created a cluster agent",
        &["cluster_agent_created"],
        &[],
        &[],
    ),
    action(
        "Deleted a cluster agent",
        &["cluster_agent_deleted"],
        &[],
        &[],
    ),
    action(
        "Created a cluster agent token",
        &["cluster_agent_token_created"],
        &[],
        &[],
    ),
    action(
        "Revoked a cluster agent token",
        &["cluster_agent_token_revoked"],
        &[],
        &[],
    ),
    // Sign-in and accounts.
    action(
        "Signed in",
        &[
            "authenticated_with_password",
            "authenticated_with_ldap",
            "authenticated_with_oauth",
            "authenticated_with_two_factor",
            "authenticated_with_webauthn",
            "authenticated_with_group_saml",
            "smartcard_authentication_created",
        ],
        &[("with", "…")],
        &["Signed in with … authentication"],
    ),
    action(
        "Failed to sign in",
        &[
            "login_failed_with_standard_authentication",
            "login_failed_with_otp_authentication",
            "login_failed_with_webauthn_authentication",
            "omniauth_login_failed",
        ],
        &[("failed_login", "…")],
        &["Failed to login with … authentication"],
    ),
    action(
        "Signed in from a new address",
        &["user_signed_in_from_unseen_ip"],
        &[],
        &[],
    ),
    action(
        "Disabled two-factor authentication",
        &["user_disable_two_factor"],
        &[],
        &["Disabled two-factor authentication"],
    ),
    action(
        "Requested a password reset",
        &["password_reset_requested"],
        &[],
        &[],
    ),
    action("Changed a password", &["user_password_updated"], &[], &[]),
    action(
        "Changed an email address",
        &["user_email_address_updated"],
        &[("change", "email address")],
        &["Changed email address from … to …"],
    ),
    action("Added an email address", &["email_created"], &[], &[]),
    action("Removed an email address", &["email_destroyed"], &[], &[]),
    action(
        "Changed a username",
        &["user_username_updated"],
        &[("change", "username")],
        &["Changed username from … to …"],
    ),
    action("Changed a user's name", &["user_name_updated"], &[], &[]),
    action(
        "Added an SSH key",
        &["add_ssh_key"],
        &[],
        &["Added SSH key", "Added SSH key …"],
    ),
    action(
        "Removed an SSH key",
        &["remove_ssh_key"],
        &[],
        &["Removed SSH key", "Removed SSH key …"],
    ),
    action("Added a GPG key", &["add_gpg_key"], &[], &["Added GPG key"]),
    action(
        "Removed a GPG key",
        &["remove_gpg_key"],
        &[],
        &["Removed GPG key"],
    ),
    action(
        "Created a user",
        &["user_created", "registration_created"],
        &[],
        &[],
    ),
    action(
        "Blocked or banned a user",
        &["user_blocked", "ban_user"],
        &[],
        &[],
    ),
    action(
        "Unblocked or unbanned a user",
        &["unblock_user", "unban_user"],
        &[],
        &[],
    ),
    action("Deactivated a user", &["user_deactivate"], &[], &[]),
    action("Activated a user", &["user_activate"], &[], &[]),
    action("Deleted a user", &["user_destroyed"], &[], &[]),
    action("Locked a user's access", &["user_access_locked"], &[], &[]),
    action(
        "Unlocked a user's access",
        &["user_access_unlocked"],
        &[],
        &[],
    ),
    action("Impersonated a user", &["user_impersonation"], &[], &[]),
    action(
        "Changed a user's administrator or auditor status",
        &["user_admin_status_updated", "user_auditor_status_updated"],
        &[],
        &[],
    ),
    action("Enabled admin mode", &["user_enable_admin_mode"], &[], &[]),
    action(
        "Authorized an OAuth application",
        &["user_authorized_oauth_application"],
        &[],
        &[],
    ),
    // Single sign-on.
    action(
        "Changed SAML single sign-on settings",
        &["group_saml_provider_create", "group_saml_provider_update"],
        &[],
        &[],
    ),
    action(
        "Changed SAML group links",
        &["saml_group_links_created", "saml_group_links_removed"],
        &[],
        &[],
    ),
    action(
        "Changed a SAML identity",
        &["update_mismatched_group_saml_extern_uid"],
        &[],
        &[],
    ),
    action(
        "Provisioned a user with SCIM",
        &["user_provisioned_by_scim"],
        &[],
        &[],
    ),
    // Webhooks, audit streaming and compliance.
    action("Created a webhook", &["webhook_created"], &[], &[]),
    action("Deleted a webhook", &["webhook_destroyed"], &[], &[]),
    action(
        "Added an audit event streaming destination",
        &[
            "create_event_streaming_destination",
            "create_instance_event_streaming_destination",
            "created_group_audit_event_streaming_destination",
            "created_instance_audit_event_streaming_destination",
            "amazon_s3_configuration_created",
            "google_cloud_logging_configuration_created",
            "instance_amazon_s3_configuration_created",
            "instance_google_cloud_logging_configuration_created",
        ],
        &[],
        &[],
    ),
    action(
        "Changed an audit event streaming destination",
        &[
            "update_event_streaming_destination",
            "update_instance_event_streaming_destination",
            "updated_group_audit_event_streaming_destination",
            "updated_instance_audit_event_streaming_destination",
            "amazon_s3_configuration_updated",
            "google_cloud_logging_configuration_updated",
            "instance_amazon_s3_configuration_updated",
            "instance_google_cloud_logging_configuration_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Removed an audit event streaming destination",
        &[
            "destroy_event_streaming_destination",
            "destroy_instance_event_streaming_destination",
            "deleted_group_audit_event_streaming_destination",
            "deleted_instance_audit_event_streaming_destination",
            "amazon_s3_configuration_deleted",
            "google_cloud_logging_configuration_deleted",
            "instance_amazon_s3_configuration_deleted",
            "instance_google_cloud_logging_configuration_deleted",
        ],
        &[],
        &[],
    ),
    action(
        "Changed audit event streaming headers or filters",
        &[
            "audit_events_streaming_headers_create",
            "audit_events_streaming_headers_update",
            "audit_events_streaming_headers_destroy",
            "audit_events_streaming_instance_headers_create",
            "audit_events_streaming_instance_headers_update",
            "audit_events_streaming_instance_headers_destroy",
            "event_type_filters_created",
            "event_type_filters_deleted",
            "create_http_namespace_filter",
            "delete_http_namespace_filter",
            "created_group_namespace_filter",
            "deleted_group_namespace_filter",
            "created_instance_namespace_filter",
            "deleted_instance_namespace_filter",
        ],
        &[],
        &[],
    ),
    action(
        "Created a compliance framework",
        &["create_compliance_framework"],
        &[],
        &[],
    ),
    action(
        "Changed a compliance framework",
        &["update_compliance_framework"],
        &[],
        &[],
    ),
    action(
        "Deleted a compliance framework",
        &["destroy_compliance_framework"],
        &[],
        &[],
    ),
    action(
        "Applied a compliance framework to a project",
        &[
            "compliance_framework_added",
            "compliance_framework_id_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Removed a compliance framework from a project",
        &[
            "compliance_framework_removed",
            "compliance_framework_deleted",
        ],
        &[],
        &[],
    ),
    action(
        "Changed an external status check",
        &[
            "create_status_check",
            "update_status_check",
            "delete_status_check",
            "external_status_check_name_updated",
            "external_status_check_url_updated",
        ],
        &[],
        &[],
    ),
    action(
        "Changed the security policy project",
        &["policy_project_updated"],
        &[],
        &[],
    ),
    action(
        "Deleted an issue, epic or work item",
        &["delete_issue", "delete_epic", "delete_work_item"],
        &[],
        &[],
    ),
];

/// Lower case, one space between words: the form both patterns and texts are compared in.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A pattern cut at its `…` into fixed parts, normalised. The spaces around a `…`
/// stay with the fixed parts, so `Added member … as …` needs whole words around its
/// variable parts.
fn parts(pattern: &str) -> Vec<String> {
    normalise(pattern).split('…').map(str::to_owned).collect()
}

/// Whether a normalised `text` fits a pattern's `parts` (see [`Action`]).
fn fits(parts: &[String], text: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    if !text.starts_with(first.as_str()) {
        return false;
    }
    let Some((last, middle)) = rest.split_last() else {
        return text.len() == first.len();
    };
    // Each variable part takes at least one character; the leftmost place for each
    // fixed part leaves the most room for the ones after it.
    let after_one = |at: usize| text[at..].chars().next().map(|c| at + c.len_utf8());
    let mut at = first.len();
    for part in middle {
        let Some(from) = after_one(at) else {
            return false;
        };
        let Some(found) = text[from..].find(part.as_str()) else {
            return false;
        };
        at = from + found + part.len();
    }
    after_one(at)
        .is_some_and(|from| text.len() >= from + last.len() && text.ends_with(last.as_str()))
}

/// The sentence patterns of the table, split once, in table order.
static SENTENCES: LazyLock<Vec<(Vec<String>, &'static str)>> = LazyLock::new(|| {
    ACTIONS
        .iter()
        .flat_map(|a| a.sentences.iter().map(|s| (parts(s), a.label)))
        .collect()
});

/// The legacy keys and value patterns of the table: key, value parts, label.
static CHANGES: LazyLock<Vec<(String, Vec<String>, &'static str)>> = LazyLock::new(|| {
    ACTIONS
        .iter()
        .flat_map(|a| {
            a.changes
                .iter()
                .map(|(key, value)| (change_key(key), parts(value), a.label))
        })
        .collect()
});

/// `details` keys and values are snake_case where sentences have spaces.
fn change_key(key: &str) -> String {
    normalise(&key.replace('_', " "))
}

fn by_event_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    ACTIONS
        .iter()
        .find(|a| a.events.iter().any(|e| e.eq_ignore_ascii_case(name)))
        .map(|a| a.label)
}

fn by_sentence(text: &str) -> Option<&'static str> {
    let text = normalise(text);
    SENTENCES
        .iter()
        .find(|(parts, _)| fits(parts, &text))
        .map(|(_, label)| *label)
}

fn by_change(key: &str, value: &str) -> Option<&'static str> {
    let key = change_key(key);
    let value = change_key(value);
    CHANGES
        .iter()
        .find(|(k, parts, _)| *k == key && fits(parts, &value))
        .map(|(.., label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event names GitLab uses for events whose meaning is only in their message.
    /// They must never be given a label of their own.
    const GENERIC_EVENT_NAMES: &[&str] = &["audit_operation"];

    /// Values that stand in for the live parts of a sentence: everything the privacy
    /// guard must never see in a reply.
    const HOSTILE: &[&str] = &[
        "zed.zulu@elsewhere.example",
        "192.0.2.77",
        "2001:DB8:0:0:0:0:0:77",
        "glpat-Xq3vR8sL2mN5pK7wT1yZ",
        "https://bot:secret@ci.elsewhere.example",
        "Yolanda Quist (yq-laptop)",
        "Developer",
    ];

    fn sentence(s: &str) -> Option<&'static str> {
        label(&ActionText {
            sentence: Some(s),
            ..ActionText::default()
        })
    }

    fn message(s: &str) -> Option<&'static str> {
        label(&ActionText {
            custom_message: Some(s),
            ..ActionText::default()
        })
    }

    fn event(name: &str) -> Option<&'static str> {
        label(&ActionText {
            event_name: Some(name),
            ..ActionText::default()
        })
    }

    fn change(key: &str, value: &str) -> Option<&'static str> {
        label(&ActionText {
            change: Some((key, value)),
            ..ActionText::default()
        })
    }

    /// A pattern with each `…` replaced by a hostile value (a different one each time,
    /// starting at `seed`).
    fn fill(pattern: &str, seed: usize) -> String {
        let mut out = String::new();
        for (i, part) in pattern.split('…').enumerate() {
            if i > 0 {
                out.push_str(HOSTILE[(seed + i) % HOSTILE.len()]);
            }
            out.push_str(part);
        }
        out
    }

    /// Labels are printed as they are, in every format: words only, nothing markdown
    /// or the privacy guard would read as something else.
    #[test]
    fn access_changes_are_labels_of_the_table() {
        for label in ACCESS_CHANGES {
            assert!(ACTIONS.iter().any(|a| a.label == *label), "{label}");
        }
        assert!(changes_access("Changed visibility"));
        assert!(!changes_access("Ran a Git operation"));
        assert!(!changes_access(OTHER));
    }

    #[test]
    fn labels_are_plain_words() {
        for l in ACTIONS.iter().map(|a| a.label).chain([OTHER]) {
            assert!(!l.is_empty() && l.trim() == l, "{l:?}");
            assert!(
                l.chars()
                    .all(|c| c.is_ascii_alphabetic() || matches!(c, ' ' | ',' | '\'' | '-')),
                "{l:?} has a character outside letters, spaces, commas, apostrophes, hyphens"
            );
            assert!(l.starts_with(|c: char| c.is_ascii_uppercase()), "{l:?}");
            assert!(!l.contains("  "), "{l:?}");
        }
    }

    /// One row per meaning: a label is never spread over two rows, and an event name
    /// belongs to one row only.
    #[test]
    fn labels_and_names_are_unique() {
        let mut labels: Vec<&str> = ACTIONS.iter().map(|a| a.label).collect();
        labels.push(OTHER);
        let n = labels.len();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), n, "a label appears twice");
        let mut names: Vec<&str> = ACTIONS
            .iter()
            .flat_map(|a| a.events.iter().copied())
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "an event name appears twice");
    }

    #[test]
    fn names_and_patterns_are_well_formed() {
        for a in ACTIONS {
            assert!(
                !a.events.is_empty() || !a.changes.is_empty() || !a.sentences.is_empty(),
                "{}: nothing leads to it",
                a.label
            );
            for e in a.events {
                assert!(
                    e.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{e}: GitLab names are snake_case"
                );
                assert!(!GENERIC_EVENT_NAMES.contains(e), "{e} is generic");
            }
            for p in a
                .sentences
                .iter()
                .chain(a.changes.iter().map(|(_, value)| value))
            {
                assert!(!p.contains("……"), "{p:?}: two variable parts in a row");
                assert!(!p.contains("..."), "{p:?}: use … for a variable part");
            }
            for s in a.sentences {
                assert!(
                    s.starts_with(|c: char| c.is_ascii_alphabetic()),
                    "{s:?}: a sentence starts with fixed words"
                );
            }
            for (key, _) in a.changes {
                assert!(
                    ["add", "remove", "change", "with", "failed_login"].contains(key),
                    "{key}: not a key of details"
                );
            }
        }
    }

    /// Every row answers to each of its own names and patterns, whatever the variable
    /// parts hold, and no earlier row takes them first.
    #[test]
    fn every_row_matches_its_own_examples() {
        for (seed, a) in ACTIONS.iter().enumerate() {
            for e in a.events {
                assert_eq!(event(e), Some(a.label), "{e}");
                assert_eq!(event(&e.to_uppercase()), Some(a.label), "{e} in capitals");
            }
            for (i, s) in a.sentences.iter().enumerate() {
                for shift in 0..HOSTILE.len() {
                    let text = fill(s, seed + i + shift);
                    assert_eq!(sentence(&text), Some(a.label), "{text:?}");
                    assert_eq!(message(&text), Some(a.label), "{text:?}");
                    let spaced = format!("  {}  ", text.to_uppercase().replace(' ', "   "));
                    assert_eq!(sentence(&spaced), Some(a.label), "{spaced:?}");
                }
            }
            for (key, value) in a.changes {
                let value = fill(value, seed).replace(' ', "_");
                assert_eq!(change(key, &value), Some(a.label), "{key} {value}");
            }
        }
    }

    /// The variable parts are dropped: what they hold never changes the label and
    /// never comes back in it.
    #[test]
    fn hostile_text_never_reaches_a_label() {
        let texts = [
            "Added member zed.zulu@elsewhere.example as Developer",
            "Added member 192.0.2.77 as glpat-Xq3vR8sL2mN5pK7wT1yZ",
            "Changed visibility from https://bot:secret@ci.elsewhere.example to Yolanda Quist",
            "Signed in with zed.zulu@elsewhere.example authentication",
            "Added SSH key of Yolanda Quist (yq-laptop)",
            "Created project access token with token_id: 42 with scopes: [:read_api]",
        ];
        for t in texts {
            let l = sentence(t).unwrap_or(OTHER);
            for h in HOSTILE
                .iter()
                .chain(&["Yolanda", "Quist", "yq-laptop", "42"])
            {
                assert!(
                    !l.to_lowercase().contains(&h.to_lowercase()),
                    "{t:?} -> {l:?}"
                );
            }
        }
    }

    /// Texts as GitLab writes them, and the label each one gets.
    const GITLAB_TEXTS: &[(&str, Option<&str>)] = &[
        (
            "Added member zed.zulu@elsewhere.example as Developer",
            Some("Added a member"),
        ),
        ("Added user access as Developer", Some("Added a member")),
        ("Removed user access", Some("Removed a member")),
        (
            "Changed access level from Developer to Maintainer",
            Some("Changed a member's access level"),
        ),
        (
            "Changed visibility from Private to Public",
            Some("Changed visibility"),
        ),
        (
            "changed  VISIBILITY from private to public",
            Some("Changed visibility"),
        ),
        (
            "Changed merge method from Merge commit to Fast-forward merge",
            Some("Changed the merge method"),
        ),
        (
            "Changed prevent merge request approval from committers from false to true",
            Some("Changed merge request approval settings"),
        ),
        (
            "Changed default branch from main to trunk",
            Some("Changed the default branch"),
        ),
        (
            "Changed project creation level from Maintainers to Developers",
            Some("Changed who can create projects"),
        ),
        ("Signed in with STANDARD authentication", Some("Signed in")),
        (
            "Failed to login with LDAP authentication",
            Some("Failed to sign in"),
        ),
        (
            "Repository Download Started",
            Some("Started a repository download"),
        ),
        ("Approved merge request", Some("Approved a merge request")),
        ("Project archived", Some("Archived a project")),
        (
            "Group marked for deletion",
            Some("Marked a group for deletion"),
        ),
        ("Added protected branch", Some("Protected a branch")),
        ("Added ci group variable", Some("Added a group CI variable")),
        (
            "Created project access token with scopes: read_repository, write_repository",
            Some("Created a project access token"),
        ),
        (
            "Created group access token with scopes: read_registry",
            Some("Created a group access token"),
        ),
        ("Added SSH key", Some("Added an SSH key")),
        (
            "Added SSH key of Yolanda Quist (yq-laptop)",
            Some("Added an SSH key"),
        ),
        // Not in the table: counted as other changes.
        ("Blocked access for 192.0.2.77", None),
        (
            "Token glpat-Xq3vR8sL2mN5pK7wT1yZ created for https://bot:secret@ci.elsewhere.example",
            None,
        ),
        (
            "Created custom HTTP header with key X-Destination-Env.",
            None,
        ),
        ("Changed visibility", None),
        ("Changed visibility from Private", None),
        ("Added member", None),
        ("Project archived by zed.zulu@elsewhere.example", None),
        ("", None),
        ("   ", None),
    ];

    #[test]
    fn gitlab_texts() {
        let cases = GITLAB_TEXTS;
        for (text, want) in cases {
            assert_eq!(sentence(text), *want, "{text:?}");
        }
    }

    #[test]
    fn legacy_changes() {
        assert_eq!(change("add", "user_access"), Some("Added a member"));
        assert_eq!(change("remove", "user_access"), Some("Removed a member"));
        assert_eq!(change("change", "visibility"), Some("Changed visibility"));
        assert_eq!(
            change("change", "access_level"),
            Some("Changed a member's access level")
        );
        assert_eq!(
            change("change", "access level"),
            Some("Changed a member's access level")
        );
        assert_eq!(change("add", "group"), Some("Created a group"));
        assert_eq!(change("add", "project"), Some("Created a project"));
        assert_eq!(
            change("change", "email address"),
            Some("Changed an email address")
        );
        assert_eq!(
            change("change", "prevent merge request approval from committers"),
            Some("Changed merge request approval settings")
        );
        assert_eq!(change("with", "standard"), Some("Signed in"));
        assert_eq!(
            change("failed_login", "STANDARD"),
            Some("Failed to sign in")
        );
        // The key matters, and only known values map.
        assert_eq!(change("remove", "visibility"), None);
        assert_eq!(change("change", "zed.zulu@elsewhere.example"), None);
        assert_eq!(change("add", "zed.zulu@elsewhere.example"), None);
        assert_eq!(change("change", "user_access"), None);
        assert_eq!(change("with", ""), None);
    }

    #[test]
    fn unknown_event_names_say_nothing() {
        assert_eq!(event("audit_operation"), None);
        assert_eq!(event("zed.zulu@elsewhere.example_synced"), None);
        assert_eq!(event(""), None);
        assert_eq!(event(" member_created "), Some("Added a member"));
        assert_eq!(label(&ActionText::default()), None);
    }

    /// A known name wins; an unknown or generic one gives way to the message, then the
    /// legacy change, then the export's sentence.
    #[test]
    fn priority() {
        let all = ActionText {
            event_name: Some("project_archived"),
            custom_message: Some("Approved merge request"),
            change: Some(("change", "visibility")),
            sentence: Some("Signed in with STANDARD authentication"),
        };
        assert_eq!(label(&all), Some("Archived a project"));
        let generic = ActionText {
            event_name: Some("audit_operation"),
            ..all
        };
        assert_eq!(label(&generic), Some("Approved a merge request"));
        let unknown_message = ActionText {
            custom_message: Some("Token glpat-Xq3vR8sL2mN5pK7wT1yZ created"),
            ..generic
        };
        assert_eq!(label(&unknown_message), Some("Changed visibility"));
        let unknown_change = ActionText {
            change: Some(("add", "yq-laptop")),
            ..unknown_message
        };
        assert_eq!(label(&unknown_change), Some("Signed in"));
        let nothing_known = ActionText {
            sentence: Some("Blocked access for 192.0.2.77"),
            ..unknown_change
        };
        assert_eq!(label(&nothing_known), None);
        // The streamed download button: the event name is the specific one.
        let download = ActionText {
            event_name: Some("repository_git_operation"),
            custom_message: Some("Repository Download Started"),
            ..ActionText::default()
        };
        assert_eq!(label(&download), Some("Ran a Git operation"));
    }

    /// The table as docs/AUDIT_ACTIONS.md lists it.
    fn docs_list() -> String {
        let code = |s: &str| format!("`{s}`");
        let mut out = String::new();
        for a in ACTIONS {
            out.push_str(&format!("- **{}**\n", a.label));
            if !a.events.is_empty() {
                let names: Vec<String> = a.events.iter().map(|e| code(e)).collect();
                out.push_str(&format!("  - event names: {}\n", names.join(", ")));
            }
            if !a.changes.is_empty() {
                let changes: Vec<String> = a
                    .changes
                    .iter()
                    .map(|(k, v)| format!("`{k}`: {}", code(v)))
                    .collect();
                out.push_str(&format!("  - legacy details: {}\n", changes.join(", ")));
            }
            if !a.sentences.is_empty() {
                let sentences: Vec<String> = a.sentences.iter().map(|s| code(s)).collect();
                out.push_str(&format!(
                    "  - messages and sentences: {}\n",
                    sentences.join(", ")
                ));
            }
        }
        out
    }

    const DOCS: &str = "docs/AUDIT_ACTIONS.md";
    const BEGIN: &str = "<!-- begin: the table, written by the tests of src/vocabulary.rs -->\n";
    const END: &str = "<!-- end of the table -->\n";

    /// The docs list exactly the table. `UPDATE_AUDIT_ACTIONS=1 cargo test --locked
    /// --lib vocabulary` rewrites the list after the table changed.
    #[test]
    fn docs_list_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCS);
        let text = std::fs::read_to_string(&path).expect("docs/AUDIT_ACTIONS.md");
        let start = text.find(BEGIN).expect("the begin marker") + BEGIN.len();
        let end = text.find(END).expect("the end marker");
        let want = docs_list();
        if std::env::var_os("UPDATE_AUDIT_ACTIONS").is_some() {
            let updated = format!("{}{want}{}", &text[..start], &text[end..]);
            std::fs::write(&path, updated).expect("docs/AUDIT_ACTIONS.md is writable");
            return;
        }
        assert!(
            text[start..end] == want,
            "{DOCS} does not list the table; run UPDATE_AUDIT_ACTIONS=1 cargo test --locked --lib vocabulary"
        );
    }
}
