# ruff: noqa: E501 - node ids are kept whole on one line each, so they can be searched for
"""The BAD-INPUTS catalog, row by row: the tests that prove each entry, or why it does not apply.

``/work/shared/BAD-INPUTS.md`` (``../shared/BAD-INPUTS.md`` from the repository) lists
fifty bad inputs (#1-#50) and twelve promises (P1-P12).  :data:`CATALOG` maps every one of
them to the tests that prove it: node ids relative to the repository root, either in this
folder or elsewhere under ``tests/``.  A test id names a test function (all its
parameters) as ``path::function`` or a class method as ``path::Class::method``.

``open`` names the part of an entry that is not met yet: its test is marked
``xfail(strict=True)`` and listed in ``tests`` too, so the day it is fixed the suite fails
until the mark is removed.  ``note`` records a deliberate deviation from the row's wording.
``test_catalog_complete.py`` checks that every row and promise is here and that every
test named exists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    """How one row or promise is met."""

    tests: tuple[str, ...] = ()
    """Node ids of the tests that prove it."""
    not_applicable: str = ""
    """One line: why keyscope has nothing to do for it (then ``tests`` is empty)."""
    open: str = ""
    """What is still missing (proven failing by an ``xfail(strict=True)`` test in ``tests``)."""
    note: str = ""
    """A deliberate deviation from the row's wording, and why."""


H = "tests/hardening/"
SPEC_CLI = "tests/cli/test_spec_bad_inputs.py::"
LIVE = "tests/unit/test_live_client.py::"
SANDBOX = "tests/integration/test_sandbox.py::"
USAGE = "tests/unit/test_usage_bad_lines.py::"

CATALOG: dict[int | str, Entry] = {
    # ------------------------------------------------------------------ spec
    1: Entry((
        SPEC_CLI + "test_01_alias_bomb",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
        H + "test_bounded_resources.py::test_spec_bombs_end_fast_and_small",
        H + "test_bounded_resources.py::test_a_spec_over_the_byte_cap_is_refused_without_reading_it",
        "tests/unit/test_yamlsafe.py::test_billion_laughs_fails_fast",
    )),
    2: Entry((
        SPEC_CLI + "test_02_self_referential_alias",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
        H + "test_bounded_resources.py::test_spec_bombs_end_fast_and_small",
    )),
    3: Entry((
        SPEC_CLI + "test_03_deep_nesting",
        SPEC_CLI + "test_03_a_path_item_at_the_nesting_cap_resolves",
        "tests/unit/test_openapi.py::test_pointers_through_references_nest_without_recursion",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
        H + "test_bounded_resources.py::test_spec_bombs_end_fast_and_small",
        H + "test_properties.py::test_spec_loader_raises_only_spec_error_on_any_yaml",
    )),
    4: Entry((
        SPEC_CLI + "test_04_duplicate_keys",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    )),
    5: Entry((
        SPEC_CLI + "test_05_norway_values_stay_strings",
        SPEC_CLI + "test_05_real_booleans_where_names_belong_are_errors",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    )),
    6: Entry((
        SPEC_CLI + "test_06_versions_and_ids_keep_their_text",
        "tests/unit/test_keys.py::test_yaml_11_lookalikes_stay_text",
    )),
    7: Entry((
        SPEC_CLI + "test_07_non_string_keys",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    )),
    8: Entry((
        SPEC_CLI + "test_08_url_refs",
        H + "test_spec_inputs.py::test_08_p8_external_refs_are_reported_not_fetched",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    ), note="URL refs are never fetched, even with --allow-external-refs (stricter than an "
            "allowlist); redirects of fetched API data are same-origin only (#42)."),
    9: Entry((
        SPEC_CLI + "test_09_file_refs_outside_the_folder",
        "tests/unit/test_openapi.py::test_symlink_out_of_the_folder_is_refused",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    )),
    10: Entry((
        SPEC_CLI + "test_10_recursive_schemas_analyze_fine",
        SPEC_CLI + "test_10_pure_ref_cycle_where_needed",
        SPEC_CLI + "test_10_self_referential_refs_where_needed_stop_with_one_line",
        SPEC_CLI + "test_10_self_referential_refs_elsewhere_are_reported",
        SPEC_CLI + "test_10_the_issue_two_line_spec_is_one_clean_line",
        SPEC_CLI + "test_10_legal_long_chains_and_ancestor_refs_in_schemas_load_fast",
        "tests/unit/test_openapi.py::test_a_needed_chain_of_64_references_resolves_and_65_is_refused",
        "tests/unit/test_openapi.py::test_pointers_through_references_nest_without_recursion",
        "tests/unit/test_openapi.py::test_any_graph_of_local_references_ends_in_a_spec_or_one_spec_error",
        H + "test_properties.py::test_spec_loader_raises_only_spec_error_on_any_yaml",
        H + "test_spec_inputs.py::test_10_recursive_schemas_audit_fine",
    )),
    11: Entry((
        SPEC_CLI + "test_11_missing_ref_target",
        SPEC_CLI + "test_11_escaped_pointers_resolve",
        "tests/unit/test_openapi.py::test_list_indexes_in_pointers_are_ascii_digits",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
    )),
    12: Entry((SPEC_CLI + "test_12_security_shapes",)),
    13: Entry((
        SPEC_CLI + "test_13_same_shape_templates_reported",
        "tests/unit/test_routes.py::test_match",
        "tests/unit/test_routes_properties.py::test_one_level_priority_and_mixed_segments_match_the_reference",
        H + "test_properties.py::test_route_matcher_never_raises_and_is_consistent",
    )),
    14: Entry((
        SPEC_CLI + "test_14_scope_names_match_exactly",
        "tests/unit/test_audit.py::test_unknown_scope",
    )),
    15: Entry((
        H + "test_spec_inputs.py::test_15_an_html_login_page_is_not_a_spec",
        H + "test_spec_inputs.py::test_15_a_5gb_spec_is_refused_before_reading",
        H + "test_spec_inputs.py::test_15_an_endless_spec_stops_at_the_cap",
        H + "test_spec_inputs.py::test_15_a_gzip_bomb_spec_stops_at_the_decompressed_cap",
        LIVE + "test_the_run_deadline_bounds_a_whole_run",
        SANDBOX + "test_an_html_login_page_is_refused",
    )),
    16: Entry((
        SPEC_CLI + "test_16_multi_document",
        SPEC_CLI + "test_16_bom_is_accepted",
        SPEC_CLI + "test_16_tabs",
        SPEC_CLI + "test_16_invalid_utf8",
        H + "test_spec_inputs.py::test_bad_specs_stop_the_audit_with_one_located_line",
        H + "test_properties.py::test_spec_loader_raises_only_spec_error_on_any_bytes",
    )),
    # ------------------------------------------------------------------ key inventory
    17: Entry((
        H + "test_escaping.py::test_tui_names_render_exactly_the_sanitized_input",
        H + "test_escaping.py::test_terminal_output_has_no_control_bytes",
        "tests/tui/test_browse_app.py::test_untrusted_names_render_literally",
        "tests/tui/test_browse_app.py::test_markup_name_in_detail_header_is_literal",
    )),
    18: Entry((
        H + "test_escaping.py::test_tui_names_render_exactly_the_sanitized_input",
        "tests/tui/test_key_frame.py::test_markup_names_stay_literal",
    )),
    19: Entry((
        H + "test_escaping.py::test_no_markup_error_is_possible",
        H + "test_escaping.py::test_tui_names_render_exactly_the_sanitized_input",
    )),
    20: Entry((
        H + "test_escaping.py::test_terminal_output_has_no_control_bytes",
        H + "test_escaping.py::test_json_is_ascii_and_keeps_raw_values",
        H + "test_escaping.py::test_tui_names_render_exactly_the_sanitized_input",
        "tests/unit/test_text.py::test_escape_sequences_are_neutralized",
    )),
    21: Entry((
        H + "test_key_inventory.py::test_21_homoglyph_bidi_and_zero_width_names_are_findings",
        H + "test_escaping.py::test_suspicious_names_are_findings",
        H + "test_escaping.py::test_html_shows_payloads_as_text",
        H + "test_escaping.py::test_json_is_ascii_and_keeps_raw_values",
    )),
    22: Entry((
        H + "test_escaping.py::test_html_has_only_template_elements_and_safe_links",
        H + "test_escaping.py::test_html_shows_payloads_as_text",
        "tests/report/test_html.py::test_hostile_text_is_inert",
        "tests/report/test_html.py::test_csp_allows_only_the_reports_own_style_and_script",
        "tests/report/test_html.py::test_template_environment_is_strict_and_escaping",
    )),
    23: Entry((
        H + "test_escaping.py::test_html_shows_payloads_as_text",
        "tests/report/test_html.py::test_template_environment_is_strict_and_escaping",
    )),
    24: Entry((
        H + "test_secrets_canary.py::test_audit_stdout_and_stderr_never_show_a_canary",
        H + "test_secrets_canary.py::test_spec_command_never_shows_a_canary",
        H + "test_secrets_canary.py::test_a_long_name_is_redacted_whole_at_ingest",
        H + "test_secrets_canary.py::test_no_sink_cuts_through_a_secret_in_free_text",
        "tests/unit/test_openapi.py::test_descriptions_are_redacted_at_ingest",
    )),
    25: Entry((
        H + "test_escaping.py::test_csv_cells_never_start_with_a_trigger",
        "tests/report/test_csv.py::test_formula_triggers_get_an_apostrophe",
        "tests/report/test_csv.py::test_negative_numbers_would_stay_numbers",
    )),
    26: Entry((
        H + "test_key_inventory.py::test_26_a_10mb_name_is_cheap_and_shown_shortened",
        H + "test_key_inventory.py::test_26_the_tui_shows_a_10mb_name_shortened",
        H + "test_key_inventory.py::test_26_empty_nul_crlf_and_surrogate_names_never_crash",
        H + "test_key_inventory.py::test_26_a_terminal_that_cannot_encode_a_name_gets_escapes",
        H + "test_key_inventory.py::test_26_a_crlf_in_a_bad_value_cannot_forge_an_error_line",
        H + "test_escaping.py::test_json_is_ascii_and_keeps_raw_values",
        H + "test_escaping.py::test_no_display_shows_the_megabyte",
        H + "test_escaping.py::test_terminal_output_has_no_control_bytes",
        H + "test_secrets_canary.py::test_a_long_name_is_redacted_whole_at_ingest",
        "tests/unit/test_keys.py::test_absurdly_long_free_text_is_kept_whole",
        "tests/unit/test_redaction.py::test_redaction_is_linear_on_10mb_of_near_misses",
        "tests/unit/test_key_name_scripts.py::test_a_10mb_non_ascii_name_is_checked_whole",
        "tests/tui/test_key_frame.py::test_huge_and_broken_names_do_not_break_the_frame",
    )),
    27: Entry((
        H + "test_key_inventory.py::test_27_names_are_not_identities_but_ids_are",
        H + "test_key_inventory.py::test_27_duplicate_ids_are_an_input_error_naming_both_records",
        "tests/unit/test_keys.py::test_duplicate_ids_name_both_records",
    )),
    28: Entry((
        H + "test_key_inventory.py::test_28_secret_fields_are_dropped_at_ingest",
        H + "test_secrets_canary.py::test_audit_written_files_never_show_a_canary",
        "tests/unit/test_keys.py::test_secret_fields_dropped_and_recorded",
    )),
    29: Entry((
        H + "test_key_inventory.py::test_29_secrets_in_names_are_classified_by_prefix",
        "tests/unit/test_keys.py::test_publishable_key_in_name_is_not_a_secret",
    ), note="The inventory never holds credentials, so there is no key *type* to report; "
            "prefixes classify secrets found in free text (pk_ public, sk_/rk_ secret)."),
    # ------------------------------------------------------------------ usage logs
    30: Entry((
        H + "test_usage_logs.py::test_30_bad_lines_are_skipped_counted_numbered_and_the_rest_audited",
        H + "test_usage_logs.py::test_30_few_bad_lines_under_the_threshold_keep_the_run_complete",
        H + "test_partial_data.py::test_incomplete_runs_say_so_in_every_format",
        USAGE + "test_30_truncated_last_line_is_counted_with_its_line_number",
        USAGE + "test_30_invalid_utf8_crlf_and_bom",
        USAGE + "test_30_above_the_threshold_the_data_is_incomplete_not_an_error",
        H + "test_bounded_resources.py::test_truncated_and_corrupt_gzip_logs_are_one_line_errors_or_bad_lines",
    )),
    31: Entry((
        H + "test_usage_logs.py::test_31_hostile_json_values_are_bad_lines_not_crashes",
        H + "test_usage_logs.py::test_31_duplicate_keys_in_a_line_do_not_break_the_audit",
        USAGE + "test_31_hostile_values_are_bad_lines",
        H + "test_properties.py::test_usage_reader_accounts_for_every_line",
    )),
    32: Entry((
        H + "test_usage_logs.py::test_32_csv_long_fields_and_unterminated_quotes",
        USAGE + "test_32_a_long_csv_field_is_read",
        USAGE + "test_32_an_unterminated_quote_swallows_lines_that_are_then_counted",
    )),
    33: Entry((
        H + "test_usage_logs.py::test_33_zone_less_timestamps_are_bad_unless_a_zone_is_configured",
        H + "test_usage_logs.py::test_33_clock_skew_and_out_of_order_lines",
        H + "test_partial_data.py::test_recommendations_only_above_the_coverage_threshold",
        "tests/unit/test_audit.py::test_coverage_gates_removal_advice",
    )),
    34: Entry((
        H + "test_partial_data.py::test_young_keys_are_too_new_to_judge",
        "tests/unit/test_audit.py::test_young_key_is_insufficient_and_keeps_grants",
    )),
    35: Entry((
        H + "test_partial_data.py::test_only_403s_never_add_a_scope",
        "tests/unit/test_audit.py::test_denied_requests_are_never_usage",
        USAGE + "test_35_denied_requests_are_kept_apart_from_usage",
    )),
    36: Entry((
        H + "test_usage_logs.py::test_36_unmatched_routes_and_unknown_keys_are_reported_not_dropped",
        USAGE + "test_36_unmatched_routes_and_unknown_keys_are_never_dropped",
        "tests/unit/test_routes.py::test_normalize_request_path",
    )),
    37: Entry((
        H + "test_bounded_resources.py::test_a_huge_valid_log_streams_in_bounded_memory",
        H + "test_bounded_resources.py::test_a_usage_gzip_bomb_is_refused_in_bounded_memory",
        USAGE + "test_37_memory_is_bounded_by_routes_not_lines",
        USAGE + "test_37_a_line_over_the_size_limit_is_a_bad_line",
    )),
    38: Entry((
        H + "test_secrets_canary.py::test_audit_stdout_and_stderr_never_show_a_canary",
        H + "test_secrets_canary.py::test_tui_screens_never_show_a_canary",
        USAGE + "test_38_secrets_in_logged_urls_and_bad_lines_never_come_back",
        "tests/unit/test_har.py::test_the_bearer_token_survives_nowhere",
    )),
    39: Entry((
        H + "test_determinism.py::test_repeated_events_across_files_are_counted_once",
        H + "test_usage_logs.py::test_39_overlapping_files_without_ids_report_suspected_repeats",
        USAGE + "test_39_overlapping_pages_are_deduplicated",
        USAGE + "test_39_a_repeated_id_with_different_content_is_two_requests",
        USAGE + "test_39_duplicated_bad_lines_stay_bad_lines",
        USAGE + "test_39_overlapping_files_without_ids_count_suspected_duplicates",
        USAGE + "test_39_only_lines_that_repeat_another_file_are_suspected",
        USAGE + "test_39_a_repeat_within_one_file_is_not_guessed_at",
        USAGE + "test_39_files_that_do_not_overlap_are_not_compared",
        USAGE + "test_39_a_single_file_plan_never_looks_for_suspected_repeats",
        USAGE + "test_39_with_request_ids_duplicates_are_exact_and_nothing_is_suspected",
        USAGE + "test_39_overlapping_csv_files_count_suspected_duplicates",
        USAGE + "test_39_overlapping_parquet_files_count_suspected_duplicates",
        USAGE + "test_39_bad_and_out_of_window_lines_are_never_suspected",
    ), note="Without a request or event id, suspected duplicates are counted only across "
            "files of one [[usage]] entry that cover the same time (the copies of an "
            "identical timestamp/key/method/path+query/status beyond the most any one file "
            "holds), never within one file (overlapping pages appended to a single file are "
            "not flagged: an integration legitimately repeats identical requests, and "
            "checking every line of a single file costs +50% on 10M lines); they stay "
            "counted as requests, and the count is reported."),
    # ------------------------------------------------------------------ network
    40: Entry((
        LIVE + "test_the_same_cursor_forever_stops_and_marks_incomplete",
        LIVE + "test_a_cursor_cycle_stops_and_marks_incomplete",
        LIVE + "test_has_more_without_a_next_cursor_marks_incomplete",
        LIVE + "test_empty_pages_with_has_more_are_followed_up_to_a_limit",
        LIVE + "test_the_page_cap_marks_incomplete_instead_of_a_silent_short_read",
        SANDBOX + "test_a_cursor_loop_marks_the_snapshot_and_the_audit_incomplete",
    )),
    41: Entry((
        LIVE + "test_retry_after_is_parsed_digits_first_then_date_and_clamped",
        LIVE + "test_garbage_retry_after_falls_back_to_jittered_exponential_backoff",
        LIVE + "test_total_retry_budget_is_shared_across_requests",
        H + "test_network.py::test_41_any_retry_after_is_none_or_clamped",
        H + "test_network.py::test_41_backoff_is_bounded_for_any_attempt",
    )),
    42: Entry((
        LIVE + "test_redirect_to_another_origin_is_refused_and_nothing_is_sent_there",
        LIVE + "test_the_api_key_travels_only_to_the_token_path_and_the_token_only_in_authorization",
        SANDBOX + "test_a_redirect_elsewhere_is_refused_without_dialling_it",
    )),
    43: Entry((
        LIVE + "test_a_slow_drip_body_ends_at_the_request_deadline",
        LIVE + "test_the_run_deadline_bounds_a_whole_run",
        SANDBOX + "test_a_slow_drip_ends_at_the_deadline",
    )),
    44: Entry((
        LIVE + "test_a_401_refreshes_the_token_once_and_succeeds",
        LIVE + "test_a_second_401_after_the_refresh_is_a_clear_error_not_a_loop",
        LIVE + "test_httpx_loggers_are_quiet_once_a_client_exists",
        SANDBOX + "test_an_access_token_expiring_mid_pagination_is_refreshed_once",
        H + "test_secrets_canary.py::test_live_client_errors_never_carry_a_canary",
    )),
    45: Entry((
        H + "test_network.py::test_45_the_http_client_always_verifies",
        H + "test_network.py::test_45_no_option_turns_tls_verification_off",
        H + "test_network.py::test_45_a_broken_ca_setting_in_the_environment_is_one_clear_line",
        H + "test_network.py::test_45_no_trust_env_ignores_the_broken_ca_setting",
        H + "test_secrets_canary.py::test_environment_secrets_stay_out_of_debug_output",
        SANDBOX + "test_no_trust_env_ignores_a_proxy_from_the_environment",
    )),
    46: Entry((
        SANDBOX + "test_a_lost_answer_is_retried_with_the_same_idempotency_key",
        SANDBOX + "test_an_interrupted_step_is_resumed_with_its_journaled_key",
        SANDBOX + "test_already_revoked_counts_as_success_even_as_404",
        SANDBOX + "test_execute_refuses_to_revoke_the_key_keyscope_is_using",
        SANDBOX + "test_a_stale_plan_is_refused",
        LIVE + "test_a_write_retried_after_a_timeout_reuses_its_idempotency_key",
    )),
    # ------------------------------------------------------------------ output and operations
    47: Entry((
        H + "test_scheduled_runs.py::test_sigkill_while_paused_mid_write_leaves_the_previous_report_and_no_file",
        H + "test_scheduled_runs.py::test_sigkill_in_the_middle_of_a_write_keeps_the_previous_report",
        H + "test_scheduled_runs.py::test_sigkill_at_random_points_of_a_real_audit",
        H + "test_output_ops.py::test_47_a_full_disk_keeps_the_previous_report",
        H + "test_output_ops.py::test_47_symlinks_and_folders_are_refused_as_outputs",
        "tests/unit/test_output.py::test_failed_replace_keeps_previous_report_and_leaves_no_temp_file",
        "tests/unit/test_output.py::test_the_report_has_no_name_until_it_is_complete",
        "tests/unit/test_output.py::test_without_o_tmpfile_a_named_temporary_file_is_used",
        "tests/unit/test_output.py::test_other_failures_to_open_are_reported_not_hidden",
        "tests/unit/test_output.py::test_reports_are_readable_by_all_whatever_the_umask",
        "tests/unit/test_output.py::test_stale_temporaries_of_the_target_only_are_removed",
    ), note="Reports are written as anonymous O_TMPFILE files, so a kill mid-write leaves "
            "nothing; a kill in the microseconds between linking the finished file under a "
            "temporary name and renaming it (or any kill on a filesystem without O_TMPFILE, "
            "which gets a named temporary file) leaves a .<name>.*.tmp file that the next "
            "audit removes under the folder lock (output.remove_stale_temporaries)."),
    48: Entry((
        H + "test_scheduled_runs.py::test_two_overlapping_audits_one_exits_locked",
        H + "test_scheduled_runs.py::test_a_killed_run_leaves_no_lock_behind",
        H + "test_partial_data.py::test_locked_output_exits_6",
        "tests/unit/test_output.py::test_second_holder_of_the_lock_is_refused",
    )),
    49: Entry((
        H + "test_output_ops.py::test_49_expired_suppressions_bring_the_finding_back_with_a_warning",
        H + "test_output_ops.py::test_49_a_malformed_expiry_is_a_config_error_naming_the_entry",
        "tests/report/test_triage.py::test_entry_matching_nothing_is_reported_stale",
        "tests/report/test_triage.py::test_older_fingerprint_scheme_is_matched_by_identity_not_reported_all_new",
    )),
    50: Entry((
        H + "test_output_ops.py::test_50_more_findings_than_sarif_allows_are_aggregated_with_a_notification",
        "tests/report/test_sarif.py::test_past_the_result_limit_findings_are_rolled_up_per_rule_with_a_notification",
        "tests/report/test_sarif.py::test_per_key_first_one_result_per_rule_and_key",
        "tests/report/test_sarif.py::test_aggregate_fingerprints_follow_rule_and_key_not_subjects",
        "tests/report/test_sarif.py::test_when_per_key_is_still_too_many_rules_roll_up_per_rule_and_level",
        "tests/report/test_sarif.py::test_the_most_severe_rules_keep_their_detail",
        "tests/report/test_sarif.py::test_the_byte_limit_alone_also_leads_to_aggregation",
        "tests/report/test_sarif.py::test_as_a_last_resort_the_least_severe_are_cut_and_counted",
        "tests/report/test_sarif.py::test_aggregated_results_keep_suppressions_apart_and_baseline_state",
        "tests/report/test_sarif.py::test_aggregated_results_mask_secrets_and_show_no_control_characters",
        "tests/report/test_sarif.py::test_100k_keys_stay_within_the_limits_and_render_identically",
    )),
    # ------------------------------------------------------------------ promises
    "P1": Entry((
        H + "test_secrets_canary.py::test_audit_stdout_and_stderr_never_show_a_canary",
        H + "test_secrets_canary.py::test_audit_written_files_never_show_a_canary",
        H + "test_secrets_canary.py::test_spec_command_never_shows_a_canary",
        H + "test_secrets_canary.py::test_forced_exception_traceback_is_redacted_under_debug",
        H + "test_secrets_canary.py::test_help_never_shows_environment_secrets",
        H + "test_secrets_canary.py::test_environment_secrets_stay_out_of_debug_output",
        H + "test_secrets_canary.py::test_tui_screens_never_show_a_canary",
        H + "test_secrets_canary.py::test_live_client_errors_never_carry_a_canary",
        H + "test_secrets_canary.py::test_input_errors_never_echo_a_secret",
        H + "test_secrets_canary.py::test_redaction_reveals_at_most_prefix_and_last_four",
        H + "test_secrets_canary.py::test_a_secret_after_a_quoted_control_character_stays_masked_in_errors",
        H + "test_secrets_canary.py::test_typed_keys_glued_to_a_word_or_an_escape_code_are_masked",
        H + "test_secrets_canary.py::test_secrets_in_path_templates_and_scheme_names_are_masked_in_json",
        H + "test_secrets_canary.py::test_input_paths_holding_a_secret_are_masked_in_every_json",
        H + "test_secrets_canary.py::test_url_passwords_and_named_credentials_show_no_part_of_the_secret",
        H + "test_secrets_canary.py::test_a_baseline_finding_is_masked_and_made_safe_on_the_way_in",
        "tests/unit/test_redaction.py::test_mask_reveals_at_most_a_prefix_and_four_characters",
        "tests/unit/test_redaction.py::test_credential_shapes_show_at_most_the_last_four",
    )),
    "P2": Entry((
        H + "test_secrets_canary.py::test_no_option_could_carry_a_secret",
        H + "test_secrets_canary.py::test_secrets_never_reach_argv",
        LIVE + "test_a_failing_keyring_falls_back_to_the_environment_or_says_what_to_do",
        LIVE + "test_api_key_file_must_be_private",
        SANDBOX + "test_the_api_key_never_reaches_argv_output_or_files",
    )),
    "P3": Entry((
        H + "test_determinism.py::test_outputs_are_byte_identical_across_seeds_orders_splits_and_cores",
        "tests/cli/test_audit_cli.py::test_json_is_byte_identical_across_runs_and_hash_seeds",
        "tests/report/test_sarif.py::test_golden_sarif",
        "tests/report/test_html.py::test_golden_html",
        "tests/unit/test_audit.py::test_findings_are_sorted_and_complete",
    )),
    "P4": Entry((
        H + "test_partial_data.py::test_exit_code_by_threshold_end_to_end",
        H + "test_partial_data.py::test_usage_errors_exit_2",
        H + "test_partial_data.py::test_input_errors_exit_3_with_one_line",
        H + "test_partial_data.py::test_fail_on_incomplete_exits_4_after_writing_every_report",
        H + "test_partial_data.py::test_network_failure_exits_5",
        H + "test_partial_data.py::test_locked_output_exits_6",
        H + "test_partial_data.py::test_an_internal_exception_never_exits_0",
        H + "test_partial_data.py::test_an_internal_exception_in_spec_never_exits_0",
        "tests/cli/test_audit_cli.py::test_exit_code_table",
    ), note="Also 6 (output locked) and 70 (internal error), beyond the proposed 0-5."),
    "P5": Entry((
        H + "test_partial_data.py::test_incomplete_runs_say_so_in_every_format",
        H + "test_partial_data.py::test_the_complete_world_is_complete_and_advises_removal",
        H + "test_partial_data.py::test_fail_on_incomplete_exits_4_after_writing_every_report",
        SANDBOX + "test_a_cursor_loop_marks_the_snapshot_and_the_audit_incomplete",
        "tests/unit/test_snapshot.py::test_a_forbidden_usage_list_marks_the_snapshot_incomplete",
    )),
    "P6": Entry((
        H + "test_escaping.py::test_terminal_output_has_no_control_bytes",
        H + "test_escaping.py::test_json_is_ascii_and_keeps_raw_values",
        H + "test_escaping.py::test_html_has_only_template_elements_and_safe_links",
        H + "test_escaping.py::test_csv_cells_never_start_with_a_trigger",
        H + "test_escaping.py::test_sarif_is_schema_valid_with_text_only_messages",
        H + "test_escaping.py::test_markdown_has_no_live_html_links_or_images",
        H + "test_escaping.py::test_tui_names_render_exactly_the_sanitized_input",
        H + "test_escaping.py::test_no_markup_error_is_possible",
        H + "test_escaping.py::test_aggregate_warnings_show_file_names_terminal_safe",
        "tests/unit/test_text.py::test_any_text_is_safe_and_encodable",
    )),
    "P7": Entry((
        H + "test_bounded_resources.py::test_spec_bombs_end_fast_and_small",
        H + "test_bounded_resources.py::test_a_spec_over_the_byte_cap_is_refused_without_reading_it",
        H + "test_bounded_resources.py::test_inventory_bombs_end_fast_and_small",
        H + "test_bounded_resources.py::test_an_inventory_over_the_byte_cap_is_refused",
        H + "test_bounded_resources.py::test_a_har_gzip_bomb_is_refused_at_the_decompressed_cap",
        H + "test_bounded_resources.py::test_a_usage_gzip_bomb_is_refused_in_bounded_memory",
        LIVE + "test_a_slow_drip_body_ends_at_the_request_deadline",
        LIVE + "test_the_page_cap_marks_incomplete_instead_of_a_silent_short_read",
    )),
    "P8": Entry((
        H + "test_spec_inputs.py::test_08_p8_external_refs_are_reported_not_fetched",
        H + "test_network.py::test_p8_audit_of_local_files_opens_no_socket",
        SPEC_CLI + "test_08_url_refs",
        SANDBOX + "test_snapshot_audit_plan_and_dry_run_need_no_network",
    )),
    "P9": Entry((
        H + "test_output_ops.py::test_49_expired_suppressions_bring_the_finding_back_with_a_warning",
        H + "test_output_ops.py::test_p9_fingerprints_survive_renames_and_reordering",
        "tests/report/test_sarif.py::test_fingerprints_are_stable_across_runs_and_renames",
        "tests/report/test_triage.py::test_expiry_day_still_applies_and_the_next_day_the_finding_comes_back",
        "tests/report/test_triage.py::test_entry_matching_nothing_is_reported_stale",
    )),
    "P10": Entry((
        H + "test_scheduled_runs.py::test_two_overlapping_audits_one_exits_locked",
        H + "test_scheduled_runs.py::test_sigkill_in_the_middle_of_a_write_keeps_the_previous_report",
        H + "test_scheduled_runs.py::test_sigkill_at_random_points_of_a_real_audit",
        H + "test_output_ops.py::test_47_a_full_disk_keeps_the_previous_report",
        H + "test_determinism.py::test_outputs_are_byte_identical_across_seeds_orders_splits_and_cores",
    )),
    "P11": Entry((
        SANDBOX + "test_apply_without_execute_makes_no_request_at_all",
        SANDBOX + "test_execute_needs_confirmation_when_not_in_a_terminal",
        SANDBOX + "test_in_a_terminal_the_environment_name_must_be_typed",
        SANDBOX + "test_a_lost_answer_is_retried_with_the_same_idempotency_key",
        SANDBOX + "test_execute_refuses_to_revoke_the_key_keyscope_is_using",
        SANDBOX + "test_a_stale_plan_is_refused",
        SANDBOX + "test_plan_targets_only_keys_the_audit_could_judge",
        "tests/unit/test_remediation.py::test_keys_that_cannot_be_judged_or_need_nothing_get_no_step",
    )),
    "P12": Entry((
        H + "test_partial_data.py::test_recommendations_only_above_the_coverage_threshold",
        H + "test_partial_data.py::test_young_keys_are_too_new_to_judge",
        H + "test_partial_data.py::test_only_403s_never_add_a_scope",
        H + "test_partial_data.py::test_incomplete_runs_say_so_in_every_format",
        "tests/unit/test_audit.py::test_coverage_gates_removal_advice",
    )),
}  # fmt: skip
"""Every BAD-INPUTS row (1-50) and promise ("P1"-"P12") -> how keyscope meets it."""
