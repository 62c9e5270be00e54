"""Bulk assign, transfer and status change from the queue: one CSRF form, a result per ticket."""

from __future__ import annotations

import re

from tests.console.conftest import reload


def results(response) -> dict[str, tuple[bool, str]]:
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True)
    rows = re.findall(
        r'data-code="([^"]+)" data-ok="(yes|no)">\s*<td>[^<]*</td><td>([^<]*)</td>', text
    )
    return {code: (ok == "yes", message) for code, ok, message in rows}


def test_bulk_status_assign_transfer(db, file, console, org):
    a, b, c = (file(f"Phản ánh hàng loạt số {i}") for i in range(3))
    foreign = file("Việc của phường B", area="TCS-B")
    console.login("tcs.a1")
    page = console.get("/console/").get_data(as_text=True)
    assert page.count('name="codes"') == 3 and 'action="/console/bulk"' in page

    # Missing CSRF token: refused as a whole.
    no_token = console.client.post("/console/bulk", data={"op": "status", "bulk_action": "accept",
                                                          "codes": [a.code]})  # fmt: skip
    assert no_token.status_code == 400 and reload(db, a).status == "routed"

    console.act(b.code, "accept")  # already accepted: accepting again must fail for b only
    got = results(console.post("/console/bulk", op="status", bulk_action="accept",
                               codes=[a.code, b.code, foreign.code, "PA-1999-000009"],
                               next="/console/?status=open"))  # fmt: skip
    assert (
        got[a.code][0]
        and not got[b.code][0]
        and "is not possible while the ticket is “Accepted for handling”" in got[b.code][1]
    )
    assert got[foreign.code] == (False, "Not found.") and not got["PA-1999-000009"][0]
    assert reload(db, a).status == "accepted" and reload(db, foreign).status == "routed"

    got = results(console.post("/console/bulk", op="status", bulk_action="reject",
                               codes=[a.code, c.code], body=""))  # fmt: skip
    assert not got[a.code][0] and not got[c.code][0]  # a reason is needed

    a2 = org["users"]["tcs.a2"]
    got = results(console.post("/console/bulk", op="assign", assignee=a2, codes=[a.code, c.code]))
    assert got == {a.code: (True, "Done."), c.code: (True, "Done.")}
    assert reload(db, a).assignee_id == reload(db, c).assignee_id == a2
    got = results(console.post("/console/bulk", op="assign", assignee=org["users"]["tcs.b1"],
                               codes=[a.code]))  # fmt: skip
    assert got[a.code] == (False, "That person cannot handle this ticket.")

    got = results(console.post("/console/bulk", op="transfer", codes=[a.code, c.code],
                               target_agency=org["agencies"]["TCS-C"], body="Thuộc xã C."))  # fmt: skip
    assert all(ok for ok, _ in got.values())
    assert {reload(db, t).agency_id for t in (a, c)} == {org["agencies"]["TCS-C"]}

    response = console.post("/console/bulk", op="status", bulk_action="withdraw", codes=[b.code])
    assert results(response)[b.code] == (False, "Choose a status change.")
    empty = console.post("/console/bulk", op="status", bulk_action="accept")
    assert empty.status_code == 302 and reload(db, b).status == "accepted"
    evil = console.post("/console/bulk", op="bogus", codes=[b.code], next="https://evil.example/")
    assert evil.status_code == 302 and evil.location.endswith("/console/")
