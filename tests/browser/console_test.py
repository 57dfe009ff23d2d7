"""The dispatcher's web console in a real browser (Debian's Chromium, driven by Playwright)
against a real demo server: sign-in, the live board and map, suggestions with exclusion
reasons, assignment, booking, DOUBLE_BOOKED, intake field errors, the schedule, both
languages, keyboard use, and the board resuming after the server restarts.

Usage: console_test.py SERVER_BINARY SCREENSHOT_DIR
"""

import datetime
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid

from playwright.sync_api import expect, sync_playwright

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import walk_lifecycle  # noqa: E402  (the generated gRPC stubs)

TEAM_ZONE = "Asia/Shanghai"
TEAM_OFFSET = datetime.timedelta(hours=8)
# The browser runs elsewhere: every time the console shows must still be the team's.
BROWSER_ZONE = "America/New_York"


class Server:
    """The demo server in a process of its own, restartable on the same port and data."""

    def __init__(self, binary):
        self.binary = binary
        self.data = tempfile.mkdtemp(prefix="onsite-console-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--demo", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data,
             "--time-zone", TEAM_ZONE],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "ONSITE_LOG": "warn"})
        lines = []
        for line in self.process.stdout:
            lines.append(line.strip())
            if line.startswith("Ready:"):
                break
        return lines

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None


def logins(lines):
    manager = next(line.split(": ", 1)[1] for line in lines if line.startswith("dispatcher token: "))
    login_line = next(line for line in lines if line.startswith("dispatcher login: "))
    password = (login_line.split("login: ")[1].split()[0], login_line.split("password: ")[1].strip())
    engineers = []
    for line in lines:
        if line.startswith("engineer No. "):
            rest = line[len("engineer No. "):]
            engineers.append((rest.split(" ")[0], rest.split("(")[1].split(")")[0], rest.rsplit("token: ", 1)[1]))
    console = next(line for line in lines if line.startswith("Console: "))
    return manager, password, engineers, console


def team_wall(ts_seconds):
    """A UTC instant as the datetime-local value of the team's zone."""
    at = datetime.datetime.fromtimestamp(ts_seconds, datetime.timezone.utc) + TEAM_OFFSET
    return at.strftime("%Y-%m-%dT%H:%M")


def main():
    binary, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)
    server = Server(binary)
    manager, password, engineers, console_line = logins(server.start())
    assert server.url in console_line, f"the server prints the console's URL: {console_line!r}"
    m = walk_lifecycle.generate_stubs()
    import grpc
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    slips = m["slips_pb2_grpc"].SlipServiceStub(channel)
    engineer_api = m["engineers_pb2_grpc"].EngineerServiceStub(channel)
    s = m["slips_pb2"]
    as_manager = [("authorization", "Bearer " + manager)]

    def slip_in(state):
        listed = slips.ListSlips(s.ListSlipsRequest(state=state, page_size=50), metadata=as_manager).slips
        assert listed, f"the demo has a slip in state {state}"
        return listed[0]

    open_states = [s.SLIP_STATE_DRAFT, s.SLIP_STATE_VERIFIED, s.SLIP_STATE_DISPATCHED, s.SLIP_STATE_DECLINED,
                   s.SLIP_STATE_CONFIRMED, s.SLIP_STATE_SCHEDULED, s.SLIP_STATE_EN_ROUTE, s.SLIP_STATE_ON_SITE]
    open_slips = [x for state in open_states
                  for x in slips.ListSlips(s.ListSlipsRequest(state=state, page_size=200), metadata=as_manager).slips]
    all_engineers = engineer_api.ListEngineers(m["engineers_pb2"].ListEngineersRequest(page_size=200),
                                               metadata=as_manager).engineers
    tickets = m["tickets_pb2_grpc"].TicketServiceStub(channel)
    urgent = sum(1 for slip in open_slips
                 if tickets.GetTicket(m["tickets_pb2"].GetTicketRequest(id=slip.ticket_id), metadata=as_manager)
                 .severity == m["common_pb2"].SEVERITY_URGENT)
    assert urgent, "the demo has urgent open slips"
    verified, confirmed, draft = (slip_in(s.SLIP_STATE_VERIFIED), slip_in(s.SLIP_STATE_CONFIRMED),
                                  slip_in(s.SLIP_STATE_DRAFT))
    # An appointment under way holds its engineer's time: booking over it is a double booking.
    scheduled = slip_in(s.SLIP_STATE_ON_SITE)
    booked_engineer = next(e for e in all_engineers if e.id == scheduled.engineer_id)
    booked_token = next(token for number, _, token in engineers if number == booked_engineer.employee_number)

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            new_context = lambda: browser.new_context(  # noqa: E731
                viewport={"width": 1500, "height": 950}, timezone_id=BROWSER_ZONE, locale="en-US")
            expect.set_options(timeout=20_000)
            a = sign_in_with_password(new_context(), server.url, *password)
            b = sign_in_with_token(new_context(), server.url, manager)
            try:
                run_checks(a, b, server, shots, m, engineer_api, slips, as_manager, s, open_slips, urgent,
                           all_engineers, verified, confirmed, draft, scheduled, booked_engineer, booked_token)
            except BaseException:
                # What the dispatcher saw when it failed: kept with the screenshots.
                a.screenshot(path=os.path.join(shots, "failure.png"))
                print(a.locator("body").inner_text(), file=sys.stderr)
                raise
            browser.close()
    finally:
        server.stop()
    print("console: every check passed")


def run_checks(a, b, server, shots, m, engineer_api, slips, as_manager, s, open_slips, urgent, all_engineers,
               verified, confirmed, draft, scheduled, booked_engineer, booked_token):
    board_and_map(a, open_slips, urgent, all_engineers, shots)
    assigned = suggest_and_assign(a, b, verified)
    book_window(a, b, confirmed, slips, as_manager, s)
    double_booking(a, draft, scheduled, booked_engineer, booked_token, slips, s)
    intake(a, b)
    schedule(a, booked_engineer, scheduled, shots, m, engineer_api, as_manager)
    languages(a)
    resumes_after_restart(b, server, slips, as_manager, s, assigned)
    sign_out(a)


def step(name):
    print(f"PASS {name}", flush=True)


def open_console(context, url):
    page = context.new_page()
    page.on("pageerror", lambda e: print(f"script error: {e}", file=sys.stderr))
    page.goto(url + "/?lang=en")
    expect(page.get_by_role("heading", name="Onsite dispatch console")).to_be_visible()
    return page


def sign_in_with_password(context, url, login, password):
    page = open_console(context, url)
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in failed")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page.locator(".connection")).to_have_text("Live")
    expect(page.locator("header")).to_contain_text("Signed in as Dispatch desk")
    step("a dispatcher signs in with a password (after a wrong one is refused) and the board goes live")
    return page


def sign_in_with_token(context, url, token):
    page = open_console(context, url)
    page.get_by_label("API token", exact=True).fill(token)
    page.get_by_label("API token", exact=True).press("Enter")
    expect(page.locator(".connection")).to_have_text("Live")
    step("a second dispatcher signs in with an API token")
    return page


def row(page, ticket_number):
    return page.locator("table.slips tbody tr", has_text=ticket_number)


def board_and_map(page, open_slips, urgent, engineers, shots):
    expect(page.locator("table.slips tbody tr")).to_have_count(len(open_slips))
    for slip in open_slips:
        expect(row(page, slip.ticket_number)).to_have_count(1)
    located = [e for e in engineers if e.HasField("home_base") or e.HasField("last_position")]
    expect(page.locator(".legend")).to_have_text(f"Engineers: {len(located)} · Open slips: {len(open_slips)}")
    expect(page.locator("path.slip-marker")).to_have_count(len(open_slips))
    expect(page.locator(".map-panel")).to_have_attribute("data-engineers", str(len(located)))
    expect(page.locator("table.engineers tbody tr")).to_have_count(len(engineers))
    page.screenshot(path=os.path.join(shots, "board.png"))
    page.locator(".map-panel").screenshot(path=os.path.join(shots, "map.png"))
    step(f"the board lists the {len(open_slips)} open slips and {len(engineers)} engineers; the map shows them")

    rows = page.locator("table.slips tbody tr[data-slip]")
    page.get_by_label("Severity", exact=True).select_option(label="Urgent")
    # Counted first: the rows in view before the filter applies may be urgent too.
    expect(rows).to_have_count(urgent)
    for i in range(urgent):
        expect(rows.nth(i)).to_contain_text("Urgent")
    page.get_by_label("Severity", exact=True).select_option(label="Any")
    skill = sorted({k for slip in open_slips for k in slip.required_skills})[0]
    page.get_by_label("Skill", exact=True).select_option(skill)
    expect(rows).to_have_count(sum(1 for slip in open_slips if skill in slip.required_skills))
    page.get_by_label("Skill", exact=True).select_option(label="Any")
    page.get_by_label("State", exact=True).select_option(label="Draft")
    expect(rows).to_have_count(1)
    page.get_by_label("State", exact=True).select_option(label="Any")
    expect(rows).to_have_count(len(open_slips))
    step(f"the board filters by severity, skill ({skill}) and state")


def suggest_and_assign(a, b, slip):
    # Clicking the slip on the map selects it.
    a.locator(f"path.slip-{slip.id}").click()
    panel = a.locator(".dispatch")
    expect(panel.get_by_role("heading", level=2)).to_contain_text(slip.ticket_number)
    suggested = panel.locator("table.suggested tbody tr")
    expect(suggested.first).to_be_visible()
    expect(panel).to_contain_text("straight line")
    excluded = panel.locator("table.excluded tbody tr")
    expect(excluded.first).to_be_visible()
    reasons = {excluded.nth(i).get_attribute("data-reason") for i in range(excluded.count())}
    known = {"STATUS_OFF", "MISSING_SKILL", "TIER_TOO_LOW", "OFF_SHIFT", "DOUBLE_BOOKED", "OVERLOADED"}
    assert reasons and reasons <= known, f"exclusion reasons {reasons}"
    expect(excluded.first.locator("td").nth(2)).not_to_be_empty()
    name = suggested.first.locator("td").first.inner_text()
    suggested.first.get_by_role("button", name="Assign").click()
    expect(panel.locator(".status-line")).to_have_text(f"Assigned to {name}.")
    expect(row(a, slip.ticket_number)).to_contain_text("Dispatched")
    expect(row(a, slip.ticket_number)).to_contain_text(name)
    step(f"suggestions with exclusion reasons {sorted(reasons)}; assigned {slip.ticket_number} to {name}")
    expect(row(b, slip.ticket_number)).to_contain_text("Dispatched")
    expect(row(b, slip.ticket_number)).to_contain_text(name)
    step("a second browser sees the assignment arrive live")
    return slip.ticket_number


def book_window(a, b, slip, slips, as_manager, s):
    # By keyboard only: focus the slip's button in the table, open it, fill and submit the form.
    row(a, slip.ticket_number).get_by_role("button").focus()
    a.keyboard.press("Enter")
    panel = a.locator(".dispatch")
    expect(panel.get_by_role("heading", name="Book a window")).to_be_visible()
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + TEAM_OFFSET + datetime.timedelta(days=1)).date()
    panel.get_by_label("Start").fill(f"{tomorrow}T10:00")
    panel.get_by_label("End").fill(f"{tomorrow}T12:00")
    expect(panel.get_by_label("Customer contact who agreed")).not_to_have_value("")
    panel.get_by_label("End").press("Enter")
    expect(panel.locator(".status-line")).to_have_text("Window booked.")
    expect(row(a, slip.ticket_number)).to_contain_text("Scheduled")
    expect(row(a, slip.ticket_number)).to_contain_text(f"{tomorrow.month:02d}/{tomorrow.day:02d}, 10:00")
    stored = slips.GetSlip(s.GetSlipRequest(id=slip.id), metadata=as_manager)
    start = stored.appointment.window.start.seconds
    expected = datetime.datetime(tomorrow.year, tomorrow.month, tomorrow.day, 2, 0, tzinfo=datetime.timezone.utc)
    assert start == int(expected.timestamp()), f"10:00 in {TEAM_ZONE} is 02:00 UTC, got {stored.appointment.window}"
    step(f"booked {slip.ticket_number} 10:00-12:00 in the team's zone by keyboard (stored as 02:00 UTC)")
    expect(row(b, slip.ticket_number)).to_contain_text("Scheduled")
    step("the second browser sees the booking")

    # The customer asks for the afternoon: the same slip is rescheduled, with the reason.
    expect(panel.get_by_role("heading", name="Reschedule")).to_be_visible()
    panel.get_by_label("Start").fill(f"{tomorrow}T14:00")
    panel.get_by_label("End").fill(f"{tomorrow}T16:00")
    panel.get_by_label("Why it moves").fill("The customer asked for the afternoon")
    panel.get_by_label("Customer informed in advance").check()
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".status-line")).to_have_text("Window booked.")
    expect(row(a, slip.ticket_number)).to_contain_text(f"{tomorrow.month:02d}/{tomorrow.day:02d}, 14:00")
    stored = slips.GetSlip(s.GetSlipRequest(id=slip.id), metadata=as_manager).appointment
    assert stored.reschedule_count == 1 and stored.customer_informed, f"rescheduled once, informed: {stored}"
    assert stored.last_reschedule_reason == "The customer asked for the afternoon"
    expect(row(b, slip.ticket_number)).to_contain_text(f"{tomorrow.month:02d}/{tomorrow.day:02d}, 14:00")
    step("rescheduled to 14:00 with the reason; the second browser sees the new time")


def double_booking(a, draft, scheduled, engineer, engineer_token, slips, s):
    row(a, draft.ticket_number).get_by_role("button").click()
    panel = a.locator(".dispatch")
    panel.get_by_role("button", name="Verify").click()
    expect(row(a, draft.ticket_number)).to_contain_text("Verified")
    label = f"{engineer.name} ({engineer.employee_number})"
    panel.get_by_label("Or assign to").fill(label)
    panel.get_by_label("Or assign to").press("Enter")
    expect(panel.locator(".status-line")).to_have_text(f"Assigned to {label}.")
    # The engineer confirms on the phone; the board brings the confirmation to the dispatcher.
    slips.ConfirmSlip(s.SlipActionRequest(request_id=str(uuid.uuid4()), slip_id=draft.id),
                      metadata=[("authorization", "Bearer " + engineer_token)])
    expect(panel.get_by_role("heading", name="Book a window")).to_be_visible()
    taken = scheduled.appointment.window
    panel.get_by_label("Start").fill(team_wall(taken.start.seconds))
    panel.get_by_label("End").fill(team_wall(taken.end.seconds))
    panel.get_by_role("button", name="Save").click()
    status = panel.locator(".status-line")
    expect(status).to_contain_text("DOUBLE_BOOKED")
    expect(status).to_contain_text(scheduled.ticket_number)
    expect(status).to_contain_text(team_wall(taken.start.seconds)[11:16])
    step(f"a double booking names {scheduled.ticket_number} and its time")
    # A window ending before it starts: the server's field violation shows at the field.
    panel.get_by_label("End").fill(team_wall(taken.start.seconds - 3600))
    panel.get_by_role("button", name="Save").click()
    shown = panel.locator(".booking .field-error:not(:empty)")
    expect(shown).to_have_count(1)
    step(f"a bad window shows the server's error at its field: {shown.inner_text()!r}")


def intake(a, b):
    a.get_by_role("button", name="New ticket").click()
    form = a.locator("form.grid-form")
    form.get_by_label("Title *").fill("Scanner gateway rejects logins")
    form.get_by_label("Customer *").select_option(index=1)
    form.get_by_label("Channel *").select_option(label="Hotline")
    form.get_by_label("Category *").select_option(label="Fault")
    form.get_by_label("Severity *").select_option(label="Important")
    form.get_by_label("Symptoms *").fill("All handheld scanners get 'login refused' since 08:00.")
    form.get_by_label("Impact scope *").fill("Warehouse B, 40 scanners")
    form.get_by_role("button", name="Create ticket").click()
    contact_error = form.locator(".field", has=a.get_by_label("Contact name *")).locator(".field-error")
    expect(contact_error).not_to_be_empty()
    expect(form.get_by_label("Contact name *")).to_have_attribute("aria-invalid", "true")
    step(f"an intake without a contact shows the server's field error there: {contact_error.inner_text()!r}")
    form.get_by_label("Contact name *").fill("Ms. Gao")
    form.get_by_role("button", name="Create ticket").click()
    created = a.locator(".intake > .status-line")
    expect(created).to_contain_text("created")
    number = created.inner_text().split(" ")[1]
    slip_form = a.locator("form[aria-label='Create a dispatch slip']")
    slip_form.get_by_label("Solution plan and instructions *").fill("Check the gateway's certificate; back up first.")
    slip_form.get_by_label("Required skills (comma separated)").fill("network")
    slip_form.get_by_role("button", name="Create a dispatch slip").click()
    a.get_by_role("button", name="Verify").click()
    expect(a.get_by_text("Slip verified: it is on the board.")).to_be_visible()
    step(f"intake created {number}, a slip, and verified it")
    expect(row(b, number)).to_contain_text("Verified")
    step("the new slip appears on the other board live")

    # Back on the board, the dispatcher leaves the choice to the server's ranking.
    a.get_by_role("button", name="Board").click()
    row(a, number).get_by_role("button").click()
    a.locator(".dispatch").get_by_role("button", name="Auto-assign the best").click()
    expect(row(a, number)).to_contain_text("Dispatched")
    expect(row(b, number)).to_contain_text("Dispatched")
    assigned = row(a, number).locator("td").nth(4).inner_text()
    assert assigned != "Unassigned", assigned
    step(f"auto-assign sent {number} to {assigned}")


def schedule(a, engineer, scheduled, shots, m, engineer_api, as_manager):
    # A day off on this week's Sunday (the week shown), set by the office: the board's stream
    # brings it to the console.
    today = (datetime.datetime.now(datetime.timezone.utc) + TEAM_OFFSET).date()
    day_off = today + datetime.timedelta(days=6 - today.weekday())
    e = m["engineers_pb2"]
    date = m["common_pb2"].Date(year=day_off.year, month=day_off.month, day=day_off.day)
    changed = e.Engineer(id=engineer.id, days_off=[date])
    engineer_api.UpdateEngineer(e.UpdateEngineerRequest(request_id=str(uuid.uuid4()), engineer=changed,
                                                        update_mask={"paths": ["days_off"]}), metadata=as_manager)
    a.get_by_role("button", name="Schedule").click()
    who = a.get_by_label("Engineer")
    who.fill(f"{engineer.name} ({engineer.employee_number})")
    who.press("Enter")
    who.dispatch_event("change")
    block = a.locator(".timeline .appointment", has_text=scheduled.ticket_number)
    expect(block.first).to_be_visible()
    expect(block.first).to_contain_text(team_wall(scheduled.appointment.window.start.seconds)[11:16])
    expect(a.locator(".timeline .day")).to_have_count(7)
    expect(a.locator(".timeline .shift").first).to_be_visible()
    expect(a.locator(f'.timeline .day[data-day="{day_off}"]')).to_have_class("day off")
    expect(a.locator(f'.timeline .day[data-day="{day_off}"]')).to_contain_text("Day off")
    expect(a.locator(".timeline")).to_contain_text(f"Days off: {day_off}")
    a.screenshot(path=os.path.join(shots, "schedule.png"))
    step(f"the week of {engineer.name} shows {scheduled.ticket_number} at its team-zone time, the shift and a day off")


def languages(a):
    a.get_by_role("button", name="中文").click()
    expect(a.get_by_role("button", name="看板")).to_be_visible()
    expect(a.locator("table.slips thead")).to_contain_text("工单")
    a.get_by_role("button", name="English").click()
    expect(a.get_by_role("button", name="Board")).to_be_visible()
    step("the console switches to Chinese and back")


def resumes_after_restart(b, server, slips, as_manager, s, ticket_number):
    server.stop()
    expect(b.locator(".connection")).to_have_text("Reconnecting…")
    server.start()
    # A change right after the restart, while the board is still waiting to reconnect.
    declined = slips.ListSlips(s.ListSlipsRequest(state=s.SLIP_STATE_DECLINED), metadata=as_manager).slips[0]
    slips.CancelSlip(s.ReasonRequest(request_id=str(uuid.uuid4()), slip_id=declined.id,
                                     reason="Customer fixed it themselves"), metadata=as_manager)
    expect(b.locator(".connection")).to_have_text("Live")
    expect(row(b, declined.ticket_number)).to_have_count(0)
    expect(row(b, ticket_number)).to_contain_text("Dispatched")
    step("after a server restart the board shows reconnecting, resumes, and shows what changed meanwhile")


def sign_out(a):
    a.get_by_role("button", name="Sign out").click()
    expect(a.get_by_label("API token", exact=True)).to_have_value("")
    expect(a.locator("table.slips")).to_have_count(0)
    step("signing out clears the session")


if __name__ == "__main__":
    main()
