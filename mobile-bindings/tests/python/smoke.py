"""Smoke test of the generated Python bindings: load the library, open a session, and see the
errors arrive typed. `cargo xtask python-bindings` runs it with the bindings on PYTHONPATH."""

import socket
import sys
import tempfile

import onsite_mobile as onsite

checks = []


def check(name, ok):
    checks.append(ok)
    print(("PASS " if ok else "FAIL ") + name)


def raises(kind, call):
    try:
        call()
    except kind as e:
        return e
    except Exception as e:  # noqa: BLE001 - any other error is a failed check
        print(f"  unexpected {type(e).__name__}: {e}")
    return None


with tempfile.TemporaryDirectory() as data:
    session = onsite.EngineerSession.open(onsite.SessionConfig(
        data_dir=data, device_label="python smoke", background_sync_seconds=None, sync_after_write=False))
    check("a new phone has no engineer", session.engineer_id() is None)
    check("and no slips", session.slips() == [])
    state = session.sync_state()
    check("nothing pending", state.pending_changes == 0 and state.last_error is None)
    check("sync before sign-in says so", raises(onsite.OnsiteError.NotSignedIn, session.sync) is not None)
    bad = raises(onsite.OnsiteError.Invalid, lambda: session.slips_for_day(2026, 2, 30))
    check("a bad date names the field", bad is not None and bad.field == "day")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    offline = raises(onsite.OnsiteError.Offline, lambda: session.sign_in(f"http://127.0.0.1:{port}", "onst_x"))
    check("no server means offline", offline is not None)
    missing = raises(onsite.OnsiteError.NotSignedIn, lambda: session.confirm("01900000-0000-7000-8000-000000000000"))
    check("actions need a signed-in engineer", missing is not None)

failed = checks.count(False)
print(f"python bindings: {len(checks) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
