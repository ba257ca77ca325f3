"""The official Vobiz Python SDK (vobiz-python==0.1.1, unchanged) against didpool's Vobiz face:
every lifecycle call it makes, each result and each error class it raises."""

import pytest
from vobiz.exceptions import (
    AuthenticationError,
    ForbiddenError,
    InvalidRequestError,
    ResourceNotFoundError,
    ValidationError,
    VobizServerError,
)

from conftest import STOCK, VOBIZ

V1 = f"{VOBIZ}/api/v1"


@pytest.fixture(scope="module")
def master(server):
    return server.account(100000)


def test_wrong_token_is_an_authentication_error(client_for, master):
    c = client_for(master[0], "not-the-token")
    with pytest.raises(AuthenticationError):
        c.phone_numbers.list_inventory(country="IN")


def test_inventory_lists_stock(client_for, master):
    c = client_for(*master)
    page = c.phone_numbers.list_inventory(country="IN", page=1, per_page=5)
    assert page.page == 1 and page.per_page == 5
    assert page.total >= 5 and len(page.items) == 5
    item = page.items[0]
    assert item.e164.startswith("+91") and item.monthly_fee == 100
    assert item.status == "active" and item.account_id == ""
    second = c.phone_numbers.list_inventory(country="IN", page=2, per_page=5)
    assert {i.e164 for i in second.items}.isdisjoint({i.e164 for i in page.items})


def test_purchase_assign_trunk_and_release(server, client_for, master):
    c = client_for(*master)
    e164 = STOCK[0]
    bought = c.phone_numbers.purchase_from_inventory(e164, currency="INR")
    assert bought.number.e164 == e164
    assert bought.number.account_id == master[0]
    assert bought.number.source == "purchased"

    # Bought twice: no longer in inventory.
    with pytest.raises(ResourceNotFoundError):
        c.phone_numbers.purchase_from_inventory(e164, currency="INR")

    owned = c.phone_numbers.list(page=1, per_page=25, include_subaccounts=True)
    assert e164 in [n.e164 for n in owned.items]

    trunk = c.sip_trunks.create("Production", trunk_type="INBOUND", max_concurrent_calls=10)
    assert c.phone_numbers.assign_to_trunk(e164, trunk.trunk_id) is None  # 204
    owned = c.phone_numbers.list(page=1, per_page=25)
    assert [n.trunk_group_id for n in owned.items if n.e164 == e164] == [trunk.trunk_id]
    # Already on a trunk: 400.
    with pytest.raises(ValidationError):
        c.phone_numbers.assign_to_trunk(e164, trunk.trunk_id)
    assert c.phone_numbers.unassign_from_trunk(e164) is None
    # Not on a trunk any more: 404.
    with pytest.raises(ResourceNotFoundError):
        c.phone_numbers.unassign_from_trunk(e164)

    # Another account may not release it (the documented 403), nor route it (404).
    stranger = client_for(*server.account(10))
    with pytest.raises(ForbiddenError):
        stranger.phone_numbers.release(e164)
    with pytest.raises(ResourceNotFoundError):
        stranger.phone_numbers.assign_to_trunk(e164, trunk.trunk_id)

    assert c.phone_numbers.release(e164) is None  # 204
    owned = c.phone_numbers.list(page=1, per_page=25)
    assert e164 not in [n.e164 for n in owned.items]
    # Back in inventory.
    inv = c.phone_numbers.list_inventory(country="IN", page=1, per_page=100)
    assert e164 in [i.e164 for i in inv.items]


def test_trunks_crud(client_for, master):
    c = client_for(*master)
    t = c.sip_trunks.create("Edge", trunk_type="OUTBOUND", max_concurrent_calls=7)
    assert t.name == "Edge" and t.concurrent_calls_limit == 7
    assert t.trunk_direction == "outbound"
    listed = c.sip_trunks.list(page=1, size=10)
    assert t.trunk_id in [o.trunk_id for o in listed.objects]
    assert listed.meta.total >= 1
    assert c.sip_trunks.get(t.trunk_id).name == "Edge"
    updated = c.sip_trunks.update(t.trunk_id, cps_limit=5)
    assert updated.cps_limit == 5 and updated.name == "Edge"
    assert c.sip_trunks.delete(t.trunk_id) is None
    with pytest.raises(ResourceNotFoundError):
        c.sip_trunks.get(t.trunk_id)
    with pytest.raises(ResourceNotFoundError):
        c.sip_trunks.delete(t.trunk_id)


def test_sub_accounts_crud_and_numbers_on_them(server, client_for, master):
    c = client_for(*master)
    created = c.subaccounts.create(
        "Support Team", "support@example.com", 100, {"calls": True, "cdr": False}, "pw-123456",
        description="support",
    )
    sub = created.sub_account
    assert sub.auth_id.startswith("SA_") and sub.parent_auth_id == master[0]
    creds = created.auth_credentials
    assert creds.auth_id == sub.auth_id and creds.auth_token

    listed = c.subaccounts.list(page=1, size=25, active_only=True)
    assert sub.auth_id in [s.auth_id for s in listed.sub_accounts]
    got = c.subaccounts.get(sub.auth_id)
    assert got.name == "Support Team" and got.auth_token == "<redacted>"
    updated = c.subaccounts.update(sub.auth_id, description="tier 2")
    assert updated.description == "tier 2" and updated.enabled is True

    # A number handed to the sub-account (no SDK method: the SDK's own session, §11.2).
    e164 = STOCK[1]
    c.phone_numbers.purchase_from_inventory(e164, currency="INR")
    r = c.session.post(f"{V1}/account/{master[0]}/numbers/{e164}/assign-subaccount",
                       json={"sub_account_id": sub.auth_id})
    assert c.process_response("POST", r) is None and r.status_code == 204

    with_subs = c.phone_numbers.list(page=1, per_page=100, include_subaccounts=True)
    without = c.phone_numbers.list(page=1, per_page=100, include_subaccounts=False)
    assert [n.account_id for n in with_subs.items if n.e164 == e164] == [sub.auth_id]
    assert e164 not in [n.e164 for n in without.items]

    # The sub-account sees it with its own credentials.
    sc = client_for(creds.auth_id, creds.auth_token)
    assert e164 in [n.e164 for n in sc.phone_numbers.list(page=1, per_page=25).items]

    # A sub-account still holding numbers cannot be deleted: 409.
    with pytest.raises(InvalidRequestError):
        c.subaccounts.delete(sub.auth_id)

    # Used within 15 days: the cool-off keeps it there (409 did_cool_off_in_effect).
    server.report_call(e164)
    r = c.session.delete(f"{V1}/account/{master[0]}/numbers/{e164}/assign-subaccount")
    with pytest.raises(InvalidRequestError) as e:
        c.process_response("DELETE", r)
    assert "did_cool_off_in_effect" in str(e.value)

    # An admin-role account may force it back (audited).
    admin = server.account(1000, role="admin")
    ac = client_for(*admin)
    asub = ac.subaccounts.create("Ops", "ops@example.com", 10, {"calls": True, "cdr": True}, "pw-654321")
    ae164 = STOCK[2]
    ac.phone_numbers.purchase_from_inventory(ae164, currency="INR")
    r = ac.session.post(f"{V1}/account/{admin[0]}/numbers/{ae164}/assign-subaccount",
                        json={"sub_account_id": asub.sub_account.auth_id})
    assert r.status_code == 204
    server.report_call(ae164)
    r = ac.session.delete(f"{V1}/account/{admin[0]}/numbers/{ae164}/assign-subaccount",
                          params={"force": "true"})
    assert ac.process_response("DELETE", r) is None and r.status_code == 204

    # Release the customer's number from the sub-account's hands, then delete the sub-account.
    assert c.phone_numbers.release(e164) is None
    deleted = c.subaccounts.delete(sub.auth_id)
    assert deleted is None or deleted.message
    with pytest.raises(ResourceNotFoundError):
        c.subaccounts.get(sub.auth_id)


def test_balance_and_transactions(client_for, master):
    c = client_for(*master)
    bal = c.accounts.get_balance(master[0], "INR")
    assert bal.currency == "INR" and bal.available_balance == bal.balance
    assert bal.balance < 100000  # purchases were debited
    tx = c.accounts.get_transactions(master[0], limit=20, offset=0)
    kinds = {t.type for t in tx.transactions}
    assert "debit" in kinds and "credit" in kinds
    assert tx.summary.total_transactions == len(tx.transactions)
    assert round(tx.summary.net_amount, 2) == round(bal.balance, 2)
    me = c.accounts.get()
    assert me.auth_id == master[0]
    with pytest.raises(ResourceNotFoundError):
        c.accounts.get_balance(master[0], "USD")


def test_other_accounts_are_forbidden(server, client_for, master):
    other = server.account(10)
    c = client_for(*master)
    with pytest.raises(ForbiddenError):
        c.accounts.get_balance(other[0], "INR")
    with pytest.raises(ForbiddenError):
        c.accounts.get_transactions(other[0])


def test_purchase_without_balance_is_the_documented_500(server, client_for):
    poor = server.account(0)
    c = client_for(*poor)
    with pytest.raises(VobizServerError):
        c.phone_numbers.purchase_from_inventory(STOCK[3], currency="INR")
    inv = c.phone_numbers.list_inventory(country="IN", page=1, per_page=100)
    assert STOCK[3] in [i.e164 for i in inv.items]
