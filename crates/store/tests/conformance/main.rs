//! The store conformance suite: the `Store` contract, written once and run against every backend.
//!
//! Each test is an `async fn(Arc<dyn Store>)` in one of the modules below and goes through
//! `didpool_core::Engine` (with a `ManualClock`) and the store's own reads. `conformance!` runs
//! the whole list against one backend, each test on a fresh, empty database. Adding a backend is
//! one constructor in `backend` and one `conformance!(name, constructor)` line.

mod accounts;
mod audits;
mod backend;
mod concurrency;
mod console;
mod credentials;
mod idempotency;
mod inventory;
mod jobs;
mod numbers;
mod purchase;
mod sub_accounts;
mod support;
mod trunks;

/// Generates one `#[tokio::test]` per conformance test in `mod $backend`, each on a fresh
/// database from `$open`: an `async fn(test_name: &str) -> Option<backend::Backend>`, where `None`
/// skips the test (a backend that is not configured on this machine).
macro_rules! conformance {
    ($backend:ident, $open:path) => {
        conformance!(@tests $backend, $open, [
            accounts::a_created_master_account_reads_back_exactly_as_execute_returned_it,
            accounts::a_created_sub_account_reads_back_exactly_and_takes_its_parents_currency,
            accounts::an_account_with_a_chosen_id_that_is_taken_is_refused_and_writes_nothing,
            accounts::an_updated_sub_account_reads_back_exactly_as_execute_returned_it,
            accounts::a_top_up_credits_the_balance_with_one_ledger_entry,
            accounts::rows_that_were_never_written_read_back_as_none,
            inventory::a_stocked_number_reads_back_exactly_by_e164_and_by_id,
            inventory::importing_a_number_twice_is_refused_and_writes_nothing,
            inventory::an_imported_number_is_held_at_once_without_a_charge,
            inventory::a_released_imported_number_leaves_a_tombstone_and_its_e164_is_free_again,
            purchase::a_purchase_debits_the_balance_and_lists_ledger_entries_newest_first,
            purchase::ledger_filters_and_pages_keep_totals_over_the_whole_filtered_set,
            purchase::a_purchase_without_enough_balance_changes_nothing,
            purchase::a_sub_account_purchase_is_held_by_the_sub_account_and_billed_to_its_parent,
            purchase::a_release_returns_the_number_to_inventory_after_purchased_and_released_events,
            purchase::a_windowed_release_with_a_fee_stores_the_pending_release_and_its_fee,
            numbers::number_lists_filter_by_holder,
            numbers::number_lists_filter_by_country_search_excluded_prefixes_and_state,
            numbers::number_lists_filter_by_region,
            numbers::number_lists_page_in_e164_order_with_the_total_of_the_whole_filtered_set,
            numbers::held_list_totals_stay_exact_through_purchases_and_releases,
            numbers::inventory_search_finds_what_a_plain_scan_finds_through_purchases_releases_and_imports,
            numbers::number_searches_of_every_holder_find_held_and_unheld_numbers,
            sub_accounts::sub_accounts_list_newest_first_and_hide_deleted_ones,
            sub_accounts::deleting_a_sub_account_that_holds_numbers_is_refused_and_changes_nothing,
            sub_accounts::deleting_a_sub_account_hides_it_and_revokes_its_credentials,
            sub_accounts::a_command_that_fails_after_writing_some_rows_leaves_none_of_them,
            trunks::a_trunk_reads_back_exactly_after_create_and_update,
            trunks::deleting_a_trunk_detaches_its_numbers_and_records_their_events,
            credentials::a_credential_is_found_by_kind_and_hash_and_authenticates_only_while_live,
            credentials::a_credential_whose_hash_is_taken_is_refused_and_writes_nothing,
            credentials::a_rotated_auth_token_reads_back_and_works_until_its_grace_period_ends,
            credentials::a_setting_reads_back_as_last_written,
            credentials::the_token_signing_key_is_kept_once,
            audits::a_forced_unassign_writes_an_assignment_audit_row,
            audits::an_unassign_inside_the_cool_off_is_refused_and_writes_no_audit,
            concurrency::a_failing_command_in_a_concurrent_batch_does_not_affect_the_others,
            concurrency::concurrent_purchases_of_the_same_number_sell_it_exactly_once,
            idempotency::a_key_is_claimed_once_answered_replayed_and_expires,
            idempotency::a_released_or_lapsed_claim_is_taken_over,
            idempotency::a_keyed_command_commits_its_outcome_and_answers_its_step_again,
            console::a_console_session_lives_while_used_and_its_credential_works,
            console::operator_sessions_follow_the_admin_token_and_dead_ones_are_pruned,
            numbers::number_lists_filter_by_holding_sub_account_and_trunk,
            jobs::a_locked_number_reads_back_with_its_lock_and_its_release_writes_nothing,
            jobs::a_job_and_its_items_read_back_exactly_and_only_to_who_sees_them,
            jobs::a_job_is_leased_to_one_runner_and_taken_over_once_the_lease_lapses,
            jobs::runners_racing_for_one_job_claim_it_once,
        ]);
    };
    (@tests $backend:ident, $open:path, [$($module:ident :: $test:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(backend) = $open(stringify!($test)).await else {
                        return;
                    };
                    crate::$module::$test(backend.store()).await;
                }
            )*
        }
    };
}

conformance!(sqlite, crate::backend::sqlite);
conformance!(postgres, crate::backend::postgres);
